//! The space document itself: its schema header, creating, loading,
//! saving and merging it, its history (heads and changes), its name, and
//! the reads and the one-change write every other part of it is built on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use automerge::{
    AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value, transaction::Transactable,
};
use autosurgeon::{Hydrate, hydrate_prop, reconcile_prop};

use super::member_list_past::MemberListPast;
use super::reach::{ChangedSessions, Reach};
use crate::model::document::{check_header, child_map};
use crate::model::error::{ModelError, ModelResult};
use crate::model::history;
use crate::model::ids::{DeviceId, MemberId, SessionId};
use crate::model::member::{DeviceKeys, Member, Role};
use crate::model::session::check_len;
use crate::model::time::Timestamp;
use crate::model::zone::SpaceZone;

/// The newest space schema this build understands.
pub const SPACE_SCHEMA: u64 = 3;
const KIND: &str = "safespaces.space";

pub(super) const MEMBERS: &str = "members";
pub(super) const SESSIONS: &str = "sessions";
pub(super) const TRAINING: &str = "training";
pub(super) const RESOURCES: &str = "resources";
pub(super) const INVITES: &str = "invites";

/// A space document. Plain `&mut self` and synchronous: the profile layer
/// wraps it in a lock to make it `Send + Sync` for the FFI.
pub struct SpaceDoc {
    pub(super) doc: AutoCommit,
    /// Lookups of the member list in the current state, kept until the
    /// document next changes in a way that may touch it.
    lookups: Mutex<DeviceLookups>,
    /// Members as [`SpaceDoc::member`] reads them (removal included), in
    /// the current state: every local write checks its writer's role, and
    /// hydrating the member (devices and keys) and their invite was a
    /// sixth of an edit. Kept across changes that write neither `members`
    /// nor `invites` (what a member's standing is read from).
    pub(super) member_records: Mutex<HashMap<MemberId, Member>>,
    /// The sessions each member leads ([`SpaceDoc::sessions_led_by`]) in
    /// the current state, kept across changes that reach only named
    /// sessions (updated for those), forgotten by any other.
    pub(super) led: Mutex<HashMap<MemberId, Vec<crate::model::ids::SessionId>>>,
    /// The sessions changed since [`SpaceDoc::take_changed_sessions`]
    /// last looked.
    changed: ChangedSessions,
    /// Which changes have every member-list write in their past, so the
    /// receive checks can read the member list's current state for them.
    member_list_past: MemberListPast,
    /// What the next [`SpaceDoc::save_incremental`] writes, when the
    /// changes taken since the last save are known without asking
    /// automerge to rebuild them from its op set.
    unsaved: Unsaved,
    /// Tests only: never take the shortcut, to compare decisions with it
    /// and without it.
    #[cfg(test)]
    read_every_causal_point: bool,
}

/// What the receive checks look up about a device in the member list as
/// it stands now: every device's listings (one walk over every member's
/// device map, shared by all devices), and per device who it writes as,
/// its signing key (hex), whether that member's entry marks it removed,
/// and that member's role. Read for every envelope (the last two for
/// every change); remembered here, a burst of envelopes pays each once.
/// Forgotten by every write, load and merge, by every apply except
/// [`SpaceDoc::apply_decoded_within`], and by one of those that writes
/// invites (a member's role rests on the invite that admitted her).
#[derive(Debug, Default)]
struct DeviceLookups {
    listings: Option<std::sync::Arc<DeviceListings>>,
    member: HashMap<DeviceId, Option<MemberId>>,
    signing_key: HashMap<DeviceId, Option<String>>,
    removed: HashMap<DeviceId, bool>,
    role: HashMap<DeviceId, Option<Role>>,
}

/// One member entry that lists a device (`members/<member>/devices/<device>`),
/// with the keys it lists as stored: the entry is read as the receive
/// checks read it, without parsing (a listing whose keys differ from
/// another's belongs to nobody).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceListing {
    /// The member whose entry lists the device.
    pub member: MemberId,
    /// The entry's `signing_key` and `age_recipient`, as text if they are.
    pub keys: (Option<String>, Option<String>),
}

