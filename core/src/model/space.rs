//! The space document: one per group, shared by every member's devices.
//!
//! # Schema (version 2)
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

use std::collections::BTreeMap;

use automerge::{
    AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value, transaction::Transactable,
};
use autosurgeon::{Hydrate, hydrate_prop, reconcile_prop};

use super::conflict::{FieldConflict, conflicts_in};
use super::error::{ModelError, ModelResult};
use super::ids::{DeviceId, MemberId, RecordId, ResourceId, SeriesId, SessionId, TicketId};
use super::invite::{Invite, InviteState};
use super::member::{DeviceKeys, Member, Role};
use super::series::{SeriesRule, occurrence_starts, shifted_start};
use super::session::{
    LeadOffer, LeadState, Session, SessionDraft, SessionEdit, SessionStatus, check_len,
};
use super::signposting::{Resource, ResourceCategory};
use super::time::Timestamp;
use super::training::{Clearance, TrainingModule, TrainingRecord, clearance};
use super::waitlist::{
    Place, Roster, SignUp, SignUpState, SignUps, derive_roster, freed_key, statement_key,
};
use super::zone::SpaceZone;

/// The newest space schema this build understands.
pub const SPACE_SCHEMA: u64 = 3;
const KIND: &str = "safespaces.space";

const MEMBERS: &str = "members";
const SESSIONS: &str = "sessions";
const TRAINING: &str = "training";
const RESOURCES: &str = "resources";
const INVITES: &str = "invites";

/// A session's lead volunteer with their clearance at the time asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadStatus {
    /// Who volunteered.
    pub member: MemberId,
    /// Their pseudonym (empty if they have since been removed from the space).
    pub pseudonym: String,
    /// When they volunteered.
    pub volunteered_at: Timestamp,
    /// Offered, accepted or declined.
    pub state: LeadState,
    /// Whether they are cleared to lead, and what is missing if not.
    pub clearance: Clearance,
}

/// A space document. Plain `&mut self` and synchronous: the profile layer
/// wraps it in a lock to make it `Send + Sync` for the FFI.
pub struct SpaceDoc {
    doc: AutoCommit,
}

impl std::fmt::Debug for SpaceDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print content: Debug output ends up in logs.
        f.debug_struct("SpaceDoc").finish_non_exhaustive()
    }
}

fn invalid(reason: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidDocument {
        kind: "space",
        reason: reason.to_string(),
    }
}

impl From<autosurgeon::HydrateError> for ModelError {
    fn from(err: autosurgeon::HydrateError) -> Self {
        invalid(err)
    }
}

impl From<autosurgeon::ReconcileError> for ModelError {
    fn from(err: autosurgeon::ReconcileError) -> Self {
        invalid(err)
    }
}

