//! One sync pass over one space as a state machine: it says which request
//! to make next ([`Step`]), is told how it went ([`Outcome`]), and changes
//! the device's state only through [`SyncDevice`]. It does no I/O and
//! holds no lock, so every decision is testable without a relay, and a
//! driver (the relay, live updates, a test's in-memory mailbox) only
//! carries steps out.

use std::collections::{BTreeSet, VecDeque};

use super::compaction::{CompactionPlan, HeldRequest, compaction_due};
use crate::model::Timestamp;
use crate::relay::ReadPage;

/// How many rounds a pass makes at most. A handover received in a round
/// moves the space to a new epoch and the next round syncs its mailbox;
/// two rounds cover one rotation, the third a competing handover that wins
/// over the one adopted.
pub const MAX_ROUNDS: u8 = 3;

/// What the pass needs to know of the device's state of a space, read
/// afresh whenever the device may have changed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpaceView {
    /// The space's current epoch.
    pub epoch: u32,
    /// The last sequence number of the current mailbox this device applied.
    pub cursor: u64,
    /// Where the last snapshot this device knows of sits.
    pub snapshot_seq: u64,
    /// Envelopes sealed and not yet acknowledged by the relay, with the
    /// epoch whose mailbox each goes to, oldest first.
    pub outbox: Vec<(u32, Vec<u8>)>,
    /// Envelopes pulled that still wait for what they depend on.
    pub waiting: bool,
    /// Attendance requests compaction must keep for now.
    pub holds: Vec<HeldRequest>,
    /// The epoch this device left by adopting a handover, and its cursor
    /// there: a competing handover may still arrive in that mailbox.
    pub previous: Option<(u32, u64)>,
    /// This device holds the current mailbox's admin key (a coordinator's
    /// device), so it may compact.
    pub admin: bool,
}

/// The device's side of a pass: its state of one space, changed only
/// through these calls. Each call that changes something persists it
/// before it returns (so a pass cut off at any step resumes from what was
/// saved: an envelope is in the outbox until [`SyncDevice::pushed`], a
/// blob counts as received once [`SyncDevice::receive`] returned).
pub trait SyncDevice {
    /// Why a call failed; the pass stops with it.
    type Error;

    /// Seals what this device made since the last seal into the outbox
    /// (and makes the rotation a removal calls for), persisted.
    fn seal(&mut self) -> Result<(), Self::Error>;
    /// The state the pass decides from.
    fn view(&mut self) -> Result<SpaceView, Self::Error>;
    /// A snapshot envelope of the document, signed and sealed for the
    /// current epoch.
    fn snapshot(&mut self) -> Result<Vec<u8>, Self::Error>;
    /// The snapshot starting or compacting the current mailbox is at `seq`;
    /// `holds` are the attendance requests still held after a compaction.
    fn snapshot_stored(
        &mut self,
        seq: u64,
        holds: Option<Vec<HeldRequest>>,
    ) -> Result<(), Self::Error>;
    /// The relay acknowledged `envelope` for `epoch`'s mailbox: it leaves
    /// the outbox.
    fn pushed(&mut self, epoch: u32, envelope: &[u8]) -> Result<(), Self::Error>;
    /// A page of the current mailbox (`epoch`); returns whether a handover
    /// moved the space to another epoch.
    fn receive(&mut self, epoch: u32, page: ReadPage) -> Result<bool, Self::Error>;
    /// A page of the mailbox of the epoch this device left (`epoch`);
    /// returns whether a competing handover there moved the space.
    fn receive_previous(&mut self, epoch: u32, page: ReadPage) -> Result<bool, Self::Error>;
    /// The current mailbox was read through: what is missing now is a gap.
    fn read_through(&mut self) -> Result<(), Self::Error>;
    /// A round over `epoch` ended; `moved` if it moved the space on.
    fn round_done(&mut self, epoch: u32, moved: bool);
}

/// What a pass covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassMode {
    /// Push, pull and compact: what `sync` does.
    Full,
    /// Push and compact only, and only what is there to push: what live
    /// updates do on a tick, where the subscription already receives every
    /// blob. A pass with nothing to push and nothing to compact makes no
    /// request at all.
    PushOnly,
}

