//! The space document: one per group, shared by every member's devices.
//!
//! # Layout
//! Each file is one `impl SpaceDoc` block for one concept:
//! - `doc.rs`: the [`SpaceDoc`] struct, the schema header, create, load,
//!   save, merge, history (heads, changes), the space's name, and the
//!   one-change write (`transact`) every other write goes through.
//! - `members.rs`: members, roles, pseudonyms, leaving and removal, and the
//!   permission checks (`require_active`, `require_role`).
//! - `devices.rs`: adding and removing a member's devices; active and
//!   removed devices.
//! - `invites.rs`: recording, admitting with and withdrawing invites.
//! - `sessions.rs`: sessions, their status, weekly series ("this and
//!   following") and the space's time zone.
//! - `signups.rs`: sign-ups, freed places and the roster.
//! - `leads.rs`: offers to lead, decisions, cover leads, withdrawals,
//!   [`LeadStatus`] and clearance.
//! - `training.rs`: training records.
//! - `resources.rs`: the signposting directory.
//! - `member_list_past.rs`: which changes have every member-list write
//!   in their past, so the receive checks read the member list's current
//!   state for them instead of rebuilding a historical one.
//! - `reach.rs`: [`Reach`], what a change writes outside `members`, and
//!   what the document keeps knowing across changes that reach only
//!   named sessions (who leads them, which changed since last looked).
//! - `restore.rs`: [`Restore`] and [`Restored`], putting back what voided
//!   changes overwrote.
//! - `conflicts.rs`: concurrent edits to one field, per session, member or
//!   resource.
//!
//! The clearance warnings of [`super::readiness`] are one more `impl
//! SpaceDoc`, outside this directory because they read across sessions,
//! leads and training.
//!
//! # Schema (version 3, `SPACE_SCHEMA`)
//! ```text
//! ROOT
//! ├─ schema: uint                     // SPACE_SCHEMA
//! ├─ kind: "safespaces.space"
//! ├─ name: str
//! ├─ members:   { <member id>:   Member }
//! ├─ sessions:  { <session id>:  Session { …fields, leads: {…}, signups: {…} } }
//! ├─ training:  { <record id>:   TrainingRecord }
//! ├─ resources: { <resource id>: Resource }
//! └─ invites:   { <invite id>:   Invite }
//! ```
//! Every collection is a map keyed by a random id created when the space is
//! created, so concurrent additions on different devices never collide, and
//! every scalar field is its own key, so concurrent edits to different fields
//! both survive and concurrent edits to one field leave a visible conflict
//! (see [`super::conflict`]). Nothing derived (waitlist position, clearance)
//! is ever stored.
//!
//! # Writes
//! Every write method validates first, writes the affected keys only (with
//! autosurgeon's targeted `reconcile_prop`, never the whole document), and
//! commits one automerge change. A refused write rolls back and changes
//! nothing. Automerge change timestamps are left at zero: the document must
//! not record when someone was active.
//!
//! # Example: two leads offline, then merged
//! ```
//! use safespaces_core::model::{
//!     Role, SessionDraft, SessionKind, SignUp, SignUpState, SpaceDoc, TicketId, Timestamp,
//!     TrainingModule,
//! };
//!
//! let (mut a, coordinator) = SpaceDoc::create("Tuesday group", "Robin", Timestamp(0)).unwrap();
//! let ash = a.add_member(&coordinator, "Ash", Role::Lead, Timestamp(1)).unwrap();
//! for who in [&coordinator, &ash] {
//!     for module in TrainingModule::ALL {
//!         a.record_training(&coordinator, who, module, Timestamp(0), Timestamp(9_999)).unwrap();
//!     }
//! }
//! let draft = SessionDraft {
//!     kind: SessionKind::SurvivorDiscussionGroup,
//!     title: "Peer circle".into(),
//!     description: String::new(),
//!     starts_at: Timestamp(1_000),
//!     duration_minutes: 90,
//!     location: "shared with attendees".into(),
//!     capacity: 1,
//!     content_notes: vec!["discusses experiences of assault".into()],
//!     accessibility: String::new(),
//!     signups_close_before_minutes: None,
//! };
//! let session = a.create_session(&coordinator, draft, Timestamp(0)).unwrap();
//! // A coordinator's own offer is accepted at once; Ash's needs her.
//! a.volunteer_to_lead(&coordinator, &session, Timestamp(2)).unwrap();
//! a.volunteer_to_lead(&ash, &session, Timestamp(2)).unwrap();
//! a.decide_lead(&coordinator, &session, &ash, true, Timestamp(2)).unwrap();
//!
//! // Each lead records an attendee's signed statement offline, on their
//! // own device (protocol::attendance makes and checks the signatures).
//! let statement = |at| SignUp {
//!     state: SignUpState::Attending,
//!     at: Timestamp(at),
//!     recorded_at: Timestamp(30),
//!     counter: 1,
//!     key: String::new(),
//!     signature: String::new(),
//!     sealed: "sealed".into(),
//!     freed: false,
//! };
//! let mut b = a.fork();
//! let (early, late) = (TicketId::random(), TicketId::random());
//! a.record_signup(&coordinator, &session, &late, &statement(20)).unwrap();
//! b.record_signup(&ash, &session, &early, &statement(10)).unwrap();
//! a.merge(&mut b).unwrap();
//! b.merge(&mut a).unwrap();
//! assert_eq!(a.roster(&session).unwrap(), b.roster(&session).unwrap());
//! assert_eq!(a.roster(&session).unwrap().attending, vec![early]);
//! assert_eq!(a.roster(&session).unwrap().waitlist, vec![late]);
//! ```

mod conflicts;
mod devices;
mod doc;
mod invites;
mod leads;
mod member_list_past;
mod members;
mod reach;
mod resources;
mod restore;
mod sessions;
mod signups;
mod training;

pub use doc::{DeviceListing, DeviceListings, DeviceLookup, LookupAnswer, SPACE_SCHEMA, SpaceDoc};
pub use leads::LeadStatus;
pub use reach::Reach;
pub use restore::{Restore, Restored};

#[cfg(test)]
mod tests;