/// The child map at `key` of `parent`, if there is one.
/// A time as the document stores it (an integer), or `None`.
fn timestamp_value(value: &Value<'_>) -> Option<Timestamp> {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            automerge::ScalarValue::Int(t) => Some(Timestamp(*t)),
            automerge::ScalarValue::Uint(t) => i64::try_from(*t).ok().map(Timestamp),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn child_map(doc: &impl ReadDoc, parent: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(parent, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

/// Reads a schema header and refuses documents of another kind or a newer schema.
pub(crate) fn check_header(
    doc: &AutoCommit,
    kind: &'static str,
    expected_kind: &str,
    supported: u64,
) -> ModelResult<()> {
    let found_kind: String =
        hydrate_prop(doc, ROOT, "kind").map_err(|_| ModelError::InvalidDocument {
            kind,
            reason: "no document kind; not a Safe Spaces document".into(),
        })?;
    if found_kind != expected_kind {
        return Err(ModelError::InvalidDocument {
            kind,
            reason: format!("this is a {found_kind:?} document"),
        });
    }
    let schema: u64 =
        hydrate_prop(doc, ROOT, "schema").map_err(|e| ModelError::InvalidDocument {
            kind,
            reason: format!("bad schema version: {e}"),
        })?;
    if schema > supported {
        return Err(ModelError::UnsupportedSchema {
            kind,
            found: schema,
            supported,
        });
    }
    Ok(())
}

impl SpaceDoc {
    /// Creates a new space; its creator becomes its first coordinator.
    /// Returns the document and the creator's member id.
    pub fn create(
        name: &str,
        creator_pseudonym: &str,
        now: Timestamp,
    ) -> ModelResult<(Self, MemberId)> {
        Self::create_as(name, creator_pseudonym, &SpaceZone::utc(), now, None)
    }

    /// Creates a new space in one change, its *genesis*, written as the
    /// creator's `device` (its actor) and listing that device with its keys:
    /// the change a space's id is derived from (protocol::genesis).
    pub fn genesis(
        name: &str,
        creator_pseudonym: &str,
        zone: &SpaceZone,
        now: Timestamp,
        device: &DeviceId,
        keys: DeviceKeys,
    ) -> ModelResult<(Self, MemberId)> {
        Self::create_as(name, creator_pseudonym, zone, now, Some((device, keys)))
    }

    fn create_as(
        name: &str,
        creator_pseudonym: &str,
        zone: &SpaceZone,
        now: Timestamp,
        device: Option<(&DeviceId, DeviceKeys)>,
    ) -> ModelResult<(Self, MemberId)> {
        check_space_name(name)?;
        check_pseudonym(creator_pseudonym)?;
        let mut doc = AutoCommit::new();
        if let Some(actor) = device
            .as_ref()
            .and_then(|(d, _)| hex::decode(d.as_str()).ok())
        {
            doc.set_actor(automerge::ActorId::from(actor));
        }
        doc.put(ROOT, "kind", KIND)?;
        doc.put(ROOT, "schema", SPACE_SCHEMA)?;
        doc.put(ROOT, "name", name)?;
        doc.put(ROOT, "time_zone", zone.name())?;
        for collection in [MEMBERS, SESSIONS, TRAINING, RESOURCES, INVITES] {
            doc.put_object(ROOT, collection, ObjType::Map)?;
        }
        let mut space = SpaceDoc { doc };
        let creator = MemberId::random();
        let member = Member {
            pseudonym: creator_pseudonym.trim().to_string(),
            role: Role::Coordinator,
            joined_at: now,
            devices: device
                .map(|(d, keys)| (d.clone(), keys))
                .into_iter()
                .collect(),
            removed_at: None,
            invite: None,
        };
        let members = space.collection(MEMBERS)?;
        reconcile_prop(&mut space.doc, &members, creator.as_str(), &member)?;
        space.doc.commit();
        Ok((space, creator))
    }

    /// The hash of `actor`'s change with sequence number `seq`, if this
    /// replica holds it. Reads every change's metadata: for rare calls.
    pub fn change_of(&mut self, actor: &automerge::ActorId, seq: u64) -> Option<ChangeHash> {
        self.doc
            .get_changes_meta(&[])
            .into_iter()
            .find(|m| m.actor.as_ref() == actor && m.seq == seq)
            .map(|m| m.hash)
    }

    /// The sequence number and hash of this replica's newest change of its
    /// own actor, to attest it.
    pub fn last_own_change(&mut self) -> Option<(u64, ChangeHash)> {
        self.doc
            .get_last_local_change()
            .map(|c| (c.seq(), c.hash()))
    }

    /// Loads a saved space (the output of [`SpaceDoc::save`], optionally
    /// followed by incremental saves), refusing anything that is not a space.
    pub fn load(bytes: &[u8]) -> ModelResult<Self> {
        let doc = AutoCommit::load(bytes).map_err(invalid)?;
        Self::from_automerge(doc)
    }

    /// Wraps an automerge document after checking it is a space this build
    /// understands.
    pub fn from_automerge(doc: AutoCommit) -> ModelResult<Self> {
        check_header(&doc, "space", KIND, SPACE_SCHEMA)?;
        for collection in [MEMBERS, SESSIONS, TRAINING, RESOURCES, INVITES] {
            if child_map(&doc, &ROOT, collection).is_none() {
                return Err(invalid(format!("missing {collection}")));
            }
        }
        Ok(SpaceDoc { doc })
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes made since the last `save` or `save_incremental`.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    /// Applies the output of another replica's `save` or `save_incremental`.
    pub fn load_incremental(&mut self, bytes: &[u8]) -> ModelResult<()> {
        self.doc.load_incremental(bytes).map_err(invalid)?;
        Ok(())
    }

    /// Takes every change `other` has that this replica lacks.
    pub fn merge(&mut self, other: &mut SpaceDoc) -> ModelResult<()> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// A copy of this replica with a fresh actor id, as a second device
    /// would hold it.
    pub fn fork(&mut self) -> SpaceDoc {
        SpaceDoc {
            doc: self.doc.fork().with_actor(automerge::ActorId::random()),
        }
    }

    /// Makes this replica write as `actor`. Each device writes with its
    /// device id as actor (protocol.md §4), so receivers can check that a
    /// change came from the device that signed it.
    pub fn set_actor(&mut self, actor: automerge::ActorId) {
        self.doc.set_actor(actor);
    }

    /// The current heads: what this replica has seen.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Whether this replica already holds the change with `hash`.
    pub fn has_change(&self, hash: &ChangeHash) -> bool {
        // A lookup in the change graph; `get_change_by_hash` would rebuild
        // the change from the whole document.
        ReadDoc::get_missing_deps(&self.doc, std::slice::from_ref(hash)).is_empty()
    }

    /// Hashes of the changes this replica holds that are neither among
    /// `heads` nor causally before them (all changes for no heads). Reads
    /// change metadata only, never the operations.
    pub fn changes_after(&mut self, heads: &[ChangeHash]) -> std::collections::HashSet<ChangeHash> {
        self.doc
            .get_changes_meta(heads)
            .into_iter()
            .map(|m| m.hash)
            .collect()
    }

    /// Every change's hash with its dependencies, in the order the
    /// document stores them: the history's graph, for rules that need to
    /// know what came after what.
    pub fn change_graph(&mut self) -> Vec<(ChangeHash, Vec<ChangeHash>)> {
        self.doc
            .get_changes_meta(&[])
            .into_iter()
            .map(|m| (m.hash, m.deps))
            .collect()
    }

    /// Hashes of the changes by any of `actors` that are neither among
    /// `heads` nor causally before them.
    pub fn changes_after_by(
        &mut self,
        heads: &[ChangeHash],
        actors: &std::collections::HashSet<automerge::ActorId>,
    ) -> Vec<ChangeHash> {
        self.doc
            .get_changes_meta(heads)
            .into_iter()
            .filter(|m| actors.contains(m.actor.as_ref()))
            .map(|m| m.hash)
            .collect()
    }

    /// The lowest sequence number of `actor`'s changes that are not
    /// causally before `heads`, if it has any.
    pub fn first_seq_after(
        &mut self,
        heads: &[ChangeHash],
        actor: &automerge::ActorId,
    ) -> Option<u64> {
        self.doc
            .get_changes_meta(heads)
            .into_iter()
            .filter(|m| m.actor.as_ref() == actor)
            .map(|m| m.seq)
            .min()
    }

    /// The whole document as it was at `heads`, for the snapshot a
    /// rotation publishes under the epoch it leaves.
    pub fn save_at(&mut self, heads: &[ChangeHash]) -> ModelResult<Vec<u8>> {
        Ok(self.doc.fork_at(heads)?.save())
    }

    /// Encoded changes this replica has that a replica at `heads` lacks.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<Vec<u8>> {
        super::history::changes_since(&mut self.doc, heads)
    }

    /// Applies encoded changes from another replica, in any order: changes
    /// whose dependencies have not arrived yet wait inside automerge until
    /// they do. A malformed change is refused and nothing is applied.
    pub fn apply_changes(&mut self, changes: &[Vec<u8>]) -> ModelResult<()> {
        super::history::apply_changes(&mut self.doc, changes)
    }

    /// Applies changes already decoded (and checked) in one automerge call:
    /// much cheaper than several calls, each of which walks the document.
    pub fn apply_decoded(&mut self, changes: Vec<automerge::Change>) -> ModelResult<()> {
        self.doc.apply_changes(changes)?;
        Ok(())
    }

    /// The underlying automerge document, read-only, for the store and the
    /// sync layers.
    pub fn automerge(&self) -> &AutoCommit {
        &self.doc
    }

    // ----------------------------------------------------------------- reads

    /// The space's name.
    pub fn name(&self) -> ModelResult<String> {
        Ok(hydrate_prop(&self.doc, ROOT, "name")?)
    }

    /// The space's time zone. A document that names none, or one this
    /// build does not know, reads as UTC (see [`SpaceZone::from_stored`]).
    pub fn time_zone(&self) -> SpaceZone {
        match self.doc.get(ROOT, "time_zone") {
            Ok(Some((Value::Scalar(v), _))) => match &*v {
                automerge::ScalarValue::Str(name) => SpaceZone::from_stored(name),
                _ => SpaceZone::from_stored("?"),
            },
            _ => SpaceZone::utc(),
        }
    }

    /// The sessions of one series, by occurrence.
    pub fn series_sessions(&self, series: &SeriesId) -> ModelResult<Vec<(SessionId, Session)>> {
        let mut found: Vec<(SessionId, Session)> = self
            .sessions()?
            .into_iter()
            .filter(|(_, s)| s.series.as_ref() == Some(series))
            .collect();
        found.sort_by_key(|(id, s)| (s.occurrence, id.clone()));
        Ok(found)
    }

    /// Every member, including those who left (see [`Member::is_active`]),
    /// ordered by pseudonym.
    pub fn members(&self) -> ModelResult<Vec<(MemberId, Member)>> {
        let mut members: Vec<(MemberId, Member)> =
            self.hydrate_collection(MEMBERS)?.into_iter().collect();
        for (id, member) in &mut members {
            if member.removed_at.is_none() {
                member.removed_at = self.removal_written_over(id).or(self.lost_join(id, member));
            }
        }
        members.sort_by(|a, b| a.1.pseudonym.cmp(&b.1.pseudonym).then(a.0.cmp(&b.0)));
        Ok(members)
    }

    /// One member.
    pub fn member(&self, id: &MemberId) -> ModelResult<Member> {
        let mut member: Member = self
            .hydrate_item(MEMBERS, id.as_str())?
            .ok_or_else(|| ModelError::UnknownMember(id.to_string()))?;
        if member.removed_at.is_none() {
            let lost = self.lost_join(id, &member);
            member.removed_at = self.removal_written_over(id).or(lost);
        }
        Ok(member)
    }

    /// A joiner whose invite admitted someone else (a concurrent join with
    /// the same invite that automerge's order put first, on every replica)
    /// never became a member: counted as removed when they joined.
    fn lost_join(&self, id: &MemberId, member: &Member) -> Option<Timestamp> {
        let invite = member.invite.as_ref()?;
        match self.invite(invite) {
            Ok(Some(i)) if i.used_by.as_ref() == Some(id) && i.revoked_at.is_none() => None,
            _ => Some(member.joined_at),
        }
    }

    /// A removal time hidden behind a concurrent write of `removed_at`
    /// (automerge shows one value of a conflict): removal wins, so any
    /// value that is not null counts.
    fn removal_written_over(&self, id: &MemberId) -> Option<Timestamp> {
        let obj = self.item_obj(MEMBERS, id.as_str())?;
        self.doc
            .get_all(&obj, "removed_at")
            .ok()?
            .into_iter()
            .find_map(|(value, _)| timestamp_value(&value))
    }

    /// Every session, soonest first.
    pub fn sessions(&self) -> ModelResult<Vec<(SessionId, Session)>> {
        let mut sessions: Vec<(SessionId, Session)> =
            self.hydrate_collection(SESSIONS)?.into_iter().collect();
        sessions.sort_by(|a, b| a.1.starts_at.cmp(&b.1.starts_at).then(a.0.cmp(&b.0)));
        Ok(sessions)
    }

    /// One session.
    pub fn session(&self, id: &SessionId) -> ModelResult<Session> {
        self.hydrate_item(SESSIONS, id.as_str())?
            .ok_or_else(|| ModelError::UnknownSession(id.to_string()))
    }

    /// Who attends a session and who waits, by ticket, derived from the
    /// merged sign-ups. Everyone can count; only leads can tell who is who.
    pub fn roster(&self, session: &SessionId) -> ModelResult<Roster> {
        let session = self.session(session)?;
        Ok(derive_roster(
            &session.signups,
            session.capacity,
            session.created_at,
        ))
    }

    /// Where the holder of `ticket` stands for `session`.
    pub fn place(&self, session_id: &SessionId, ticket: &TicketId) -> ModelResult<Place> {
        let session = self.session(session_id)?;
        let roster = derive_roster(&session.signups, session.capacity, session.created_at);
        Ok(roster.place_of(ticket, &session.signups))
    }

    /// Whether `member` may see and record the sign-ups of `session`: an
    /// active member whose offer to lead it was accepted, cleared at its
    /// start. The same rule every device applies to incoming sign-up writes
    /// (protocol/authorship.rs), read here on the current state.
    pub fn is_session_lead(&self, session: &SessionId, member: &MemberId) -> ModelResult<bool> {
        Ok(self.recording_leads(session)?.contains(member))
    }

    /// The members who may record `session`'s sign-ups (see
    /// [`SpaceDoc::is_session_lead`]), in member-id order.
    pub fn recording_leads(&self, session: &SessionId) -> ModelResult<Vec<MemberId>> {
        let stored = self.session(session)?;
        let records = self.training_records()?;
        let mut out = Vec::new();
        for (id, offer) in &stored.leads {
            if !offer.is_accepted() || self.require_active(id).is_err() {
                continue;
            }
            if clearance(id, records.iter().map(|(_, r)| r), stored.starts_at).cleared {
                out.push(id.clone());
            }
        }
        Ok(out)
    }

    /// Every training record, oldest completion first.
    pub fn training_records(&self) -> ModelResult<Vec<(RecordId, TrainingRecord)>> {
        let mut records: Vec<(RecordId, TrainingRecord)> =
            self.hydrate_collection(TRAINING)?.into_iter().collect();
        records.sort_by(|a, b| a.1.completed_at.cmp(&b.1.completed_at).then(a.0.cmp(&b.0)));
        Ok(records)
    }

    /// Whether `member` is cleared to lead at `at`, derived from the records.
    pub fn clearance(&self, member: &MemberId, at: Timestamp) -> ModelResult<Clearance> {
        let records = self.training_records()?;
        Ok(clearance(member, records.iter().map(|(_, r)| r), at))
    }

    /// A session's lead volunteers, each with their clearance at `at`.
    pub fn session_leads(
        &self,
        session: &SessionId,
        at: Timestamp,
    ) -> ModelResult<Vec<LeadStatus>> {
        let session = self.session(session)?;
        let records = self.training_records()?;
        let members: BTreeMap<MemberId, Member> = self.members()?.into_iter().collect();
        let mut leads: Vec<LeadStatus> = session
            .leads
            .iter()
            .filter(|(id, _)| members.get(*id).is_some_and(Member::is_active))
            .map(|(id, offer)| LeadStatus {
                member: id.clone(),
                pseudonym: members
                    .get(id)
                    .map(|m| m.pseudonym.clone())
                    .unwrap_or_default(),
                volunteered_at: offer.volunteered_at,
                state: offer.state,
                clearance: clearance(id, records.iter().map(|(_, r)| r), at),
            })
            .collect();
        leads.sort_by(|a, b| {
            a.volunteered_at
                .cmp(&b.volunteered_at)
                .then(a.member.cmp(&b.member))
        });
        Ok(leads)
    }

    /// The signposting directory, optionally one category, crisis lines first.
    pub fn resources(
        &self,
        category: Option<ResourceCategory>,
    ) -> ModelResult<Vec<(ResourceId, Resource)>> {
        let mut resources: Vec<(ResourceId, Resource)> = self
            .hydrate_collection::<ResourceId, Resource>(RESOURCES)?
            .into_iter()
            .filter(|(_, r)| category.is_none_or(|c| r.category == c))
            .collect();
        resources.sort_by(|a, b| {
            a.1.category
                .cmp(&b.1.category)
                .then_with(|| a.1.name.cmp(&b.1.name))
                .then_with(|| a.0.cmp(&b.0))
        });
        Ok(resources)
    }

    /// Fields of a session that two devices changed concurrently, with every
    /// value, so an app can show them and let someone choose. Writing the
    /// field again (with [`SpaceDoc::edit_session`]) resolves the conflict.
    pub fn session_conflicts(&self, session: &SessionId) -> ModelResult<Vec<FieldConflict>> {
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        Ok(conflicts_in(&self.doc, &obj))
    }

    /// Fields of a member (pseudonym, role) that were changed concurrently.
    pub fn member_conflicts(&self, member: &MemberId) -> ModelResult<Vec<FieldConflict>> {
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or_else(|| ModelError::UnknownMember(member.to_string()))?;
        Ok(conflicts_in(&self.doc, &obj))
    }

    /// Fields of a resource that were changed concurrently.
    pub fn resource_conflicts(&self, resource: &ResourceId) -> ModelResult<Vec<FieldConflict>> {
        let obj = self
            .item_obj(RESOURCES, resource.as_str())
            .ok_or_else(|| ModelError::UnknownResource(resource.to_string()))?;
        Ok(conflicts_in(&self.doc, &obj))
    }

    // ---------------------------------------------------------------- writes

    /// Adds a member. Coordinators add members directly; the invite flow
    /// (protocol layer) uses this on the joiner's behalf once the invite is
    /// verified.
    pub fn add_member(
        &mut self,
        by: &MemberId,
        pseudonym: &str,
        role: Role,
        now: Timestamp,
    ) -> ModelResult<MemberId> {
        self.require_role(by, Role::Coordinator, "add members")?;
        check_pseudonym(pseudonym)?;
        let id = MemberId::random();
        let member = Member {
            pseudonym: pseudonym.trim().to_string(),
            role,
            joined_at: now,
            devices: BTreeMap::new(),
            removed_at: None,
            invite: None,
        };
        self.transact(|doc, cols| {
            reconcile_prop(doc, &cols.members, id.as_str(), &member)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Records an invite (its id and verifying key, never its secret).
    /// Coordinators may invite any role; leads may invite members.
    pub fn record_invite(
        &mut self,
        by: &MemberId,
        invite_id: &str,
        verifying_key: &str,
        role: Role,
        expires_at: Timestamp,
    ) -> ModelResult<()> {
        let inviter = self.require_role(by, Role::Lead, "invite people")?;
        if role != Role::Member && !inviter.role.at_least(Role::Coordinator) {
            return Err(ModelError::NotPermitted {
                action: "invite leads or coordinators",
                required: "coordinator",
            });
        }
        let invite = Invite {
            role,
            expires_at,
            created_by: by.clone(),
            verifying_key: verifying_key.to_string(),
            used_by: None,
            proof: None,
            revoked_at: None,
        };
        self.transact(|doc, cols| {
            if doc.get(&cols.invites, invite_id)?.is_some() {
                return Err(ModelError::InvalidInput {
                    field: "invite",
                    reason: "an invite with this id already exists".into(),
                });
            }
            reconcile_prop(doc, &cols.invites, invite_id, &invite)?;
            Ok(())
        })
    }

    /// The invite recorded under `invite_id`, if any.
    pub fn invite(&self, invite_id: &str) -> ModelResult<Option<Invite>> {
        self.hydrate_item(INVITES, invite_id)
    }

    /// Every invite the space records, by id.
    pub fn invites(&self) -> ModelResult<BTreeMap<String, Invite>> {
        self.hydrate_collection(INVITES)
    }

    /// Admits a joiner with a recorded invite: adds the member `id` (drawn
    /// by the joiner, who signed the proof over it and their device) with
    /// the invite's role and their device, marks the invite used and
    /// records the proof. Only the invite's creator admits, while it is
    /// open by her clock; every receiver checks the result
    /// (`protocol::authorship`, admissions).
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        by: &MemberId,
        invite_id: &str,
        id: &MemberId,
        proof: &str,
        pseudonym: &str,
        device: &DeviceId,
        keys: DeviceKeys,
        now: Timestamp,
    ) -> ModelResult<()> {
        check_pseudonym(pseudonym)?;
        self.require_active(by)?;
        let invite = self.recorded_invite(invite_id)?;
        if &invite.created_by != by {
            return Err(ModelError::NotPermitted {
                action: "admit with another member's invite",
                required: "the invite's creator",
            });
        }
        match invite.state(now) {
            InviteState::Open => {}
            InviteState::Used => return Err(ModelError::InviteUsed),
            InviteState::Revoked => return Err(ModelError::InviteRevoked),
            InviteState::Expired => return Err(ModelError::InviteExpired),
        }
        let member = Member {
            pseudonym: pseudonym.trim().to_string(),
            role: invite.role,
            joined_at: now,
            devices: [(device.clone(), keys)].into_iter().collect(),
            removed_at: None,
            invite: Some(invite_id.to_string()),
        };
        let invite_obj = self
            .item_obj(INVITES, invite_id)
            .ok_or_else(|| invalid("invite vanished"))?;
        self.transact(|doc, cols| {
            if doc.get(&cols.members, id.as_str())?.is_some() {
                return Err(ModelError::InvalidInput {
                    field: "member id",
                    reason: "already taken".into(),
                });
            }
            reconcile_prop(doc, &cols.members, id.as_str(), &member)?;
            reconcile_prop(doc, &invite_obj, "used_by", Some(id.clone()))?;
            doc.put(&invite_obj, "proof", proof)?;
            Ok(())
        })
    }

    /// Withdraws an unused invite. Its creator or a coordinator may; a
    /// join that did not see the revocation does not admit either.
    pub fn revoke_invite(
        &mut self,
        by: &MemberId,
        invite_id: &str,
        now: Timestamp,
    ) -> ModelResult<()> {
        let me = self.require_role(by, Role::Lead, "withdraw invites")?;
        let invite = self.recorded_invite(invite_id)?;
        if &invite.created_by != by && !me.role.at_least(Role::Coordinator) {
            return Err(ModelError::NotPermitted {
                action: "withdraw another member's invite",
                required: "coordinator",
            });
        }
        match invite.state(now) {
            InviteState::Used => return Err(ModelError::InviteUsed),
            InviteState::Revoked => return Ok(()),
            InviteState::Open | InviteState::Expired => {}
        }
        let invite_obj = self
            .item_obj(INVITES, invite_id)
            .ok_or_else(|| invalid("invite vanished"))?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &invite_obj, "revoked_at", Some(now))?;
            Ok(())
        })
    }

    /// Records one of a member's devices (its public keys). Only the member
    /// themselves adds their devices.
    pub fn add_device(
        &mut self,
        member: &MemberId,
        device: &DeviceId,
        keys: DeviceKeys,
    ) -> ModelResult<()> {
        self.require_active(member)?;
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or(ModelError::NotAMember)?;
        let devices = child_map(&self.doc, &obj, "devices")
            .ok_or_else(|| invalid("member without devices"))?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &devices, device.as_str(), &keys)?;
            Ok(())
        })
    }

    /// Removes one of `by`'s own devices (a lost or stolen phone): it stays
    /// listed, so what it signed before still verifies, but every device
    /// refuses what it writes from then on and no handover gives it the
    /// next epoch's key (protocol.md §6). Only the member removes her own
    /// devices: a coordinator who could would cut a member off from her
    /// own phone; a coordinator removes the member instead. Removing a
    /// device twice changes nothing.
    pub fn remove_device(
        &mut self,
        by: &MemberId,
        device: &DeviceId,
        now: Timestamp,
    ) -> ModelResult<()> {
        let member = self.require_active(by)?;
        if !member.devices.contains_key(device) {
            return Err(ModelError::InvalidInput {
                field: "device",
                reason: "not one of this member's devices".into(),
            });
        }
        if self.removed_devices(by).contains_key(device) {
            return Ok(());
        }
        let obj = self
            .item_obj(MEMBERS, by.as_str())
            .ok_or(ModelError::NotAMember)?;
        let key = super::member::removed_device_key(device);
        self.transact(|doc, _| {
            reconcile_prop(doc, &obj, key.as_str(), now)?;
            Ok(())
        })
    }

    /// The devices of `member` that were removed, with when (the earliest
    /// value written, also one that lost a concurrent write: a removal
    /// cannot be written over).
    pub fn removed_devices(&self, member: &MemberId) -> BTreeMap<DeviceId, Timestamp> {
        let mut out = BTreeMap::new();
        let Some(obj) = self.item_obj(MEMBERS, member.as_str()) else {
            return out;
        };
        for key in self.doc.keys(&obj) {
            let Some(device) = super::member::removed_device_of(&key) else {
                continue;
            };
            let at = self
                .doc
                .get_all(&obj, key.as_str())
                .ok()
                .and_then(|values| {
                    values
                        .into_iter()
                        .filter_map(|(value, _)| timestamp_value(&value))
                        .min()
                });
            if let Some(at) = at {
                out.insert(device, at);
            }
        }
        out
    }

    /// The devices of `member` that are not removed: the ones given keys
    /// and names, and whose writes count.
    pub fn active_devices(&self, member: &MemberId) -> ModelResult<BTreeMap<DeviceId, DeviceKeys>> {
        let removed = self.removed_devices(member);
        let mut devices = self.member(member)?.devices;
        devices.retain(|d, _| !removed.contains_key(d));
        Ok(devices)
    }

    /// Puts back what keys held before changes that removal voided
    /// (`protocol::removal::voided_authority`), in one change. Sign-up
    /// writes need `by` to lead their session; the others, a coordinator.
    pub fn restore(&mut self, by: &MemberId, writes: &[Restore]) -> ModelResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        for w in writes {
            match &w.signups_of {
                Some(session) if self.is_session_lead(session, by)? => {}
                Some(_) => {
                    return Err(ModelError::NotPermitted {
                        action: "take back a removed member's sign-up changes",
                        required: "a lead of the session",
                    });
                }
                None => {
                    self.require_role(
                        by,
                        Role::Coordinator,
                        "take back a removed member's changes",
                    )?;
                }
            }
        }
        self.transact(|doc, _| {
            for w in writes {
                match &w.value {
                    Some(v) => write_restored(doc, &w.obj, automerge::Prop::Map(w.key.clone()), v)?,
                    None => doc.delete(&w.obj, w.key.as_str())?,
                }
            }
            Ok(())
        })
    }

    /// Changes a member's role. Coordinators only; the last coordinator
    /// cannot be demoted.
    pub fn set_role(&mut self, by: &MemberId, member: &MemberId, role: Role) -> ModelResult<()> {
        self.require_role(by, Role::Coordinator, "change roles")?;
        let current = self.require_active(member)?;
        if current.role == Role::Coordinator && role != Role::Coordinator {
            self.ensure_other_coordinator(member)?;
        }
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or(ModelError::NotAMember)?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &obj, "role", role)?;
            Ok(())
        })
    }

    /// Changes the acting member's own pseudonym.
    pub fn set_pseudonym(&mut self, member: &MemberId, pseudonym: &str) -> ModelResult<()> {
        self.require_active(member)?;
        check_pseudonym(pseudonym)?;
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or(ModelError::NotAMember)?;
        self.transact(|doc, _| {
            doc.put(&obj, "pseudonym", pseudonym.trim())?;
            Ok(())
        })
    }

    /// Whether `by` may remove `member` (or leave, when they are the same)
    /// as things stand: what [`SpaceDoc::remove_member`] checks, asked
    /// before anything else of a departure is done.
    pub fn may_remove(&self, by: &MemberId, member: &MemberId) -> ModelResult<()> {
        if by != member {
            self.require_role(by, Role::Coordinator, "remove members")?;
        }
        let target = self.require_active(member)?;
        if target.role == Role::Coordinator {
            self.ensure_other_coordinator(member)?;
        }
        Ok(())
    }

    /// Removes a member (a coordinator removing someone) or leaves (a member
    /// removing themselves). The member stays in the document, marked
    /// removed, so their past changes still verify; they hold no places.
    pub fn remove_member(
        &mut self,
        by: &MemberId,
        member: &MemberId,
        now: Timestamp,
    ) -> ModelResult<()> {
        self.may_remove(by, member)?;
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or(ModelError::NotAMember)?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &obj, "removed_at", Some(now))?;
            Ok(())
        })
    }

    /// Plans a new session at `now`. Leads and coordinators only.
    pub fn create_session(
        &mut self,
        by: &MemberId,
        draft: SessionDraft,
        now: Timestamp,
    ) -> ModelResult<SessionId> {
        self.require_role(by, Role::Lead, "plan sessions")?;
        draft.validate()?;
        let id = SessionId::random();
        let session = Session {
            kind: draft.kind,
            title: draft.title.trim().to_string(),
            description: draft.description,
            starts_at: draft.starts_at,
            duration_minutes: draft.duration_minutes,
            location: draft.location,
            capacity: draft.capacity,
            content_notes: draft.content_notes,
            accessibility: draft.accessibility,
            status: SessionStatus::Planned,
            created_by: by.clone(),
            created_at: now,
            series: None,
            occurrence: None,
            signups_close_before_minutes: draft.signups_close_before_minutes,
            leads: BTreeMap::new(),
            signups: SignUps::default(),
        };
        self.transact(|doc, cols| {
            reconcile_prop(doc, &cols.sessions, id.as_str(), &session)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Changes the given fields of a session and only those. Leads and
    /// coordinators only.
    pub fn edit_session(
        &mut self,
        by: &MemberId,
        id: &SessionId,
        edit: SessionEdit,
    ) -> ModelResult<()> {
        self.require_role(by, Role::Lead, "edit sessions")?;
        edit.validate()?;
        let obj = self
            .item_obj(SESSIONS, id.as_str())
            .ok_or_else(|| ModelError::UnknownSession(id.to_string()))?;
        self.transact(|doc, _| write_edit(doc, &obj, &edit))
    }

    /// Plans a weekly series in one change: every occurrence is a session
    /// made now, from `draft` (whose start, in the space's time zone, fixes
    /// the weekday and local time), so no later write can duplicate one
    /// (docs/model.md). Leads and coordinators only. Returns the series and
    /// its sessions in order.
    pub fn create_series(
        &mut self,
        by: &MemberId,
        draft: SessionDraft,
        rule: SeriesRule,
        now: Timestamp,
    ) -> ModelResult<(SeriesId, Vec<SessionId>)> {
        self.require_role(by, Role::Lead, "plan sessions")?;
        draft.validate()?;
        let starts = occurrence_starts(draft.starts_at, rule, &self.time_zone())?;
        let series = SeriesId::random();
        let sessions: Vec<(SessionId, Session)> = starts
            .iter()
            .zip(0u32..)
            .map(|(start, index)| {
                let session = Session {
                    kind: draft.kind,
                    title: draft.title.trim().to_string(),
                    description: draft.description.clone(),
                    starts_at: *start,
                    duration_minutes: draft.duration_minutes,
                    location: draft.location.clone(),
                    capacity: draft.capacity,
                    content_notes: draft.content_notes.clone(),
                    accessibility: draft.accessibility.clone(),
                    status: SessionStatus::Planned,
                    created_by: by.clone(),
                    created_at: now,
                    series: Some(series.clone()),
                    occurrence: Some(index),
                    signups_close_before_minutes: draft.signups_close_before_minutes,
                    leads: BTreeMap::new(),
                    signups: SignUps::default(),
                };
                (SessionId::random(), session)
            })
            .collect();
        self.transact(|doc, cols| {
            for (id, session) in &sessions {
                reconcile_prop(doc, &cols.sessions, id.as_str(), session)?;
            }
            Ok(())
        })?;
        Ok((series, sessions.into_iter().map(|(id, _)| id).collect()))
    }

    /// Edits a session of a series and every later one ("this and
    /// following"), in one change. A new start moves each by the same
    /// number of local days to the same new local time. A session outside
    /// any series is edited alone. Returns the sessions edited.
    pub fn edit_series_from(
        &mut self,
        by: &MemberId,
        id: &SessionId,
        edit: SessionEdit,
    ) -> ModelResult<Vec<SessionId>> {
        self.require_role(by, Role::Lead, "edit sessions")?;
        edit.validate()?;
        let this = self.session(id)?;
        let zone = self.time_zone();
        let mut targets = Vec::new();
        for (other, session) in self.following(id, &this)? {
            let mut one = edit.clone();
            if let Some(to) = edit.starts_at {
                one.starts_at = Some(shifted_start(this.starts_at, to, session.starts_at, &zone)?);
            }
            let obj = self
                .item_obj(SESSIONS, other.as_str())
                .ok_or_else(|| ModelError::UnknownSession(other.to_string()))?;
            targets.push((other, obj, one));
        }
        self.transact(|doc, _| {
            for (_, obj, one) in &targets {
                write_edit(doc, obj, one)?;
            }
            Ok(())
        })?;
        Ok(targets.into_iter().map(|(id, _, _)| id).collect())
    }

    /// Cancels a session of a series and every later one still planned, in
    /// one change. Returns the sessions cancelled.
    pub fn cancel_series_from(
        &mut self,
        by: &MemberId,
        id: &SessionId,
    ) -> ModelResult<Vec<SessionId>> {
        self.require_role(by, Role::Lead, "cancel or complete sessions")?;
        let this = self.session(id)?;
        let mut targets = Vec::new();
        for (other, session) in self.following(id, &this)? {
            if session.status == SessionStatus::Planned {
                let obj = self
                    .item_obj(SESSIONS, other.as_str())
                    .ok_or_else(|| ModelError::UnknownSession(other.to_string()))?;
                targets.push((other, obj));
            }
        }
        self.transact(|doc, _| {
            for (_, obj) in &targets {
                reconcile_prop(doc, obj, "status", SessionStatus::Cancelled)?;
            }
            Ok(())
        })?;
        Ok(targets.into_iter().map(|(id, _)| id).collect())
    }

    /// This session and the later planned ones of its series, by
    /// occurrence (this one alone outside a series): what "this and
    /// following" acts on for leads.
    pub fn this_and_following(&self, id: &SessionId) -> ModelResult<Vec<SessionId>> {
        let this = self.session(id)?;
        Ok(self
            .following(id, &this)?
            .into_iter()
            .filter(|(other, s)| other == id || s.status == SessionStatus::Planned)
            .map(|(other, _)| other)
            .collect())
    }

    /// This session and the later ones of its series, by occurrence.
    fn following(&self, id: &SessionId, this: &Session) -> ModelResult<Vec<(SessionId, Session)>> {
        let Some(series) = &this.series else {
            return Ok(vec![(id.clone(), this.clone())]);
        };
        let from = this.occurrence.unwrap_or(0);
        Ok(self
            .series_sessions(series)?
            .into_iter()
            .filter(|(other, s)| other == id || s.occurrence.is_some_and(|o| o > from))
            .collect())
    }

    /// Sets the space's time zone. Coordinators only. Stored instants do
    /// not move: a session planned for 18:00 London stays at that instant.
    pub fn set_time_zone(&mut self, by: &MemberId, zone: &SpaceZone) -> ModelResult<()> {
        self.require_role(by, Role::Coordinator, "set the space's time zone")?;
        self.transact(|doc, _| {
            doc.put(ROOT, "time_zone", zone.name())?;
            Ok(())
        })
    }

    /// Cancels a session or marks it completed. Leads and coordinators only.
    pub fn set_session_status(
        &mut self,
        by: &MemberId,
        id: &SessionId,
        status: SessionStatus,
    ) -> ModelResult<()> {
        self.require_role(by, Role::Lead, "cancel or complete sessions")?;
        let obj = self
            .item_obj(SESSIONS, id.as_str())
            .ok_or_else(|| ModelError::UnknownSession(id.to_string()))?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &obj, "status", status)?;
            Ok(())
        })
    }

    /// Records a sign-up (or its cancellation) under its ticket, as a lead
    /// of the session does on receiving an attendance request
    /// (protocol::attendance). Only the session's recording leads write
    /// sign-ups: whoever writes an entry is visible to every member, so
    /// attendees never write their own. `signup` carries the attendee's
    /// signed statement, checked by the caller and by every device; a
    /// statement no newer than the recorded one is refused.
    pub fn record_signup(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        ticket: &TicketId,
        signup: &SignUp,
    ) -> ModelResult<()> {
        if !self.is_session_lead(session, by)? {
            return Err(ModelError::NotPermitted {
                action: "record sign-ups for this session",
                required: "accepted lead of this session, cleared at its start",
            });
        }
        let obj = match signup.state {
            SignUpState::Attending => self.open_session(session)?,
            SignUpState::Cancelled => self
                .item_obj(SESSIONS, session.as_str())
                .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?,
        };
        let signups = self.session_child(&obj, "signups")?;
        if let Some(existing) = self.stored_signup(&signups, ticket)? {
            if existing.counter >= signup.counter {
                return Err(ModelError::InvalidInput {
                    field: "sign-up",
                    reason: "an older request than the one recorded".into(),
                });
            }
            if existing.key != signup.key {
                return Err(ModelError::InvalidInput {
                    field: "sign-up",
                    reason: "signed with another key than the ticket's".into(),
                });
            }
        }
        // Only the new statement's key and the holder: statements are
        // never deleted or rewritten (protocol.md §4).
        self.transact(|doc, _| {
            doc.put(
                &signups,
                statement_key(ticket, signup.counter),
                signup.entry(),
            )?;
            doc.put(&signups, ticket.as_str(), signup.sealed.as_str())?;
            Ok(())
        })
    }

    /// Replaces the sealed holder of a sign-up (a lead re-sealing it to a
    /// new set of leads), leaving its state and place alone.
    pub fn reseal_signup(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        ticket: &TicketId,
        sealed: &str,
    ) -> ModelResult<()> {
        if !self.is_session_lead(session, by)? {
            return Err(ModelError::NotPermitted {
                action: "re-seal sign-ups for this session",
                required: "lead of this session",
            });
        }
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let signups = self.session_child(&obj, "signups")?;
        if self.stored_signup(&signups, ticket)?.is_none() {
            return Err(ModelError::InvalidInput {
                field: "ticket",
                reason: "no sign-up under this ticket".into(),
            });
        }
        self.transact(|doc, _| {
            doc.put(&signups, ticket.as_str(), sealed)?;
            Ok(())
        })
    }

    /// Frees the place a sign-up holds because its holder has left the
    /// space or was removed (protocol.md §7): a recording lead, who alone
    /// can open the holder, marks the ticket's newest statement. Every
    /// replica then reads it like a cancellation and the waitlist moves.
    /// The caller checks the holder; a mark on a member still here is
    /// undone by her own device, which asks again with her original time.
    pub fn free_signup(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        ticket: &TicketId,
    ) -> ModelResult<()> {
        if !self.is_session_lead(session, by)? {
            return Err(ModelError::NotPermitted {
                action: "free places in this session",
                required: "accepted lead of this session, cleared at its start",
            });
        }
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let signups = self.session_child(&obj, "signups")?;
        let Some(signup) = self.stored_signup(&signups, ticket)? else {
            return Err(ModelError::InvalidInput {
                field: "ticket",
                reason: "no sign-up under this ticket".into(),
            });
        };
        if signup.state != SignUpState::Attending || signup.freed {
            return Ok(());
        }
        self.transact(|doc, _| {
            doc.put(
                &signups,
                freed_key(ticket, signup.counter),
                signup.signature.as_str(),
            )?;
            Ok(())
        })
    }

    /// The stored sign-up under `ticket`, for a lead to open its sealed part.
    pub fn signup(&self, session: &SessionId, ticket: &TicketId) -> ModelResult<Option<SignUp>> {
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let signups = self.session_child(&obj, "signups")?;
        self.stored_signup(&signups, ticket)
    }

    /// `member` offers to lead a session. Anyone may offer; a coordinator's
    /// own offer is accepted at once (she may accept anyone's), everyone
    /// else's waits for a coordinator or an accepted lead of the session
    /// ([`SpaceDoc::decide_lead`]). Offering again after a decline re-opens
    /// the offer; offering while offered or accepted changes nothing.
    pub fn volunteer_to_lead(
        &mut self,
        member: &MemberId,
        session: &SessionId,
        now: Timestamp,
    ) -> ModelResult<()> {
        let me = self.require_active(member)?;
        let obj = self.open_session(session)?;
        let leads = self.session_child(&obj, "leads")?;
        let existing: Option<LeadOffer> = match self.doc.get(&leads, member.as_str())? {
            Some(_) => hydrate_prop(&self.doc, &leads, member.as_str()).ok(),
            None => None,
        };
        if existing
            .as_ref()
            .is_some_and(|o| o.state != LeadState::Declined)
        {
            return Ok(());
        }
        let coordinator = me.role.at_least(Role::Coordinator);
        let offer = LeadOffer {
            volunteered_at: now,
            state: if coordinator {
                LeadState::Accepted
            } else {
                LeadState::Offered
            },
            decided_by: coordinator.then(|| member.clone()),
            decided_at: coordinator.then_some(now),
        };
        self.transact(|doc, _| {
            match child_map(doc, &leads, member.as_str()) {
                // Re-offering after a decline: the same entry, so a decision
                // made concurrently on it is not lost with a replaced map.
                Some(entry) => {
                    reconcile_prop(doc, &entry, "volunteered_at", offer.volunteered_at)?;
                    reconcile_prop(doc, &entry, "state", offer.state)?;
                    reconcile_prop(doc, &entry, "decided_by", &offer.decided_by)?;
                    reconcile_prop(doc, &entry, "decided_at", offer.decided_at)?;
                }
                None => reconcile_prop(doc, &leads, member.as_str(), &offer)?,
            }
            Ok(())
        })
    }

    /// Accepts or declines `member`'s offer to lead `session`: a
    /// coordinator, or a lead already accepted for this session.
    pub fn decide_lead(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        member: &MemberId,
        accept: bool,
        now: Timestamp,
    ) -> ModelResult<()> {
        self.require_decider(by, session)?;
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let leads = self.session_child(&obj, "leads")?;
        let entry = child_map(&self.doc, &leads, member.as_str()).ok_or_else(|| {
            ModelError::InvalidInput {
                field: "lead",
                reason: "has not offered to lead this session".into(),
            }
        })?;
        let state = if accept {
            LeadState::Accepted
        } else {
            LeadState::Declined
        };
        self.transact(|doc, _| {
            reconcile_prop(doc, &entry, "state", state)?;
            reconcile_prop(doc, &entry, "decided_by", by)?;
            reconcile_prop(doc, &entry, "decided_at", now)?;
            Ok(())
        })
    }

    /// Names `member` as a lead of `session` (a cover lead), accepted at
    /// once: a coordinator, or a lead already accepted for this session.
    /// She can withdraw like any lead.
    pub fn name_lead(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        member: &MemberId,
        now: Timestamp,
    ) -> ModelResult<()> {
        self.require_decider(by, session)?;
        self.require_active(member)?;
        let obj = self.open_session(session)?;
        let leads = self.session_child(&obj, "leads")?;
        let offer = LeadOffer {
            volunteered_at: now,
            state: LeadState::Accepted,
            decided_by: Some(by.clone()),
            decided_at: Some(now),
        };
        self.transact(|doc, _| {
            match child_map(doc, &leads, member.as_str()) {
                Some(entry) => {
                    reconcile_prop(doc, &entry, "state", offer.state)?;
                    reconcile_prop(doc, &entry, "decided_by", &offer.decided_by)?;
                    reconcile_prop(doc, &entry, "decided_at", offer.decided_at)?;
                }
                None => reconcile_prop(doc, &leads, member.as_str(), &offer)?,
            }
            Ok(())
        })
    }

    /// Who may accept, decline or name leads of a session: an active
    /// coordinator, or an active lead already accepted for it.
    fn require_decider(&self, by: &MemberId, session: &SessionId) -> ModelResult<()> {
        let me = self.require_active(by)?;
        if me.role.at_least(Role::Coordinator) {
            return Ok(());
        }
        let stored = self.session(session)?;
        if stored.leads.get(by).is_some_and(LeadOffer::is_accepted) {
            return Ok(());
        }
        Err(ModelError::NotPermitted {
            action: "accept, decline or name leads of this session",
            required: "coordinator or accepted lead of this session",
        })
    }

    /// Withdraws from leading (the member's own offer), or stands a lead
    /// down (a coordinator, or another accepted lead of the session).
    pub fn withdraw_as_lead(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        member: &MemberId,
    ) -> ModelResult<()> {
        if by != member {
            self.require_decider(by, session)?;
        } else {
            self.require_active(by)?;
        }
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let leads =
            child_map(&self.doc, &obj, "leads").ok_or_else(|| invalid("session without leads"))?;
        if self.doc.get(&leads, member.as_str())?.is_none() {
            return Err(ModelError::InvalidInput {
                field: "lead",
                reason: "has not volunteered to lead this session".into(),
            });
        }
        self.transact(|doc, _| {
            doc.delete(&leads, member.as_str())?;
            Ok(())
        })
    }

    /// Records a completed training module. Coordinators only.
    pub fn record_training(
        &mut self,
        by: &MemberId,
        member: &MemberId,
        module: TrainingModule,
        completed_at: Timestamp,
        expires_at: Timestamp,
    ) -> ModelResult<RecordId> {
        self.require_role(by, Role::Coordinator, "record training")?;
        self.require_active(member)?;
        if expires_at <= completed_at {
            return Err(ModelError::InvalidInput {
                field: "expiry",
                reason: "training must expire after it was completed".into(),
            });
        }
        let id = RecordId::random();
        let record = TrainingRecord {
            member: member.clone(),
            module,
            completed_at,
            expires_at,
            recorded_by: by.clone(),
        };
        self.transact(|doc, cols| {
            reconcile_prop(doc, &cols.training, id.as_str(), &record)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Deletes a training record entered by mistake. Coordinators only.
    pub fn remove_training_record(&mut self, by: &MemberId, record: &RecordId) -> ModelResult<()> {
        self.require_role(by, Role::Coordinator, "remove training records")?;
        let training = self.collection(TRAINING)?;
        if self.doc.get(&training, record.as_str())?.is_none() {
            return Err(ModelError::UnknownRecord(record.to_string()));
        }
        self.transact(|doc, _| {
            doc.delete(&training, record.as_str())?;
            Ok(())
        })
    }

    /// Adds a resource to the signposting directory. Leads and coordinators.
    pub fn add_resource(&mut self, by: &MemberId, resource: Resource) -> ModelResult<ResourceId> {
        self.require_role(by, Role::Lead, "edit the signposting directory")?;
        resource.validate()?;
        let id = ResourceId::random();
        self.transact(|doc, cols| {
            reconcile_prop(doc, &cols.resources, id.as_str(), &resource)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Replaces a resource's fields; unchanged fields are not rewritten, so
    /// concurrent edits to different fields both survive.
    pub fn edit_resource(
        &mut self,
        by: &MemberId,
        id: &ResourceId,
        resource: Resource,
    ) -> ModelResult<()> {
        self.require_role(by, Role::Lead, "edit the signposting directory")?;
        resource.validate()?;
        let resources = self.collection(RESOURCES)?;
        if child_map(&self.doc, &resources, id.as_str()).is_none() {
            return Err(ModelError::UnknownResource(id.to_string()));
        }
        self.transact(|doc, _| {
            reconcile_prop(doc, &resources, id.as_str(), &resource)?;
            Ok(())
        })
    }

    /// Removes a resource from the directory. Leads and coordinators.
    pub fn remove_resource(&mut self, by: &MemberId, id: &ResourceId) -> ModelResult<()> {
        self.require_role(by, Role::Lead, "edit the signposting directory")?;
        let resources = self.collection(RESOURCES)?;
        if self.doc.get(&resources, id.as_str())?.is_none() {
            return Err(ModelError::UnknownResource(id.to_string()));
        }
        self.transact(|doc, _| {
            doc.delete(&resources, id.as_str())?;
            Ok(())
        })
    }

    /// Renames the space. Coordinators only.
    pub fn rename(&mut self, by: &MemberId, name: &str) -> ModelResult<()> {
        self.require_role(by, Role::Coordinator, "rename the space")?;
        check_space_name(name)?;
        self.transact(|doc, _| {
            doc.put(ROOT, "name", name.trim())?;
            Ok(())
        })
    }

    // --------------------------------------------------------------- helpers

    fn collection(&self, name: &str) -> ModelResult<ObjId> {
        child_map(&self.doc, &ROOT, name).ok_or_else(|| invalid(format!("missing {name}")))
    }

    fn item_obj(&self, collection: &str, key: &str) -> Option<ObjId> {
        let parent = child_map(&self.doc, &ROOT, collection)?;
        child_map(&self.doc, &parent, key)
    }

    fn hydrate_item<T: Hydrate>(&self, collection: &str, key: &str) -> ModelResult<Option<T>> {
        let parent = self.collection(collection)?;
        if self.doc.get(&parent, key)?.is_none() {
            return Ok(None);
        }
        Ok(Some(hydrate_prop(&self.doc, &parent, key)?))
    }

    /// Hydrates a whole collection, skipping entries another device wrote in
    /// a shape this build cannot read: one malformed session must not hide
    /// the signposting directory or every other session.
    fn hydrate_collection<K: From<String> + Ord, V: Hydrate>(
        &self,
        collection: &str,
    ) -> ModelResult<BTreeMap<K, V>> {
        let parent = self.collection(collection)?;
        let mut out = BTreeMap::new();
        for key in self.doc.keys(&parent) {
            if let Ok(value) = hydrate_prop::<_, V, _, _>(&self.doc, &parent, key.as_str()) {
                out.insert(K::from(key), value);
            }
        }
        Ok(out)
    }

    fn recorded_invite(&self, invite_id: &str) -> ModelResult<Invite> {
        self.invite(invite_id)?
            .ok_or_else(|| ModelError::InvalidInput {
                field: "invite",
                reason: "no such invite in this space".into(),
            })
    }

    fn require_active(&self, member: &MemberId) -> ModelResult<Member> {
        match self.member(member) {
            Ok(m) if m.is_active() => Ok(m),
            Ok(_) | Err(ModelError::UnknownMember(_)) => Err(ModelError::NotAMember),
            Err(e) => Err(e),
        }
    }

    fn require_role(
        &self,
        member: &MemberId,
        role: Role,
        action: &'static str,
    ) -> ModelResult<Member> {
        let m = self.require_active(member)?;
        if !m.role.at_least(role) {
            return Err(ModelError::NotPermitted {
                action,
                required: role.as_str(),
            });
        }
        Ok(m)
    }

    fn ensure_other_coordinator(&self, member: &MemberId) -> ModelResult<()> {
        let others = self
            .members()?
            .into_iter()
            .filter(|(id, m)| id != member && m.is_active() && m.role == Role::Coordinator)
            .count();
        if others == 0 {
            return Err(ModelError::LastCoordinator);
        }
        Ok(())
    }

    /// The object of a planned session, or why it cannot take sign-ups.
    /// Reads only the status, not the whole session: sign-ups are the
    /// hottest write path and a session may hold hundreds of them.
    fn open_session(&self, id: &SessionId) -> ModelResult<ObjId> {
        let obj = self
            .item_obj(SESSIONS, id.as_str())
            .ok_or_else(|| ModelError::UnknownSession(id.to_string()))?;
        let status: SessionStatus = hydrate_prop(&self.doc, &obj, "status")?;
        match status {
            SessionStatus::Planned => Ok(obj),
            other => Err(ModelError::SessionClosed(other.as_str())),
        }
    }

    /// The child map `key` of a session object.
    fn session_child(&self, session: &ObjId, key: &str) -> ModelResult<ObjId> {
        child_map(&self.doc, session, key).ok_or_else(|| invalid(format!("session without {key}")))
    }

    /// The stored sign-up under a ticket, if any.
    fn stored_signup(&self, signups: &ObjId, ticket: &TicketId) -> ModelResult<Option<SignUp>> {
        // Only this ticket's keys (`<ticket>` and `<ticket>.<counter>`;
        // '/' sorts right after '.'): recording stays cheap however many
        // sign-ups the session holds.
        let range = ticket.as_str().to_string()..format!("{}/", ticket.as_str());
        let pairs: Vec<(String, String)> = self
            .doc
            .map_range(signups, range)
            .filter_map(|item| match item.value {
                automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => {
                    Some((item.key.to_string(), s.to_string()))
                }
                _ => None,
            })
            .collect();
        let all = SignUps::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Ok(all.0.get(ticket).cloned())
    }

    /// Runs `write` and commits it as one change, or rolls everything back.
    fn transact(
        &mut self,
        write: impl FnOnce(&mut AutoCommit, &Collections) -> ModelResult<()>,
    ) -> ModelResult<()> {
        let cols = Collections {
            invites: self.collection(INVITES)?,
            members: self.collection(MEMBERS)?,
            sessions: self.collection(SESSIONS)?,
            training: self.collection(TRAINING)?,
            resources: self.collection(RESOURCES)?,
        };
        match write(&mut self.doc, &cols) {
            Ok(()) => {
                self.doc.commit();
                Ok(())
            }
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }
}

/// Writes the fields an edit names, and only those.
fn write_edit(doc: &mut AutoCommit, obj: &ObjId, edit: &SessionEdit) -> ModelResult<()> {
    if let Some(kind) = edit.kind {
        reconcile_prop(doc, obj, "kind", kind)?;
    }
    if let Some(title) = &edit.title {
        doc.put(obj, "title", title.trim())?;
    }
    if let Some(text) = &edit.description {
        doc.put(obj, "description", text.as_str())?;
    }
    if let Some(at) = edit.starts_at {
        reconcile_prop(doc, obj, "starts_at", at)?;
    }
    if let Some(minutes) = edit.duration_minutes {
        reconcile_prop(doc, obj, "duration_minutes", minutes)?;
    }
    if let Some(text) = &edit.location {
        doc.put(obj, "location", text.as_str())?;
    }
    if let Some(capacity) = edit.capacity {
        reconcile_prop(doc, obj, "capacity", capacity)?;
    }
    if let Some(notes) = &edit.content_notes {
        reconcile_prop(doc, obj, "content_notes", notes)?;
    }
    if let Some(text) = &edit.accessibility {
        doc.put(obj, "accessibility", text.as_str())?;
    }
    if let Some(minutes) = edit.signups_close_before_minutes {
        reconcile_prop(doc, obj, "signups_close_before_minutes", Some(minutes))?;
    }
    Ok(())
}

/// One key put back to what it held before a voided change.
#[derive(Clone, Debug, PartialEq)]
pub struct Restore {
    /// The map.
    pub obj: ObjId,
    /// The key in it.
    pub key: String,
    /// The value it held, `None` if it did not exist (the voided change
    /// made it).
    pub value: Option<Restored>,
    /// For a write under a session's sign-ups, that session: only its
    /// leads may write there.
    pub signups_of: Option<SessionId>,
}

/// A value as it was, to write again: a scalar, or a map or list rebuilt
/// with its contents (a resource the voided change deleted).
#[derive(Clone, Debug, PartialEq)]
pub enum Restored {
    /// A scalar.
    Scalar(automerge::ScalarValue),
    /// A map and what it held.
    Map(Vec<(String, Restored)>),
    /// A list and what it held.
    List(Vec<Restored>),
}

fn write_restored(
    doc: &mut AutoCommit,
    obj: &ObjId,
    prop: automerge::Prop,
    value: &Restored,
) -> Result<(), automerge::AutomergeError> {
    let made = match (value, &prop) {
        (Restored::Scalar(v), automerge::Prop::Map(k)) => {
            doc.put(obj, k.as_str(), v.clone())?;
            None
        }
        (Restored::Scalar(v), automerge::Prop::Seq(i)) => {
            doc.insert(obj, *i, v.clone())?;
            None
        }
        (Restored::Map(_), automerge::Prop::Map(k)) => {
            Some(doc.put_object(obj, k.as_str(), ObjType::Map)?)
        }
        (Restored::List(_), automerge::Prop::Map(k)) => {
            Some(doc.put_object(obj, k.as_str(), ObjType::List)?)
        }
        (Restored::Map(_), automerge::Prop::Seq(i)) => {
            Some(doc.insert_object(obj, *i, ObjType::Map)?)
        }
        (Restored::List(_), automerge::Prop::Seq(i)) => {
            Some(doc.insert_object(obj, *i, ObjType::List)?)
        }
    };
    match (value, made) {
        (Restored::Map(entries), Some(child)) => {
            for (k, v) in entries {
                write_restored(doc, &child, automerge::Prop::Map(k.clone()), v)?;
            }
        }
        (Restored::List(items), Some(child)) => {
            for (i, v) in items.iter().enumerate() {
                write_restored(doc, &child, automerge::Prop::Seq(i), v)?;
            }
        }
        _ => {}
    }
    Ok(())
}

struct Collections {
    invites: ObjId,
    members: ObjId,
    sessions: ObjId,
    training: ObjId,
    resources: ObjId,
}

fn check_space_name(name: &str) -> ModelResult<()> {
    if name.trim().is_empty() {
        return Err(ModelError::InvalidInput {
            field: "space name",
            reason: "a space needs a name".into(),
        });
    }
    check_len("space name", name, 100)
}

fn check_pseudonym(pseudonym: &str) -> ModelResult<()> {
    if pseudonym.trim().is_empty() {
        return Err(ModelError::InvalidInput {
            field: "pseudonym",
            reason: "choose a name to be known by in this space (it need not be your real name)"
                .into(),
        });
    }
    check_len("pseudonym", pseudonym, 64)
}

#[cfg(test)]
#[path = "space_tests.rs"]
mod tests;
