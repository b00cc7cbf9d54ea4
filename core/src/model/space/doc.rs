//! The space document itself: its schema header, creating, loading,
//! saving and merging it, its history (heads and changes), its name, and
//! the reads and the one-change write every other part of it is built on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use automerge::{
    AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value, transaction::Transactable,
};
use autosurgeon::{Hydrate, hydrate_prop, reconcile_prop};

use crate::model::document::{check_header, child_map};
use crate::model::error::{ModelError, ModelResult};
use crate::model::history;
use crate::model::ids::{DeviceId, MemberId};
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
    /// The sessions each member leads ([`SpaceDoc::sessions_led_by`]) in
    /// the current state, kept until the document next changes at all: a
    /// seal asks twice (re-sealing for leads, taking back voided changes).
    pub(super) led: Mutex<HashMap<MemberId, Vec<crate::model::ids::SessionId>>>,
}

/// What the receive checks look up about a device in the member list as
/// it stands now: who it writes as, its signing key (hex) and whether it
/// is listed under more than one member. Each is a walk over every
/// member's device map, read for every envelope; remembered here, a burst
/// of envelopes pays it once. Forgotten by every write, load and merge,
/// and by every apply except [`SpaceDoc::apply_decoded_outside_members`].
#[derive(Debug, Default)]
struct DeviceLookups {
    member: HashMap<DeviceId, Option<MemberId>>,
    signing_key: HashMap<DeviceId, Option<String>>,
    relisted: HashMap<DeviceId, bool>,
}

/// Which remembered lookup of a device ([`SpaceDoc::remembered`]).
#[derive(Clone, Copy, Debug)]
pub enum DeviceLookup {
    /// The member it writes as.
    Member,
    /// Its signing key as the member list records it (hex).
    SigningKey,
    /// Whether it is listed under more than one member.
    Relisted,
}

/// A remembered lookup's answer ([`SpaceDoc::remembered`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupAnswer {
    /// For [`DeviceLookup::Member`].
    Member(Option<MemberId>),
    /// For [`DeviceLookup::SigningKey`].
    SigningKey(Option<String>),
    /// For [`DeviceLookup::Relisted`].
    Relisted(bool),
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
        self.doc.save()
    }

    /// The changes made since the last `save` or `save_incremental`.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    /// Applies the output of another replica's `save` or `save_incremental`.
    pub fn load_incremental(&mut self, bytes: &[u8]) -> ModelResult<()> {
        self.forget_lookups();
        self.doc.load_incremental(bytes).map_err(invalid)?;
        Ok(())
    }

    /// Takes every change `other` has that this replica lacks.
    pub fn merge(&mut self, other: &mut SpaceDoc) -> ModelResult<()> {
        self.forget_lookups();
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// A copy of this replica with a fresh actor id, as a second device
    /// would hold it.
    pub fn fork(&mut self) -> SpaceDoc {
        SpaceDoc::wrap(self.doc.fork().with_actor(automerge::ActorId::random()))
    }

    fn wrap(doc: AutoCommit) -> SpaceDoc {
        SpaceDoc {
            doc,
            lookups: Mutex::new(DeviceLookups::default()),
            led: Mutex::new(HashMap::new()),
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
                DeviceLookup::Relisted => lookups
                    .relisted
                    .get(device)
                    .copied()
                    .map(LookupAnswer::Relisted),
            }
        };
        if let Some(answer) = known {
            return answer;
        }
        // Computed without the lock: `compute` may ask for another lookup.
        let answer = compute();
        let mut lookups = self.lookups.lock().unwrap_or_else(|p| p.into_inner());
        match &answer {
            LookupAnswer::Member(m) => {
                lookups.member.insert(device.clone(), m.clone());
            }
            LookupAnswer::SigningKey(k) => {
                lookups.signing_key.insert(device.clone(), k.clone());
            }
            LookupAnswer::Relisted(r) => {
                lookups.relisted.insert(device.clone(), *r);
            }
        }
        answer
    }

    /// Forgets the remembered lookups: the member list may have changed.
    fn forget_lookups(&mut self) {
        *self.lookups.get_mut().unwrap_or_else(|p| p.into_inner()) = DeviceLookups::default();
        self.forget_led();
    }

    /// Forgets who leads what: any change may touch a session's leads, a
    /// member's standing or training.
    fn forget_led(&mut self) {
        self.led
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
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
        history::changes_since(&mut self.doc, heads)
    }

    /// Applies encoded changes from another replica, in any order: changes
    /// whose dependencies have not arrived yet wait inside automerge until
    /// they do. A malformed change is refused and nothing is applied.
    pub fn apply_changes(&mut self, changes: &[Vec<u8>]) -> ModelResult<()> {
        self.forget_lookups();
        history::apply_changes(&mut self.doc, changes)
    }

    /// Applies changes already decoded (and checked) in one automerge call:
    /// much cheaper than several calls, each of which walks the document.
    pub fn apply_decoded(&mut self, changes: Vec<automerge::Change>) -> ModelResult<()> {
        self.forget_lookups();
        self.doc.apply_changes(changes)?;
        Ok(())
    }

    /// [`SpaceDoc::apply_decoded`] for changes the caller checked write
    /// nothing under `members` (the receive's staging, whose checks know
    /// every operation's path): the remembered device lookups stay.
    pub fn apply_decoded_outside_members(
        &mut self,
        changes: Vec<automerge::Change>,
    ) -> ModelResult<()> {
        self.forget_led();
        self.doc.apply_changes(changes)?;
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
        self.transact_outside_members(write)
    }

    /// [`SpaceDoc::transact`] for a write that never touches `members`
    /// (sessions, sign-ups, leads, training, resources): the remembered
    /// device lookups stay, so a device that edits between receiving
    /// envelopes does not look every author up again. Writes to members,
    /// devices, invites (admissions) and restores use `transact`.
    pub(super) fn transact_outside_members(
        &mut self,
        write: impl FnOnce(&mut AutoCommit, &Collections) -> ModelResult<()>,
    ) -> ModelResult<()> {
        self.forget_led();
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