/// What a space's passes remember between passes while a driver runs
/// (nothing of it is persisted): which mailboxes are known to exist, so a
/// live device does not ask again on every tick.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpaceSyncState {
    known_mailboxes: BTreeSet<u32>,
}

impl SpaceSyncState {
    /// Forgets that a mailbox exists (the relay said it is gone or the
    /// driver cannot tell): the next push asks again.
    pub fn forget_mailboxes(&mut self) {
        self.known_mailboxes.clear();
    }
}

/// The next request of a pass, for the driver to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create `epoch`'s mailbox if it does not exist; answer
    /// [`Outcome::Created`].
    CreateMailbox {
        /// The epoch whose mailbox.
        epoch: u32,
    },
    /// Append `envelope` to `epoch`'s mailbox; answer [`Outcome::Appended`].
    Append {
        /// The epoch whose mailbox.
        epoch: u32,
        /// The sealed envelope.
        envelope: Vec<u8>,
    },
    /// Read `epoch`'s mailbox after `after`; answer [`Outcome::Page`].
    Read {
        /// The epoch whose mailbox (the current one).
        epoch: u32,
        /// Read blobs with a greater sequence number.
        after: u64,
    },
    /// Read the mailbox of the epoch this device left after `after`; answer
    /// [`Outcome::Page`], or [`Outcome::NoMailbox`] if it never had one
    /// (an epoch left by a bundle).
    ReadPrevious {
        /// The epoch whose mailbox.
        epoch: u32,
        /// Read blobs with a greater sequence number.
        after: u64,
    },
    /// Delete through `through`, covered by the snapshot at `snapshot_seq`;
    /// answer [`Outcome::Compacted`]. Only for the admin key's holder.
    Compact {
        /// The epoch whose mailbox.
        epoch: u32,
        /// The snapshot that covers what goes.
        snapshot_seq: u64,
        /// The last sequence number to delete.
        through: u64,
    },
    /// The pass is over.
    Done,
}

impl Step {
    /// The epoch whose mailbox the step is for; `None` for [`Step::Done`].
    pub fn epoch(&self) -> Option<u32> {
        match self {
            Step::CreateMailbox { epoch }
            | Step::Append { epoch, .. }
            | Step::Read { epoch, .. }
            | Step::ReadPrevious { epoch, .. }
            | Step::Compact { epoch, .. } => Some(*epoch),
            Step::Done => None,
        }
    }
}

/// How the driver's last [`Step`] went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A mailbox exists now; `true` if this request created it.
    Created(bool),
    /// The envelope is at this sequence number.
    Appended(u64),
    /// A page of blobs.
    Page(ReadPage),
    /// The previous epoch's mailbox does not exist.
    NoMailbox,
    /// The relay compacted.
    Compacted,
}

/// Why the pass refused an outcome: the driver answered a step it was not
/// asked (a bug in the driver, never outside input).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the sync pass was told {got} while it waited for {expected}")]
pub struct UnexpectedOutcome {
    /// What the pass waited for.
    pub expected: &'static str,
    /// What it was told.
    pub got: &'static str,
}

/// A pass's failure: the device's, or a driver's mistake.
#[derive(Debug, PartialEq, Eq)]
pub enum PassError<E> {
    /// The device failed (its store, a key, a refused input it cannot skip).
    Device(E),
    /// The driver answered the wrong step.
    Driver(UnexpectedOutcome),
}

impl<E> From<UnexpectedOutcome> for PassError<E> {
    fn from(e: UnexpectedOutcome) -> Self {
        PassError::Driver(e)
    }
}