/// Every device a member list names, with the entries that list it in
/// member-id order ([`SpaceDoc::remembered_listings`]).
pub type DeviceListings = HashMap<DeviceId, Vec<DeviceListing>>;

/// Which remembered lookup of a device ([`SpaceDoc::remembered`]).
#[derive(Clone, Copy, Debug)]
pub enum DeviceLookup {
    /// The member it writes as.
    Member,
    /// Its signing key as the member list records it (hex).
    SigningKey,
    /// Whether the entry of the member it writes as marks it removed.
    Removed,
    /// The role of the member it writes as.
    Role,
}

/// A remembered lookup's answer ([`SpaceDoc::remembered`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupAnswer {
    /// For [`DeviceLookup::Member`].
    Member(Option<MemberId>),
    /// For [`DeviceLookup::SigningKey`].
    SigningKey(Option<String>),
    /// For [`DeviceLookup::Removed`].
    Removed(bool),
    /// For [`DeviceLookup::Role`]: `None` when that member is not one
    /// (removed, or admitted by an invite that does not show her).
    Role(Option<Role>),
}

impl std::fmt::Debug for SpaceDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print content: Debug output ends up in logs.
        f.debug_struct("SpaceDoc").finish_non_exhaustive()
    }
}

/// A malformed space: what another device wrote cannot be read as one.
pub(super) fn invalid(reason: impl std::fmt::Display) -> ModelError {
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

/// A time as the document stores it (an integer), or `None`.
pub(super) fn timestamp_value(value: &Value<'_>) -> Option<Timestamp> {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            automerge::ScalarValue::Int(t) => Some(Timestamp(*t)),
            automerge::ScalarValue::Uint(t) => i64::try_from(*t).ok().map(Timestamp),
            _ => None,
        },
        _ => None,
    }
}

/// The collections' objects, looked up once per write.
pub(super) struct Collections {
    pub(super) invites: ObjId,
    pub(super) members: ObjId,
    pub(super) sessions: ObjId,
    pub(super) training: ObjId,
    pub(super) resources: ObjId,
}

/// Refuses an empty or overlong space name.
fn check_space_name(name: &str) -> ModelResult<()> {
    if name.trim().is_empty() {
        return Err(ModelError::InvalidInput {
            field: "space name",
            reason: "a space needs a name".into(),
        });
    }
    check_len("space name", name, 100)
}

