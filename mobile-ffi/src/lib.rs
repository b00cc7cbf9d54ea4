//! The uniffi layer over `safespaces-core`: what the iOS and Android apps
//! call. It stays thin: every rule lives in core; this crate only names
//! things for the foreign side and converts types.
//!
//! # Layout
//! - [`SafeSpaces`] (`app.rs`): a profile's life cycle (create, open,
//!   unlock, lock, wipe, restore), its keys (passphrase, keystore secret,
//!   duress passphrase, attempt limit, backups), its spaces, invites and
//!   offline bundles.
//! - [`UnlockSecret`], [`ProfileOptions`] (`secret.rs`): what opens a profile
//!   and the test-only scrypt cost.
//! - [`Space`] (`space.rs`): one space; its records live next to the concept
//!   they describe: `members.rs`, `sessions.rs`, `attendance.rs`,
//!   `training.rs`, `signposting.rs`, `series.rs` (the space's time zone
//!   and weekly series: [`TimeZoneInfo`], [`SeriesRule`], [`SeriesPlan`]),
//!   `invites.rs` (invites and joining:
//!   [`Invitation`], [`InviteStatus`], [`InviteState`], [`JoinRequestFile`],
//!   [`PendingJoin`]).
//! - [`Journal`] (`journal.rs`): the private journal and its export.
//! - [`DeviceInfo`] (`devices.rs`): the person's own devices, naming them,
//!   removing a lost one.
//! - [`RelayClient`], [`RelaySettings`], [`RelayTrust`], [`AccessToken`],
//!   [`SyncStatus`], [`SyncStatusListener`] (`relay.rs`): the connection to
//!   a relay (pins, CA or web PKI; the operator's token), its status, and
//!   the FFI's one tokio runtime for background work.
//! - `sync.rs`: the async calls that talk to the relay (`sync`,
//!   `joinViaRelay`, `publishInvite`) and [`SyncReport`] (with [`SpaceSyncFailure`]).
//! - [`SequenceAlert`], [`SequenceStatus`] (`sequences.rs`): what a space's
//!   envelope numbers say, in a sync report and for the space.
//! - [`LinkOffer`], [`PendingLink`] (`linking.rs`): linking a new device
//!   through the relay, confirmed on the old one by its fingerprint.
//! - [`SpaceListener`], [`LiveSync`] (`live.rs`): live updates and the
//!   handle that stops them.
//! - [`SyncProgressListener`], [`SyncProgress`], [`ProgressSubscription`]
//!   (`progress.rs`): sync progress for a progress bar and the handle that
//!   stops it.
//! - [`Logger`], [`LogRecord`], [`LogLevel`], [`install_logger`],
//!   [`LoggerHandle`] (`logging.rs`): core's content-free `tracing` events
//!   forwarded to the app's logger.
//! - [`SafeSpacesError`] (`error.rs`): the one error the foreign side sees.
//! - `convert.rs`: converting lists of core's values to the exported ones.
//! - `time.rs`: the two conversions between the foreign side's instants
//!   (`SystemTime`) and core's whole seconds (`Timestamp`).
//! - `memory.rs`: the zero-on-free global allocator, so what a lock drops
//!   is not left readable in freed memory.
//!
//! # Shapes across the boundary
//! Ids are strings (16 hex digits; a space id 32). Instants are
//! `SystemTime` (`java.time.Instant` in Kotlin, `Date` in Swift, an aware
//! `datetime` in Python), never bare seconds, so an app cannot pass
//! milliseconds by mistake; core keeps whole seconds (`time.rs`). They are
//! shown and typed in the space's own time zone through `Space.showTime`,
//! `Space.localTime` and `Space.parseLocalTime`; bytes are `Vec<u8>` (`ByteArray` in Kotlin,
//! `Data` in Swift, `bytes` in Python). Every object wraps
//! `inner: Arc<core thing>` and its methods forward in one line. The caller
//! passes "now" wherever a rule depends on time, as core does, so the app
//! decides which clock to trust.
//!
//! Bindings are generated in library mode by the workspace's
//! `uniffi-bindgen` binary; see `docs/mobile.md`.
//!
//! # Unsafe code
//! `#![forbid(unsafe_code)]` holds for everything written here. The FFI
//! functions uniffi generates are `unsafe extern "C"` with
//! `#[unsafe(no_mangle)]`, but rustc does not report the `unsafe_code` lint
//! inside expansions of another crate's macros, so `setup_scaffolding!` and
//! the derives compile under the workspace-wide `forbid` (the build checks
//! it: an `unsafe` block written in this crate is refused).
#![forbid(unsafe_code)]

mod app;
mod attendance;
mod convert;
mod devices;
mod error;
mod invites;
mod journal;
mod linking;
mod live;
mod logging;
mod members;
mod memory;
mod progress;
mod relay;
mod secret;
mod sequences;
mod series;
mod sessions;
mod signposting;
mod space;
mod sync;
mod time;
mod training;

pub use app::{SafeSpaces, SpaceSummary, generate_keystore_secret, profile_exists};
pub use attendance::{Attendee, BlockedReason, MyPlace, Place, RosterView, SignUpState};
pub use devices::DeviceInfo;
pub use error::SafeSpacesError;
pub use invites::{
    BundleReport, Invitation, InviteState, InviteStatus, JoinRequestFile, PendingJoin,
};
pub use journal::{Journal, JournalEdit, JournalEntry, JournalFormat};
pub use linking::{LinkOffer, PendingLink};
pub use live::{LiveSync, SpaceListener};
pub use logging::{LogLevel, LogRecord, Logger, LoggerHandle, install_logger};
pub use members::{Member, Role};
pub use progress::{ProgressSubscription, SyncProgress, SyncProgressListener};
pub use relay::{
    AccessToken, RelayClient, RelaySettings, RelayTrust, StatusSubscription, SyncStatus,
    SyncStatusListener,
};
pub use secret::{KeystoreAction, KeystoreChange, PassphraseWork, ProfileOptions, UnlockSecret};
pub use sequences::{SequenceAlert, SequenceStatus};
pub use series::{SeriesPlan, SeriesRule, TimeZoneInfo};
pub use sessions::{
    ClearanceWarning, ConflictValue, ExpiringClearance, FieldConflict, LeadState, LeadStatus,
    Session, SessionDraft, SessionEdit, SessionKind, SessionStatus,
};
pub use signposting::{Resource, ResourceCategory, ResourceEntry};
pub use space::Space;
pub use sync::{SpaceSyncFailure, SyncReport};
pub use training::{Clearance, TrainingModule, TrainingRecord};

uniffi::setup_scaffolding!();