/// Where a pass stands.
#[derive(Debug)]
enum Phase {
    /// A round begins: seal, then push.
    Round,
    /// Pushing `queue`; then `then`.
    Pushing {
        queue: VecDeque<(u32, Vec<u8>)>,
        then: AfterPush,
    },
    /// Asked to create `epoch`'s mailbox before pushing to it.
    Creating {
        epoch: u32,
        queue: VecDeque<(u32, Vec<u8>)>,
        then: AfterPush,
    },
    /// To ask to append `envelope`, the snapshot that starts a new mailbox.
    StartWith {
        envelope: Vec<u8>,
        queue: VecDeque<(u32, Vec<u8>)>,
        then: AfterPush,
    },
    /// Asked to append the snapshot that starts a new mailbox.
    Starting {
        queue: VecDeque<(u32, Vec<u8>)>,
        then: AfterPush,
    },
    /// Asked to append the front of `queue`.
    Appending {
        queue: VecDeque<(u32, Vec<u8>)>,
        then: AfterPush,
    },
    /// Asked to read the current mailbox.
    Reading,
    /// Asked to read the previous epoch's mailbox.
    ReadingPrevious { epoch: u32 },
    /// To snapshot and ask to append it, for a compaction.
    Snapshot { plan: CompactionPlan },
    /// Asked to append the snapshot a compaction stands on.
    Snapshotting { plan: CompactionPlan },
    /// To ask to compact behind the snapshot at `snapshot_seq`.
    Compact {
        snapshot_seq: u64,
        plan: CompactionPlan,
    },
    /// Asked to compact.
    Compacting {
        snapshot_seq: u64,
        plan: CompactionPlan,
    },
    /// Over.
    Done,
}

/// What comes after a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterPush {
    /// Read the current mailbox (the round's first push, full mode).
    Read,
    /// Read the previous epoch's mailbox, then compact (the second push).
    Previous,
    /// Go straight to compaction (push-only mode).
    Compact,
}

/// One pass over one space. Ask [`SpacePass::next`] for a step, carry it
/// out, and answer with [`SpacePass::told`] before asking again, until
/// [`Step::Done`].
#[derive(Debug)]
pub struct SpacePass {
    mode: PassMode,
    now: Timestamp,
    round: u8,
    /// The epoch this round syncs.
    epoch: u32,
    /// Where this round's read stands.
    after: u64,
    /// A handover received this round moved the space.
    moved: bool,
    phase: Phase,
    /// A step was handed out and not answered yet.
    asked: Option<&'static str>,
}

impl SpacePass {
    /// A pass in `mode` at `now` (the device's clock, for the holds).
    pub fn new(mode: PassMode, now: Timestamp) -> Self {
        SpacePass {
            mode,
            now,
            round: 0,
            epoch: 0,
            after: 0,
            moved: false,
            phase: Phase::Round,
            asked: None,
        }
    }

    /// The next step. Calling it again before answering the last one is a
    /// driver bug and is refused.
    pub fn next<D: SyncDevice>(
        &mut self,
        state: &mut SpaceSyncState,
        device: &mut D,
    ) -> Result<Step, PassError<D::Error>> {
        if let Some(expected) = self.asked {
            return Err(UnexpectedOutcome {
                expected,
                got: "another request for a step",
            }
            .into());
        }
        let step = self.advance(state, device).map_err(PassError::Device)?;
        self.asked = match step {
            Step::CreateMailbox { .. } => Some("created"),
            Step::Append { .. } => Some("appended"),
            Step::Read { .. } => Some("page"),
            Step::ReadPrevious { .. } => Some("page or no mailbox"),
            Step::Compact { .. } => Some("compacted"),
            Step::Done => None,
        };
        Ok(step)
    }