/// Refuses an empty or overlong pseudonym.
pub(super) fn check_pseudonym(pseudonym: &str) -> ModelResult<()> {
    if pseudonym.trim().is_empty() {
        return Err(ModelError::InvalidInput {
            field: "pseudonym",
            reason: "choose a name to be known by in this space (it need not be your real name)"
                .into(),
        });
    }
    check_len("pseudonym", pseudonym, 64)
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
        let mut space = SpaceDoc::wrap(doc);
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
        space.restart_member_list_past();
        Ok((space, creator))
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
        Ok(SpaceDoc::wrap(doc))
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        let bytes = self.doc.save();
        self.unsaved.saved(&mut self.doc);
        bytes
    }

    /// The changes made since the last `save` or `save_incremental`.
    ///
    /// automerge (0.12) rebuilds the changes after a cursor from its whole
    /// op set, a walk that grows with the document; a live device receives
    /// a batch at a time and saves after each, and that walk was a sixteenth
    /// of its CPU. The received changes' own bytes are kept instead
    /// ([`Unsaved`]), and used only when the document holds exactly the
    /// changes it held at the last save plus those: anything else (a local
    /// write, a load, a merge) makes automerge rebuild them, as before.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        // Closes a write still open, as automerge's own save would.
        self.doc.get_heads();
        let bytes = match self.unsaved.take_known(&self.doc) {
            Some(bytes) => {
                #[cfg(test)]
                self.unsaved.check_against_automerge(&mut self.doc);
                bytes
            }
            None => self.doc.save_after(&self.unsaved.saved_heads),
        };
        self.unsaved.saved(&mut self.doc);
        bytes
    }

    /// [`SpaceDoc::save_incremental`], handing the bytes to `write`; if it
    /// fails, the save is undone, so the next one holds those changes
    /// again: a write refused (a full disk) loses nothing, and memory
    /// never counts as saved what the disk does not hold. `write` gets the
    /// document back, for a whole save when compaction is due.
    pub fn save_incremental_then<E>(
        &mut self,
        write: impl FnOnce(&[u8], &mut SpaceDoc) -> Result<(), E>,
    ) -> Result<(), E> {
        let point = (self.unsaved.saved_heads.clone(), self.unsaved.saved_count);
        let bytes = self.save_incremental();
        let written = write(&bytes, self);
        if written.is_err() {
            // Going back further than needed is harmless: a change saved
            // twice loads once.
            self.unsaved.undo_to(point.0, point.1);
        }
        written
    }

    /// Applies the output of another replica's `save` or `save_incremental`.
    pub fn load_incremental(&mut self, bytes: &[u8]) -> ModelResult<()> {
        self.forget_lookups();
        let loaded = self.doc.load_incremental(bytes).map_err(invalid);
        self.restart_member_list_past();
        loaded?;
        Ok(())
    }

    /// Takes every change `other` has that this replica lacks.
    pub fn merge(&mut self, other: &mut SpaceDoc) -> ModelResult<()> {
        self.forget_lookups();
        let merged = self.doc.merge(&mut other.doc);
        self.restart_member_list_past();
        merged?;
        Ok(())
    }

    /// A copy of this replica with a fresh actor id, as a second device
    /// would hold it.
    pub fn fork(&mut self) -> SpaceDoc {
        SpaceDoc::wrap(self.doc.fork().with_actor(automerge::ActorId::random()))
    }

    fn wrap(mut doc: AutoCommit) -> SpaceDoc {
        // Asking for the heads would commit a write still open (genesis
        // commits its own, once complete).
        let member_list_past = if doc.pending_ops() == 0 {
            MemberListPast::starting_at(doc.get_heads())
        } else {
            MemberListPast::not_known()
        };
        SpaceDoc {
            doc,
            member_list_past,
            #[cfg(test)]
            read_every_causal_point: false,
            lookups: Mutex::new(DeviceLookups::default()),
            unsaved: Unsaved::default(),
            member_records: Mutex::new(HashMap::new()),
            led: Mutex::new(HashMap::new()),
            changed: ChangedSessions::Any,
        }
    }

    /// The answer to `lookup` for `device` in the current state: the
    /// remembered one, or `compute`'s, remembered until the member list
    /// may have changed. `compute` must read the current state only.
    pub fn remembered(
        &self,
        lookup: DeviceLookup,
        device: &DeviceId,
        compute: impl FnOnce() -> LookupAnswer,
    ) -> LookupAnswer {
        let known = {
            let lookups = self.lookups.lock().unwrap_or_else(|p| p.into_inner());
            match lookup {
                DeviceLookup::Member => lookups
                    .member
                    .get(device)
                    .cloned()
                    .map(LookupAnswer::Member),
                DeviceLookup::SigningKey => lookups
                    .signing_key
                    .get(device)
                    .cloned()
                    .map(LookupAnswer::SigningKey),
                DeviceLookup::Removed => lookups
                    .removed
                    .get(device)
                    .copied()
                    .map(LookupAnswer::Removed),
                DeviceLookup::Role => lookups.role.get(device).copied().map(LookupAnswer::Role),
            }
        };
        if let Some(answer) = known {
            return answer;
        }
        // Computed without the lock: `compute` may ask for another lookup.
        let answer = compute();
        let mut lookups = self.lookups.lock().unwrap_or_else(|p| p.into_inner());
        let device = device.clone();
        match &answer {
            LookupAnswer::Member(m) => {
                lookups.member.insert(device, m.clone());
            }
            LookupAnswer::SigningKey(k) => {
                lookups.signing_key.insert(device, k.clone());
            }
            LookupAnswer::Removed(r) => {
                lookups.removed.insert(device, *r);
            }
            LookupAnswer::Role(r) => {
                lookups.role.insert(device, *r);
            }
        }
        answer
    }

    /// Every device's listings in the current state: the remembered ones,
    /// or `compute`'s (which must read the current state only), kept as
    /// long as the per-device lookups are.
    pub fn remembered_listings(
        &self,
        compute: impl FnOnce() -> DeviceListings,
    ) -> std::sync::Arc<DeviceListings> {
        if let Some(known) = &self
            .lookups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .listings
        {
            return std::sync::Arc::clone(known);
        }
        let listings = std::sync::Arc::new(compute());
        self.lookups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .listings = Some(std::sync::Arc::clone(&listings));
        listings
    }

    /// Forgets everything remembered: the change may have reached
    /// anything, the member list among it.
    fn forget_lookups(&mut self) {
        self.forget_member_list();
        self.led
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.changed = ChangedSessions::Any;
    }

    /// Forgets what is remembered of the member list: members' records
    /// and the device lookups.
    fn forget_member_list(&mut self) {
        *self.lookups.get_mut().unwrap_or_else(|p| p.into_inner()) = DeviceLookups::default();
        self.member_records
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Keeps what is remembered true after a change that reached only
    /// `reach` (nothing under `members`): who leads the sessions named is
    /// read again for each member asked about before; anything wider
    /// forgets who leads what.
    fn reached(&mut self, reach: &Reach) {
        self.changed.note(reach);
        if reach.writes_invites() {
            // A lost join is read from the invite that admitted someone,
            // and a member's role (so who a device writes as) from it too.
            self.forget_member_list();
        }
        let mut led = std::mem::take(self.led.get_mut().unwrap_or_else(|p| p.into_inner()));
        if reach.beyond_named_sessions() {
            led.clear();
        }
        self.keep_led_across(reach, &mut led);
        *self.led.get_mut().unwrap_or_else(|p| p.into_inner()) = led;
    }

    /// The sessions changed since the last call (`None`: any may have, as
    /// on the first call after loading, and after a change of unknown
    /// reach). One reader only: the person's freed places
    /// ([`SpaceDoc::signups_under_changed`]).
    pub(super) fn take_changed_sessions(&mut self) -> Option<BTreeSet<SessionId>> {
        match std::mem::replace(&mut self.changed, ChangedSessions::Only(BTreeSet::new())) {
            ChangedSessions::Any => None,
            ChangedSessions::Only(ids) => Some(ids),
        }
    }

    /// Makes the next [`SpaceDoc::take_changed_sessions`] answer "any":
    /// what the last one returned was not read through.
    pub(super) fn forget_changed_sessions(&mut self) {
        self.changed = ChangedSessions::Any;
    }

    /// Whether every change this replica holds that wrote the member list
    /// or the invites is in the past of `heads` (a change's causal point),
    /// as far as it can tell: then the member list at `heads` is the
    /// current one, and reading the current state (much cheaper) gives the
    /// same answer (`member_list_past.rs`). `false` when it cannot tell.
    pub fn member_list_settled_at(&self, heads: &[ChangeHash]) -> bool {
        #[cfg(test)]
        if self.read_every_causal_point {
            return false;
        }
        self.member_list_past.settled_at(heads)
    }

    /// Tests only: this replica reads every change's causal point, as
    /// before the shortcut of [`SpaceDoc::member_list_settled_at`].
    #[cfg(test)]
    pub(crate) fn read_every_causal_point(&mut self) {
        self.read_every_causal_point = true;
    }

    /// Notes changes just taken (`applied`: all of them went in), or
    /// starts the record again from the current heads when that is not
    /// certain, when it is full, or when a head is unknown to it (a change
    /// automerge held back until now).
    fn note_member_list_past(
        &mut self,
        changes: &[(ChangeHash, Vec<ChangeHash>)],
        applied: bool,
        writes_members: bool,
    ) {
        let mut fits = applied;
        for (hash, deps) in changes {
            if !fits {
                break;
            }
            fits = self.member_list_past.note(*hash, deps, writes_members);
        }
        let heads = self.doc.get_heads();
        if !fits || !self.member_list_past.knows_all(&heads) {
            self.member_list_past = MemberListPast::starting_at(heads);
        }
    }

    fn restart_member_list_past(&mut self) {
        self.member_list_past = MemberListPast::starting_at(self.doc.get_heads());
    }

    /// Makes this replica write as `actor`. Each device writes with its
    /// device id as actor (protocol.md §4), so receivers can check that a
    /// change came from the device that signed it.
    pub fn set_actor(&mut self, actor: automerge::ActorId) {
        self.doc.set_actor(actor);
    }

    /// The underlying automerge document, read-only, for the store and the
    /// sync layers.
    pub fn automerge(&self) -> &AutoCommit {
        &self.doc
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

    /// The current heads: what this replica has seen.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Whether this replica already holds the change with `hash`.
    pub fn has_change(&self, hash: &ChangeHash) -> bool {
        holds(&self.doc, hash)
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

    /// The changes `actor` made after its change number `after_seq` that a
    /// replica at `heads` lacks, in causal order, as automerge holds them:
    /// what a device seals of its own.
    ///
    /// automerge (0.12) rebuilds every change it returns from its op set.
    /// In a live group most changes since `heads` are others' (received
    /// since the last seal), so which are this actor's is read from the
    /// change graph alone, and only those are rebuilt, one at a time, while
    /// they are under a third of all: one change alone took 33 µs, and
    /// all 330 since a seal 3.9 ms in one walk, in a 1,800-session space
    /// (release build). A run mostly of its own (an offline week) is
    /// rebuilt in one walk.
    pub fn own_changes_since(
        &mut self,
        heads: &[ChangeHash],
        actor: &automerge::ActorId,
        after_seq: u64,
    ) -> Vec<automerge::Change> {
        let metas = self.doc.get_changes_meta(heads);
        let total = metas.len();
        let mut own: Vec<(u64, ChangeHash)> = metas
            .into_iter()
            .filter(|m| m.actor.as_ref() == actor && m.seq > after_seq)
            .map(|m| (m.seq, m.hash))
            .collect();
        // One actor's changes: each depends on the one before it.
        own.sort_unstable();
        if own.len().saturating_mul(3) <= total {
            let rebuilt: Option<Vec<automerge::Change>> = own
                .iter()
                .map(|(_, hash)| self.doc.get_change_by_hash(hash))
                .collect();
            if let Some(rebuilt) = rebuilt {
                return rebuilt;
            }
        }
        self.doc
            .get_changes(heads)
            .into_iter()
            .filter(|c| c.actor_id() == actor && c.seq() > after_seq)
            .collect()
    }

    /// Encoded changes this replica has that a replica at `heads` lacks.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<Vec<u8>> {
        history::changes_since(&mut self.doc, heads)
    }

    /// Applies encoded changes from another replica, in any order: changes
    /// whose dependencies have not arrived yet wait inside automerge until
    /// they do. A malformed change is refused and nothing is applied.
    pub fn apply_changes(&mut self, changes: &[Vec<u8>]) -> ModelResult<()> {
        self.forget_lookups();
        let applied = history::apply_changes(&mut self.doc, changes);
        self.restart_member_list_past();
        applied
    }

    /// Applies changes already decoded (and checked) in one automerge call:
    /// much cheaper than several calls, each of which walks the document.
    pub fn apply_decoded(&mut self, changes: Vec<automerge::Change>) -> ModelResult<()> {
        self.forget_lookups();
        let noted = graph_of(&changes);
        let applied = self.unsaved.apply_recorded(&mut self.doc, changes);
        self.note_member_list_past(&noted, applied.is_ok(), true);
        applied?;
        Ok(())
    }

    /// [`SpaceDoc::apply_decoded`] for changes the caller checked write
    /// nothing under `members` and only within `reach` (the receive's
    /// staging, whose checks know every operation's path): the remembered
    /// device lookups stay, and who leads what is kept true.
    pub fn apply_decoded_within(
        &mut self,
        changes: Vec<automerge::Change>,
        reach: &Reach,
    ) -> ModelResult<()> {
        let noted = graph_of(&changes);
        let applied = self.unsaved.apply_recorded(&mut self.doc, changes);
        self.note_member_list_past(&noted, applied.is_ok(), reach.writes_invites());
        // Some changes may have gone in before an error.
        match applied {
            Ok(()) => self.reached(reach),
            Err(_) => self.forget_lookups(),
        }
        applied?;
        Ok(())
    }

    /// The space's name.
    pub fn name(&self) -> ModelResult<String> {
        Ok(hydrate_prop(&self.doc, ROOT, "name")?)
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

    pub(super) fn collection(&self, name: &str) -> ModelResult<ObjId> {
        child_map(&self.doc, &ROOT, name).ok_or_else(|| invalid(format!("missing {name}")))
    }

    pub(super) fn item_obj(&self, collection: &str, key: &str) -> Option<ObjId> {
        let parent = child_map(&self.doc, &ROOT, collection)?;
        child_map(&self.doc, &parent, key)
    }

    pub(super) fn hydrate_item<T: Hydrate>(
        &self,
        collection: &str,
        key: &str,
    ) -> ModelResult<Option<T>> {
        let parent = self.collection(collection)?;
        if self.doc.get(&parent, key)?.is_none() {
            return Ok(None);
        }
        Ok(Some(hydrate_prop(&self.doc, &parent, key)?))
    }

    /// Hydrates a whole collection, skipping entries another device wrote in
    /// a shape this build cannot read: one malformed session must not hide
    /// the signposting directory or every other session.
    pub(super) fn hydrate_collection<K: From<String> + Ord, V: Hydrate>(
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

    /// Runs `write` and commits it as one change, or rolls everything back.
    pub(super) fn transact(
        &mut self,
        write: impl FnOnce(&mut AutoCommit, &Collections) -> ModelResult<()>,
    ) -> ModelResult<()> {
        self.forget_lookups();
        self.commit_write(write, true)
    }

    /// [`SpaceDoc::transact`] for a write that never touches `members`
    /// and writes only within `reach` (sessions, sign-ups, leads,
    /// training, resources): the remembered device lookups stay, so a
    /// device that edits between receiving envelopes does not look every
    /// author up again, and who leads what is kept true. Writes to
    /// members, devices, invites (admissions) and restores use `transact`.
    pub(super) fn transact_within(
        &mut self,
        reach: Reach,
        write: impl FnOnce(&mut AutoCommit, &Collections) -> ModelResult<()>,
    ) -> ModelResult<()> {
        self.commit_write(write, reach.writes_invites())?;
        self.reached(&reach);
        Ok(())
    }

    /// Runs `write` and commits it as one change, or rolls it back;
    /// `writes_members`: whether it may write the member list or invites.
    fn commit_write(
        &mut self,
        write: impl FnOnce(&mut AutoCommit, &Collections) -> ModelResult<()>,
        writes_members: bool,
    ) -> ModelResult<()> {
        let before = self.doc.get_heads();
        let cols = Collections {
            invites: self.collection(INVITES)?,
            members: self.collection(MEMBERS)?,
            sessions: self.collection(SESSIONS)?,
            training: self.collection(TRAINING)?,
            resources: self.collection(RESOURCES)?,
        };
        match write(&mut self.doc, &cols) {
            Ok(()) => {
                if let Some(hash) = self.doc.commit() {
                    let noted = [(hash, before)];
                    self.note_member_list_past(&noted, true, writes_members);
                }
                Ok(())
            }
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }
}

/// Each change's hash with its dependencies, in the order given.
fn graph_of(changes: &[automerge::Change]) -> Vec<(ChangeHash, Vec<ChangeHash>)> {
    changes
        .iter()
        .map(|c| (c.hash(), c.deps().to_vec()))
        .collect()
}

/// The changes a space document took since its last save, as their own
/// encoded bytes, for [`SpaceDoc::save_incremental`].
///
/// Only applies of decoded changes record (the receive's path); every
/// other way a change gets in (a local write, a load, a merge, encoded
/// changes that may wait inside automerge) is caught by the count: the
/// bytes are used only when the document's number of changes is the one at
/// the last save plus the number recorded, each recorded change new when
/// applied and present after. A save that takes them persists exactly
/// what automerge's rebuild would have (in another order, which
/// `load_incremental` accepts).
#[derive(Debug, Default)]
struct Unsaved {
    /// The heads at the last save (nothing before the first: its save
    /// writes the whole history, as automerge's own cursor does).
    saved_heads: Vec<ChangeHash>,
    /// How many changes the document held then; `None` before the first.
    saved_count: Option<u64>,
    /// The recorded changes' bytes, concatenated, and how many.
    bytes: Vec<u8>,
    count: u64,
    /// Tests only: their hashes.
    #[cfg(test)]
    hashes: Vec<ChangeHash>,
    /// Whether every recorded apply went in whole.
    intact: bool,
}

impl Unsaved {
    /// Applies `changes`, recording the bytes of those that are new.
    fn apply_recorded(
        &mut self,
        doc: &mut AutoCommit,
        changes: Vec<automerge::Change>,
    ) -> Result<(), automerge::AutomergeError> {
        // Nothing to record for a save that rebuilds anyway (the first
        // after a load, or one after an apply that did not go in whole).
        if !self.intact || self.saved_count.is_none() {
            return doc.apply_changes(changes);
        }
        let mut seen = std::collections::HashSet::new();
        let fresh: Vec<(ChangeHash, Vec<u8>)> = changes
            .iter()
            .filter(|c| seen.insert(c.hash()) && !holds(doc, &c.hash()))
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect();
        let applied = doc.apply_changes(changes);
        // A change that waits for a dependency inside automerge is not in
        // the document yet: counting it would let the save miss one.
        if applied.is_ok() && fresh.iter().all(|(hash, _)| holds(doc, hash)) {
            for (_hash, bytes) in fresh {
                self.bytes.extend_from_slice(&bytes);
                self.count += 1;
                #[cfg(test)]
                self.hashes.push(_hash);
            }
        } else {
            self.intact = false;
        }
        applied
    }

    /// The recorded bytes, if they are every change taken since the last
    /// save and nothing else.
    fn take_known(&mut self, doc: &AutoCommit) -> Option<Vec<u8>> {
        let saved = self.saved_count?;
        let now = doc.stats().num_changes;
        (self.intact && now == saved + self.count).then(|| std::mem::take(&mut self.bytes))
    }

    /// A save (whole or incremental) has taken everything up to now.
    /// Back to an earlier save's point: the next save rebuilds every
    /// change since it (nothing recorded since counts as saved).
    fn undo_to(&mut self, heads: Vec<ChangeHash>, count: Option<u64>) {
        self.saved_heads = heads;
        self.saved_count = count;
        self.bytes.clear();
        self.count = 0;
        self.intact = false;
        #[cfg(test)]
        self.hashes.clear();
    }

    fn saved(&mut self, doc: &mut AutoCommit) {
        self.saved_heads = doc.get_heads();
        self.saved_count = Some(doc.stats().num_changes);
        self.bytes.clear();
        self.count = 0;
        self.intact = true;
        #[cfg(test)]
        self.hashes.clear();
    }

    /// Tests only: every increment taken from the recorded bytes holds
    /// exactly the changes automerge's own rebuild since the previous save
    /// would, so the whole suite checks the shortcut.
    #[cfg(test)]
    fn check_against_automerge(&self, doc: &mut AutoCommit) {
        let mut rebuilt: Vec<ChangeHash> = doc
            .get_changes(&self.saved_heads)
            .iter()
            .map(automerge::Change::hash)
            .collect();
        let mut recorded = self.hashes.clone();
        rebuilt.sort();
        recorded.sort();
        assert_eq!(
            recorded, rebuilt,
            "the recorded increment is what automerge rebuilds"
        );
    }
}

/// Whether `doc` holds the change `hash`: a lookup in the change graph
/// (`get_change_by_hash` would rebuild the change from the whole document).
fn holds(doc: &AutoCommit, hash: &ChangeHash) -> bool {
    ReadDoc::get_missing_deps(doc, std::slice::from_ref(hash)).is_empty()
}
