//! Staging checked changes so that a long run of them reaches the document
//! in one automerge call (protocol.md §4, "Applying many batches").
//!
//! Why: automerge 0.12 merges changes into its columnar op set by walking
//! every op of each object they touch, so one `apply_changes` call costs
//! time in proportion to the document, however few changes it carries
//! (about 36 ms a call on a 100k-op space here). A device catching up on a
//! tail of 300 envelopes paid that 300 times; staged, it pays it once.
//!
//! Staging must not change a single decision: every replica has to accept
//! or refuse exactly the changes it would accept or refuse one at a time,
//! or documents diverge. The checks of [`super::authorship`] read only the
//! *authority* state — members (roles, devices, removal), session leads and
//! invites — plus the paths of objects. So:
//!
//! - a staged change never touches an authority path: the change that does
//!   is staged last and the stage is flushed right after it, before
//!   anything later is checked;
//! - hence the authority state at any causal point that includes staged
//!   changes equals the state at its **base frontier**: the document's own
//!   changes that the point reaches through the staged ones. Checks read the
//!   document there, exactly as they would have read it with the staged
//!   changes applied;
//! - objects made by staged changes are resolved from the paths recorded
//!   when those changes were checked; an object's path never changes.
//!
//! A flush that automerge refuses (a change reusing another's sequence
//! number, say) leaves the document as it was; callers then redo the staged
//! work one batch at a time, the slow path with the old behaviour.

use std::collections::HashMap;

use automerge::{Change, ChangeHash};
use ed25519_dalek::VerifyingKey;

use super::devices::{device_key, member_of_device};
use super::error::AuthorshipError;
use crate::model::{DeviceId, MemberId, ModelResult, Role, SpaceDoc};

/// Changes checked against a document and waiting to be applied to it in
/// one call, with what later checks need to know about them.
#[derive(Debug, Default)]
pub struct Staged {
    changes: Vec<Change>,
    /// For each staged change, the document changes it reaches through its
    /// dependencies (directly, or through other staged changes).
    frontier: HashMap<ChangeHash, Vec<ChangeHash>>,
    /// Paths of objects (automerge id text → path): those made by staged
    /// changes, which the document does not know yet, and those already
    /// resolved in the document. An object's path never changes.
    paths: HashMap<String, Vec<String>>,
    /// The document's heads when the first change was staged, sorted.
    base_heads: Vec<ChangeHash>,
    /// Device → member lookups against the document's member list, which
    /// staged changes never touch (cleared at every flush).
    members: HashMap<DeviceId, Option<MemberId>>,
    /// Device keys looked up the same way.
    keys: HashMap<DeviceId, Option<VerifyingKey>>,
    /// Members' roles in the document's current state, the same way.
    roles: HashMap<MemberId, Role>,
    /// Whether a staged batch may write under `members` (it touches
    /// authority, so it is the last one staged before the flush).
    members_touched: bool,
    /// Encoded size of `changes`.
    bytes: usize,
}

/// What checking a batch found out about it, for staging it.
#[derive(Debug, Default)]
#[must_use]
pub struct CheckedBatch {
    /// Each change's base frontier, in batch order.
    pub(crate) frontiers: Vec<(ChangeHash, Vec<ChangeHash>)>,
    /// Objects the batch makes, with their paths.
    pub(crate) created: HashMap<String, Vec<String>>,
    /// Whether any operation writes to an authority path (members, invites,
    /// a session's existence or its leads).
    pub(crate) touches_authority: bool,
    /// Whether any operation may write under `members` (a path that
    /// starts there, or one not known as map keys: a list or text
    /// position), which the document's remembered device lookups read.
    pub(crate) touches_members: bool,
}

impl CheckedBatch {
    /// Whether the batch writes to members, invites, a session's existence
    /// or its leads: what later checks read, so it must be applied before
    /// anything after it is checked.
    pub fn touches_authority(&self) -> bool {
        self.touches_authority
    }
}

impl Staged {
    /// An empty stage over `doc` as it is now.
    pub fn new(doc: &mut SpaceDoc) -> Self {
        Self::at_heads(doc.heads())
    }