    /// Decides the next step from where the pass stands, changing the
    /// device only through `device`.
    fn advance<D: SyncDevice>(
        &mut self,
        state: &mut SpaceSyncState,
        device: &mut D,
    ) -> Result<Step, D::Error> {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Round => {
                    if self.round >= MAX_ROUNDS {
                        return Ok(Step::Done);
                    }
                    // A handover moved the space: a competing one may lead to
                    // the same epoch number under another key, so what was
                    // known of mailboxes by epoch is known no more.
                    if self.round > 0 && self.moved {
                        state.forget_mailboxes();
                    }
                    self.round += 1;
                    self.moved = false;
                    device.seal()?;
                    let view = device.view()?;
                    self.epoch = view.epoch;
                    self.after = view.cursor;
                    let queue: VecDeque<_> = view.outbox.into_iter().collect();
                    let then = match self.mode {
                        PassMode::Full => AfterPush::Read,
                        PassMode::PushOnly => AfterPush::Compact,
                    };
                    // A full pass always makes sure of the mailbox (the
                    // first push creates it); a live tick only when it has
                    // something to push there.
                    let needs_mailbox = self.mode == PassMode::Full || !queue.is_empty();
                    if needs_mailbox && !state.known_mailboxes.contains(&self.epoch) {
                        self.phase = Phase::Creating {
                            epoch: self.epoch,
                            queue,
                            then,
                        };
                        return Ok(Step::CreateMailbox { epoch: self.epoch });
                    }
                    self.phase = Phase::Pushing { queue, then };
                }
                Phase::Pushing { queue, then } => {
                    let Some((epoch, _)) = queue.front() else {
                        self.phase = self.after_push(then, device)?;
                        continue;
                    };
                    let epoch = *epoch;
                    if !state.known_mailboxes.contains(&epoch) {
                        // An envelope for the epoch a rotation left (its
                        // handover) or one sealed before it.
                        self.phase = Phase::Creating { epoch, queue, then };
                        return Ok(Step::CreateMailbox { epoch });
                    }
                    let envelope = queue.front().map(|(_, e)| e.clone()).unwrap_or_default();
                    self.phase = Phase::Appending { queue, then };
                    return Ok(Step::Append { epoch, envelope });
                }
                Phase::Reading => {
                    self.phase = Phase::Reading;
                    return Ok(Step::Read {
                        epoch: self.epoch,
                        after: self.after,
                    });
                }
                Phase::ReadingPrevious { epoch } => {
                    self.phase = Phase::ReadingPrevious { epoch };
                    return Ok(Step::ReadPrevious {
                        epoch,
                        after: self.after,
                    });
                }
                Phase::StartWith {
                    envelope,
                    queue,
                    then,
                } => {
                    self.phase = Phase::Starting { queue, then };
                    return Ok(Step::Append {
                        epoch: self.epoch,
                        envelope,
                    });
                }
                Phase::Snapshot { plan } => {
                    let envelope = device.snapshot()?;
                    self.phase = Phase::Snapshotting { plan };
                    return Ok(Step::Append {
                        epoch: self.epoch,
                        envelope,
                    });
                }
                Phase::Compact { snapshot_seq, plan } => {
                    let through = plan.through;
                    self.phase = Phase::Compacting { snapshot_seq, plan };
                    return Ok(Step::Compact {
                        epoch: self.epoch,
                        snapshot_seq,
                        through,
                    });
                }
                Phase::Done => return Ok(Step::Done),
                waiting @ (Phase::Creating { .. }
                | Phase::Starting { .. }
                | Phase::Appending { .. }
                | Phase::Snapshotting { .. }
                | Phase::Compacting { .. }) => {
                    // Only reachable through `told`, which moves on first.
                    self.phase = waiting;
                    return Ok(Step::Done);
                }
            }
        }
    }

    /// Where a push leads.
    fn after_push<D: SyncDevice>(
        &mut self,
        then: AfterPush,
        device: &mut D,
    ) -> Result<Phase, D::Error> {
        match then {
            AfterPush::Read => Ok(Phase::Reading),
            AfterPush::Previous if !self.moved => match device.view()?.previous {
                Some((epoch, after)) => {
                    self.after = after;
                    Ok(Phase::ReadingPrevious { epoch })
                }
                None => self.compaction(device),
            },
            AfterPush::Previous => self.end_round(device),
            AfterPush::Compact => self.compaction(device),
        }
    }

    /// Compacts if due, else ends the round.
    fn compaction<D: SyncDevice>(&mut self, device: &mut D) -> Result<Phase, D::Error> {
        let view = device.view()?;
        let due = if view.epoch == self.epoch {
            compaction_due(
                view.admin,
                view.waiting,
                view.cursor,
                view.snapshot_seq,
                &view.holds,
                self.now,
            )
        } else {
            None
        };
        match due {
            Some(plan) => Ok(Phase::Snapshot { plan }),
            None => self.end_round(device),
        }
    }

    /// Ends a round: another if the space moved to a new epoch.
    fn end_round<D: SyncDevice>(&mut self, device: &mut D) -> Result<Phase, D::Error> {
        device.round_done(self.epoch, self.moved);
        Ok(if self.moved && self.mode == PassMode::Full {
            Phase::Round
        } else {
            Phase::Done
        })
    }

    /// Answers the last step with how it went.
    pub fn told<D: SyncDevice>(
        &mut self,
        state: &mut SpaceSyncState,
        device: &mut D,
        outcome: Outcome,
    ) -> Result<(), PassError<D::Error>> {
        let Some(expected) = self.asked.take() else {
            return Err(UnexpectedOutcome {
                expected: "nothing",
                got: outcome_name(&outcome),
            }
            .into());
        };
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let got = outcome_name(&outcome);
        let next = match (phase, outcome) {
            (Phase::Creating { epoch, queue, then }, Outcome::Created(created)) => {
                state.known_mailboxes.insert(epoch);
                // A new mailbox of the current epoch starts with a
                // snapshot, so a device joining later can start from one
                // blob.
                if created && epoch == self.epoch {
                    let envelope = device.snapshot().map_err(PassError::Device)?;
                    Phase::StartWith {
                        envelope,
                        queue,
                        then,
                    }
                } else {
                    Phase::Pushing { queue, then }
                }
            }
            (Phase::Starting { queue, then }, Outcome::Appended(seq)) => {
                device
                    .snapshot_stored(seq, None)
                    .map_err(PassError::Device)?;
                Phase::Pushing { queue, then }
            }
            (Phase::Appending { mut queue, then }, Outcome::Appended(_)) => {
                if let Some((epoch, envelope)) = queue.pop_front() {
                    device.pushed(epoch, &envelope).map_err(PassError::Device)?;
                }
                Phase::Pushing { queue, then }
            }
            (Phase::Reading, Outcome::Page(page)) => {
                let more = page.more;
                let last = page.blobs.last().map(|b| b.seq);
                let moved = device
                    .receive(self.epoch, page)
                    .map_err(PassError::Device)?;
                self.moved |= moved;
                match last {
                    Some(seq) if more && !moved => {
                        self.after = seq;
                        Phase::Reading
                    }
                    _ => {
                        // Read through: what is missing now is a gap (not
                        // earlier, when the snapshot vouching for a
                        // compacted stretch may be yet to come).
                        if !self.moved {
                            device.read_through().map_err(PassError::Device)?;
                        }
                        // What this device wrote while receiving (sign-ups
                        // it recorded as a lead) goes out in the same pass.
                        device.seal().map_err(PassError::Device)?;
                        let view = device.view().map_err(PassError::Device)?;
                        Phase::Pushing {
                            queue: view.outbox.into_iter().collect(),
                            then: AfterPush::Previous,
                        }
                    }
                }
            }
            (Phase::ReadingPrevious { .. }, Outcome::NoMailbox) => {
                self.compaction(device).map_err(PassError::Device)?
            }
            (Phase::ReadingPrevious { epoch }, Outcome::Page(page)) => {
                let more = page.more;
                let last = page.blobs.last().map(|b| b.seq);
                let moved = if page.blobs.is_empty() {
                    false
                } else {
                    device
                        .receive_previous(epoch, page)
                        .map_err(PassError::Device)?
                };
                self.moved |= moved;
                match last {
                    Some(seq) if more && !moved => {
                        self.after = seq;
                        Phase::ReadingPrevious { epoch }
                    }
                    _ if moved => self.end_round(device).map_err(PassError::Device)?,
                    _ => self.compaction(device).map_err(PassError::Device)?,
                }
            }
            (Phase::Snapshotting { plan }, Outcome::Appended(seq)) => Phase::Compact {
                snapshot_seq: seq,
                plan,
            },
            (Phase::Compacting { snapshot_seq, plan }, Outcome::Compacted) => {
                device
                    .snapshot_stored(snapshot_seq, Some(plan.holds))
                    .map_err(PassError::Device)?;
                self.end_round(device).map_err(PassError::Device)?
            }
            (phase, _) => {
                // The pass stays where it was: a bad answer changes nothing.
                self.phase = phase;
                self.asked = Some(expected);
                return Err(UnexpectedOutcome { expected, got }.into());
            }
        };
        self.phase = next;
        Ok(())
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Created(_) => "created",
        Outcome::Appended(_) => "appended",
        Outcome::Page(_) => "page",
        Outcome::NoMailbox => "no mailbox",
        Outcome::Compacted => "compacted",
    }
}
