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
//! *authority* state — members (roles, devices, removal), training,
//! invites, and a session's existence, start and leads — plus the paths of
//! objects. So:
//!
//! - a staged change never touches the space-wide authority paths
//!   (members, training, invites, the sessions map itself): the change that
//!   does is staged last and the stage is flushed right after it, before
//!   anything later is checked;
//! - a change may touch one session's authority (create it, move its
//!   start, accept a lead) and stay staged: the checks of a write under a
//!   session read that session's authority state only (protocol/
//!   session_rules.rs reads the session its path names). A later batch
//!   whose paths reach a session with such a staged change, or whose check
//!   failed while any is staged, is checked again after a flush
//!   ([`Staged::must_recheck`]); so a live group creating sessions applies
//!   a burst in one call, not one call per session;
//! - hence the authority state that any check reads, at any causal point
//!   that includes staged changes, equals the state at its **base
//!   frontier**: the document's own changes that the point reaches through
//!   the staged ones. Checks read the document there, exactly as they would
//!   have read it with the staged changes applied;
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
use crate::model::{DeviceId, MemberId, ModelResult, Reach, SessionId, SpaceDoc};

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
    /// Whether a staged batch may write under `members` (it touches
    /// authority, so it is the last one staged before the flush).
    members_touched: bool,
    /// Where the staged batches write outside `members`.
    reach: Reach,
    /// Sessions whose authority state (existence, start, leads) a staged
    /// batch writes.
    pending_sessions: std::collections::BTreeSet<SessionId>,
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
    /// Where its operations write outside `members`, for what the
    /// document remembers across the apply.
    pub(crate) reach: Reach,
    /// Sessions whose existence, start or leads it writes.
    pub(crate) session_authority: std::collections::BTreeSet<SessionId>,
}

impl CheckedBatch {
    /// Whether the batch writes to members, invites, training or the
    /// sessions map: what any later check may read, so it must be applied
    /// before anything after it is checked.
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
        self.reach.extend(checked.reach);
        self.pending_sessions.extend(checked.session_authority);
        self.frontier.extend(checked.frontiers);
        self.paths.extend(checked.created);
    }

    /// Whether a batch just checked against this stage must be checked
    /// again after a flush: its check may have read the authority state of
    /// a session a staged batch changes (its paths reach that session, or
    /// are not all known), or it failed while such a batch is staged (a
    /// sign-up to a session staged as new fails against the document).
    pub fn must_recheck(&self, checked: &Result<CheckedBatch, AuthorshipError>) -> bool {
        if self.pending_sessions.is_empty() {
            return false;
        }
        match checked {
            Err(_) => true,
            Ok(batch) => {
                batch.touches_members
                    || self
                        .pending_sessions
                        .iter()
                        .any(|session| batch.reach.may_reach(session))
            }
        }
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
            // Checked: no operation of these writes under members, so what
            // the document remembers of its member list stays true, and
            // who leads what is read again only where they wrote.
            doc.apply_decoded_within(changes, &self.reach)
        };
        // Paths stay right (objects never move); member lookups may not.
        let paths = std::mem::take(&mut self.paths);
        *self = Staged::new(doc);
        self.paths = paths;
        result
    }
}