    /// An empty stage over a document whose heads are `heads`. With no
    /// heads, every check reads at the change's causal point.
    pub(crate) fn at_heads(mut heads: Vec<ChangeHash>) -> Self {
        heads.sort();
        Staged {
            base_heads: heads,
            ..Staged::default()
        }
    }

    /// Bytes of the changes staged (their encoded size).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether the change is staged.
    pub fn contains(&self, hash: &ChangeHash) -> bool {
        self.frontier.contains_key(hash)
    }

    /// Whether `doc` holds the change or it is staged.
    pub fn knows(&self, doc: &SpaceDoc, hash: &ChangeHash) -> bool {
        self.contains(hash) || doc.has_change(hash)
    }

    /// The member a device belongs to, looked up once per stage.
    pub fn member_of_device(&mut self, doc: &SpaceDoc, device: &DeviceId) -> Option<MemberId> {
        self.members
            .entry(device.clone())
            .or_insert_with(|| member_of_device(doc, device))
            .clone()
    }

    /// The Ed25519 key the document records for a device of one of its
    /// members, looked up once per stage.
    pub fn device_key(&mut self, doc: &SpaceDoc, device: &DeviceId) -> Option<VerifyingKey> {
        *self
            .keys
            .entry(device.clone())
            .or_insert_with(|| device_key(doc, device))
    }

    /// The member's role in the document's current state, read once per
    /// stage through `read`.
    pub(crate) fn current_role(
        &mut self,
        member: &MemberId,
        read: impl FnOnce() -> Result<Role, AuthorshipError>,
    ) -> Result<Role, AuthorshipError> {
        if let Some(role) = self.roles.get(member) {
            return Ok(*role);
        }
        let role = read()?;
        self.roles.insert(member.clone(), role);
        Ok(role)
    }

    /// The base frontier of a staged change, if it is staged.
    pub(crate) fn frontier_of(&self, hash: &ChangeHash) -> Option<&[ChangeHash]> {
        self.frontier.get(hash).map(Vec::as_slice)
    }

    /// The path of an object made by a staged change, or resolved before.
    pub(crate) fn path(&self, id: &str) -> Option<&Vec<String>> {
        self.paths.get(id)
    }

    /// Keeps the path of an object of the document for later checks.
    pub(crate) fn remember_path(&mut self, id: String, path: Vec<String>) {
        self.paths.insert(id, path);
    }

    /// Whether a sorted base frontier is the document's current state: it
    /// reaches every head the document had when staging began. (A head has
    /// no descendants in the document, so it is reached only by being in the
    /// frontier itself.)
    pub(crate) fn is_current(&self, frontier: &[ChangeHash]) -> bool {
        !self.base_heads.is_empty()
            && self
                .base_heads
                .iter()
                .all(|h| frontier.binary_search(h).is_ok())
    }

    /// Stages the changes of a batch that was just checked against this
    /// stage. The caller must [`flush`](Self::flush) right after staging a
    /// batch that [touches authority](CheckedBatch::touches_authority),
    /// before checking anything else.
    pub fn stage(&mut self, doc: &SpaceDoc, changes: Vec<Change>, checked: CheckedBatch) {
        for change in changes {
            let hash = change.hash();
            if !self.knows(doc, &hash) {
                self.bytes += change.raw_bytes().len();
                self.changes.push(change);
            }
        }
        self.members_touched |= checked.touches_members;
        self.frontier.extend(checked.frontiers);
        self.paths.extend(checked.created);
    }

    /// Applies every staged change to `doc` in one call and starts an empty
    /// stage over the result. On an error nothing was applied; the caller
    /// redoes the staged batches one at a time.
    pub fn flush(&mut self, doc: &mut SpaceDoc) -> ModelResult<()> {
        let changes = std::mem::take(&mut self.changes);
        let result = if changes.is_empty() {
            Ok(())
        } else if self.members_touched {
            doc.apply_decoded(changes)
        } else {
            // Checked: no operation of these writes to an authority path,
            // members among them, so what the document remembers of its
            // member list stays true.
            doc.apply_decoded_outside_members(changes)
        };
        // Paths stay right (objects never move); member lookups may not.
        let paths = std::mem::take(&mut self.paths);
        *self = Staged::new(doc);
        self.paths = paths;
        result
    }
}
