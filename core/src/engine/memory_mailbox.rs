//! A space's mailboxes in memory, with the relay's semantics (docs/relay.md):
//! append-only per epoch, sequence numbers from 1, reads in pages after a
//! cursor, compaction behind a snapshot. It carries out a [`SpacePass`]'s
//! steps, so the engine's decisions are tested, and shown in examples,
//! without a relay.

use std::collections::BTreeMap;

use super::pass::{Outcome, PassError, SpacePass, SpaceSyncState, Step, SyncDevice};
use crate::relay::{Blob, ReadPage};

/// One mailbox.
#[derive(Clone, Debug, Default)]
struct Mailbox {
    blobs: Vec<Blob>,
    last_seq: u64,
    compacted_through: u64,
}

/// Every epoch's mailbox of one space, in memory.
#[derive(Clone, Debug)]
pub struct MemoryMailbox {
    mailboxes: BTreeMap<u32, Mailbox>,
    /// The most blobs one read returns (the relay pages too).
    pub page_size: usize,
    /// Requests carried out, in order (`create`, `append`, `read`,
    /// `read previous`, `compact`), for tests to check what a pass asked.
    pub requests: Vec<&'static str>,
}

impl Default for MemoryMailbox {
    fn default() -> Self {
        MemoryMailbox {
            mailboxes: BTreeMap::new(),
            page_size: 500,
            requests: Vec::new(),
        }
    }
}

impl MemoryMailbox {
    /// Sequence numbers still held in `epoch`'s mailbox.
    pub fn seqs(&self, epoch: u32) -> Vec<u64> {
        self.mailboxes
            .get(&epoch)
            .map(|m| m.blobs.iter().map(|b| b.seq).collect())
            .unwrap_or_default()
    }

    /// Whether `epoch`'s mailbox exists.
    pub fn exists(&self, epoch: u32) -> bool {
        self.mailboxes.contains_key(&epoch)
    }

    /// Appends `data` to `epoch`'s mailbox as another device would (the
    /// mailbox is created if needed); returns its sequence number.
    pub fn append(&mut self, epoch: u32, data: Vec<u8>) -> u64 {
        let mailbox = self.mailboxes.entry(epoch).or_default();
        mailbox.last_seq += 1;
        let seq = mailbox.last_seq;
        mailbox.blobs.push(Blob { seq, data });
        seq
    }

    /// Carries out one step; `None` for [`Step::Done`].
    pub fn carry_out(&mut self, step: &Step) -> Option<Outcome> {
        Some(match step {
            Step::CreateMailbox { epoch } => {
                self.requests.push("create");
                let created = !self.mailboxes.contains_key(epoch);
                self.mailboxes.entry(*epoch).or_default();
                Outcome::Created(created)
            }
            Step::Append { epoch, envelope } => {
                self.requests.push("append");
                Outcome::Appended(self.append(*epoch, envelope.clone()))
            }
            Step::Read { epoch, after } => {
                self.requests.push("read");
                Outcome::Page(self.read(*epoch, *after).unwrap_or_else(empty))
            }
            Step::ReadPrevious { epoch, after } => {
                self.requests.push("read previous");
                match self.read(*epoch, *after) {
                    Some(page) => Outcome::Page(page),
                    None => Outcome::NoMailbox,
                }
            }
            Step::Compact {
                epoch,
                snapshot_seq,
                through,
            } => {
                self.requests.push("compact");
                if let Some(m) = self.mailboxes.get_mut(epoch) {
                    m.blobs
                        .retain(|b| b.seq > *through || b.seq == *snapshot_seq);
                    m.compacted_through = m.compacted_through.max(*through);
                }
                Outcome::Compacted
            }
            Step::Done => return None,
        })
    }

    /// Runs `pass` to its end against these mailboxes; returns the requests
    /// it made.
    pub fn run<D: SyncDevice>(
        &mut self,
        mut pass: SpacePass,
        state: &mut SpaceSyncState,
        device: &mut D,
    ) -> Result<Vec<&'static str>, PassError<D::Error>> {
        let start = self.requests.len();
        loop {
            let step = pass.next(state, device)?;
            let Some(outcome) = self.carry_out(&step) else {
                return Ok(self.requests[start..].to_vec());
            };
            pass.told(state, device, outcome)?;
        }
    }

    fn read(&self, epoch: u32, after: u64) -> Option<ReadPage> {
        let m = self.mailboxes.get(&epoch)?;
        let mut rest = m.blobs.iter().filter(|b| b.seq > after);
        let blobs: Vec<Blob> = rest.by_ref().take(self.page_size).cloned().collect();
        Some(ReadPage {
            blobs,
            last_seq: m.last_seq,
            compacted_through: m.compacted_through,
            more: rest.next().is_some(),
        })
    }
}

fn empty() -> ReadPage {
    ReadPage {
        blobs: Vec::new(),
        last_seq: 0,
        compacted_through: 0,
        more: false,
    }
}
