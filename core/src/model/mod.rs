//! The CRDT model: automerge documents mapped with autosurgeon, and the rules
//! derived from them.
//!
//! # Layout
//! - [`space`]: the space document (one per group), one file per concept
//!   (members, devices, invites, sessions, sign-ups, leads, training,
//!   resources, restores, conflicts); its module doc lists what is where.
//! - [`invite`]: invites as recorded in the space (id, verifying key, used).
//! - [`member`]: members, roles, device keys.
//! - [`session`]: sessions, drafts and edits.
//! - [`series`]: weekly series, their occurrences in local time.
//! - [`zone`]: the space's time zone, for typing and reading times.
//! - [`waitlist`]: sign-ups and the attending list / waitlist derived from them.
//! - [`training`]: training records and the clearance to lead derived from them.
//! - [`readiness`]: planned sessions that will lack a cleared lead, and
//!   clearances about to lapse.
//! - [`signposting`]: the directory of places to find help.
//! - [`conflict`]: concurrent edits to one field, exposed rather than hidden.
//! - [`journal`]: the private journal document, whose deletes purge history.
//! - `document`: what both documents share (schema header, child maps);
//!   `history`: moving encoded changes between replicas of either.
//! - [`ids`], [`time`], [`error`]: identifiers, timestamps, errors.
//!
//! Everything here is deterministic and free of I/O: no clock (callers pass
//! `now`), no keys, no disk, no network. Rules that depend on the merged
//! state (who has a place, who is cleared to lead) are computed on read from
//! that state, never stored as one replica's decision.

pub mod conflict;
mod document;
pub mod error;
mod history;
pub mod ids;
pub mod invite;
pub mod journal;
pub mod member;
pub mod readiness;
pub mod series;
pub mod session;
pub mod signposting;
pub mod space;
pub mod time;
pub mod training;
pub mod waitlist;
pub mod zone;

pub use conflict::{ConflictValue, FieldConflict};
pub use error::{ModelError, ModelResult};
pub use ids::{DeviceId, EntryId, MemberId, RecordId, ResourceId, SeriesId, SessionId, TicketId};
pub use invite::{Invite, InviteState};
pub use journal::{JournalDoc, JournalEdit, JournalEntry};
pub use member::{DeviceKeys, Member, Role};
pub use readiness::{ClearanceWarning, ExpiringClearance};
pub use series::{MAX_OCCURRENCES, SeriesEnd, SeriesRule};
pub use session::{
    LeadOffer, LeadState, Session, SessionDraft, SessionEdit, SessionKind, SessionStatus,
};
pub use signposting::{Resource, ResourceCategory};
pub use space::{LeadStatus, Reach, Restore, Restored, SpaceDoc};
pub use time::Timestamp;
pub use training::{Clearance, TrainingModule, TrainingRecord, clearance};
pub use waitlist::{
    Place, Roster, SignUp, SignUpKey, SignUpState, SignUps, freed_key, parse_signup_key,
    statement_key,
};
pub use zone::SpaceZone;
