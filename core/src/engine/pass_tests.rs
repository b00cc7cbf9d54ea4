//! Every step decision of a pass, against mailboxes in memory.

use super::memory_mailbox::MemoryMailbox;
use super::pass::*;
use super::{COMPACT_AFTER_BLOBS, HeldRequest};
use crate::model::Timestamp;
use crate::relay::ReadPage;

/// A toy device: envelopes are text; `hand:N` is a handover to epoch `N`.
#[derive(Default)]
struct Toy {
    epoch: u32,
    cursor: u64,
    previous: Option<(u32, u64)>,
    admin: bool,
    waiting: bool,
    unsent: Vec<String>,
    outbox: Vec<(u32, Vec<u8>)>,
    seen: Vec<String>,
    snapshot_seq: u64,
    holds: Vec<HeldRequest>,
    rounds: Vec<(u32, bool)>,
    read_through: usize,
}

impl SyncDevice for Toy {
    type Error = String;
    fn seal(&mut self) -> Result<(), String> {
        let epoch = self.epoch;
        self.outbox
            .extend(self.unsent.drain(..).map(|e| (epoch, e.into_bytes())));
        Ok(())
    }
    fn view(&mut self) -> Result<SpaceView, String> {
        Ok(SpaceView {
            epoch: self.epoch,
            cursor: self.cursor,
            snapshot_seq: self.snapshot_seq,
            outbox: self.outbox.clone(),
            waiting: self.waiting,
            holds: self.holds.clone(),
            previous: self.previous,
            admin: self.admin,
        })
    }
    fn snapshot(&mut self) -> Result<Vec<u8>, String> {
        Ok(b"snapshot".to_vec())
    }
    fn snapshot_stored(&mut self, seq: u64, holds: Option<Vec<HeldRequest>>) -> Result<(), String> {
        self.snapshot_seq = seq;
        if let Some(h) = holds {
            self.holds = h;
        }
        Ok(())
    }
    fn pushed(&mut self, epoch: u32, envelope: &[u8]) -> Result<(), String> {
        let pos = self
            .outbox
            .iter()
            .position(|(e, b)| *e == epoch && b == envelope)
            .ok_or("pushed something not in the outbox")?;
        self.outbox.remove(pos);
        Ok(())
    }
    fn receive(&mut self, epoch: u32, page: ReadPage) -> Result<bool, String> {
        assert_eq!(epoch, self.epoch, "a page of another epoch's mailbox");
        for blob in page.blobs {
            let text = String::from_utf8(blob.data).map_err(|e| e.to_string())?;
            if let Some(to) = text.strip_prefix("hand:") {
                self.previous = Some((self.epoch, blob.seq));
                self.epoch = to.parse().map_err(|_| "bad handover")?;
                self.cursor = 0;
                return Ok(true);
            }
            self.cursor = blob.seq;
            self.seen.push(text);
        }
        Ok(false)
    }
    fn receive_previous(&mut self, epoch: u32, page: ReadPage) -> Result<bool, String> {
        if let Some((e, cursor)) = self.previous.as_mut() {
            assert_eq!(*e, epoch);
            *cursor = page.blobs.last().map_or(*cursor, |b| b.seq);
        }
        Ok(false)
    }
    fn read_through(&mut self) -> Result<(), String> {
        self.read_through += 1;
        Ok(())
    }
    fn round_done(&mut self, epoch: u32, moved: bool) {
        self.rounds.push((epoch, moved));
    }
}

fn full(relay: &mut MemoryMailbox, state: &mut SpaceSyncState, toy: &mut Toy) -> Vec<&'static str> {
    relay
        .run(SpacePass::new(PassMode::Full, Timestamp(1_000)), state, toy)
        .unwrap()
}

fn live(relay: &mut MemoryMailbox, state: &mut SpaceSyncState, toy: &mut Toy) -> Vec<&'static str> {
    relay
        .run(
            SpacePass::new(PassMode::PushOnly, Timestamp(1_000)),
            state,
            toy,
        )
        .unwrap()
}

#[test]
fn the_first_push_creates_the_mailbox_and_starts_it_with_a_snapshot() {
    let mut relay = MemoryMailbox::default();
    let mut toy = Toy {
        unsent: vec!["a".into()],
        ..Toy::default()
    };
    let steps = full(&mut relay, &mut SpaceSyncState::default(), &mut toy);
    assert_eq!(steps, ["create", "append", "append", "read"]);
    assert_eq!(toy.snapshot_seq, 1);
    assert!(toy.outbox.is_empty());
    // The device reads its own envelope back past the snapshot it made.
    assert_eq!(toy.seen, ["snapshot", "a"]);
    assert_eq!(toy.read_through, 1);

    // Another device's first pass finds the mailbox there: no second
    // snapshot.
    let mut other = Toy::default();
    let steps = full(&mut relay, &mut SpaceSyncState::default(), &mut other);
    assert_eq!(steps, ["create", "read"]);
    assert_eq!(other.seen, ["snapshot", "a"]);
}

#[test]
fn a_page_that_ends_mid_run_is_read_on_from_its_last_blob() {
    let mut relay = MemoryMailbox::default();
    relay.page_size = 2;
    for n in 0..5 {
        relay.append(0, format!("e{n}").into_bytes());
    }
    let mut toy = Toy::default();
    let steps = full(&mut relay, &mut SpaceSyncState::default(), &mut toy);
    assert_eq!(steps, ["create", "read", "read", "read"]);
    assert_eq!(toy.seen, ["e0", "e1", "e2", "e3", "e4"]);
    assert_eq!(toy.cursor, 5);
    // Read through once, at the end, not after every page.
    assert_eq!(toy.read_through, 1);
}

#[test]
fn an_admin_compacts_once_the_tail_passes_the_threshold_and_a_member_never_does() {
    let fill = |relay: &mut MemoryMailbox, n: u64| {
        for i in 0..n {
            relay.append(0, format!("e{i}").into_bytes());
        }
    };
    let mut relay = MemoryMailbox::default();
    fill(&mut relay, COMPACT_AFTER_BLOBS - 1);
    let mut coordinator = Toy {
        admin: true,
        ..Toy::default()
    };
    let mut state = SpaceSyncState::default();
    let steps = full(&mut relay, &mut state, &mut coordinator);
    assert!(!steps.contains(&"compact"), "one blob short: {steps:?}");
    fill(&mut relay, 1);
    let steps = full(&mut relay, &mut state, &mut coordinator);
    // The state kept between passes knows the mailbox exists.
    assert_eq!(steps, ["read", "append", "compact"]);
    // Only the new snapshot is left, and the device starts from it.
    assert_eq!(relay.seqs(0), [COMPACT_AFTER_BLOBS + 1]);
    assert_eq!(coordinator.snapshot_seq, COMPACT_AFTER_BLOBS + 1);

    let mut relay = MemoryMailbox::default();
    fill(&mut relay, 2 * COMPACT_AFTER_BLOBS);
    let mut member = Toy::default();
    let steps = full(&mut relay, &mut SpaceSyncState::default(), &mut member);
    assert!(!steps.contains(&"compact"));
    // Nor an admin with envelopes still waiting.
    let mut waiting = Toy {
        admin: true,
        waiting: true,
        ..Toy::default()
    };
    let steps = full(&mut relay, &mut SpaceSyncState::default(), &mut waiting);
    assert!(!steps.contains(&"compact"));
}

#[test]
fn a_handover_moves_the_pass_to_the_new_mailbox_and_back_to_read_the_one_left() {
    let mut relay = MemoryMailbox::default();
    relay.append(0, b"before".to_vec());
    relay.append(0, b"hand:1".to_vec());
    relay.append(0, b"after the handover".to_vec());
    relay.append(1, b"in epoch 1".to_vec());
    let mut toy = Toy::default();
    let steps = full(&mut relay, &mut SpaceSyncState::default(), &mut toy);
    // Round 1 reads epoch 0 up to the handover; round 2 syncs epoch 1 and
    // reads what epoch 0 holds after the adopted handover (a competing
    // one would be there).
    assert_eq!(steps, ["create", "read", "create", "read", "read previous"]);
    assert_eq!(toy.epoch, 1);
    assert_eq!(toy.seen, ["before", "in epoch 1"]);
    assert_eq!(toy.rounds, [(0, true), (1, false)]);
    assert_eq!(toy.previous, Some((0, 3)));
}

#[test]
fn handovers_in_every_round_stop_after_the_last_round() {
    let mut relay = MemoryMailbox::default();
    for epoch in 0..5 {
        relay.append(epoch, format!("hand:{}", epoch + 1).into_bytes());
    }
    let mut toy = Toy::default();
    full(&mut relay, &mut SpaceSyncState::default(), &mut toy);
    assert_eq!(toy.rounds.len(), usize::from(MAX_ROUNDS));
    assert_eq!(toy.epoch, u32::from(MAX_ROUNDS));
}

#[test]
fn an_epoch_left_by_a_bundle_has_no_mailbox_and_the_pass_goes_on() {
    let mut relay = MemoryMailbox::default();
    let mut toy = Toy {
        epoch: 3,
        previous: Some((2, 0)),
        ..Toy::default()
    };
    let steps = full(&mut relay, &mut SpaceSyncState::default(), &mut toy);
    assert_eq!(steps, ["create", "append", "read", "read previous"]);
    assert_eq!(toy.rounds, [(3, false)]);
}

#[test]
fn an_idle_live_tick_makes_no_request_and_a_push_asks_for_the_mailbox_once() {
    let mut relay = MemoryMailbox::default();
    relay.append(0, b"snapshot".to_vec());
    let mut toy = Toy::default();
    let mut state = SpaceSyncState::default();
    assert!(live(&mut relay, &mut state, &mut toy).is_empty());
    toy.unsent.push("sign-up".into());
    assert_eq!(live(&mut relay, &mut state, &mut toy), ["create", "append"]);
    toy.unsent.push("another".into());
    assert_eq!(live(&mut relay, &mut state, &mut toy), ["append"]);
    assert!(live(&mut relay, &mut state, &mut toy).is_empty());
    assert_eq!(relay.seqs(0), [1, 2, 3]);
}

#[test]
fn a_rotation_pushes_the_handover_to_the_mailbox_it_leaves() {
    let mut relay = MemoryMailbox::default();
    let mut toy = Toy {
        epoch: 1,
        outbox: vec![(0, b"hand:1".to_vec()), (1, b"first in 1".to_vec())],
        ..Toy::default()
    };
    let mut state = SpaceSyncState::default();
    let steps = live(&mut relay, &mut state, &mut toy);
    // The new epoch's mailbox starts with a snapshot; the old one just
    // takes the handover.
    assert_eq!(steps, ["create", "append", "create", "append", "append"]);
    assert_eq!(relay.seqs(0), [1]);
    assert_eq!(relay.seqs(1), [1, 2]);
}

#[test]
fn a_driver_that_answers_the_wrong_step_is_refused_and_changes_nothing() {
    let mut toy = Toy::default();
    let mut state = SpaceSyncState::default();
    let mut pass = SpacePass::new(PassMode::Full, Timestamp(0));
    assert_eq!(
        pass.next(&mut state, &mut toy),
        Ok(Step::CreateMailbox { epoch: 0 })
    );
    // Asking again before answering.
    assert!(matches!(
        pass.next(&mut state, &mut toy),
        Err(PassError::Driver(_))
    ));
    // Answering with a page where a creation was asked.
    let page = ReadPage {
        blobs: vec![],
        last_seq: 0,
        compacted_through: 0,
        more: false,
    };
    assert!(matches!(
        pass.told(&mut state, &mut toy, Outcome::Page(page)),
        Err(PassError::Driver(_))
    ));
    // The right answer still works.
    pass.told(&mut state, &mut toy, Outcome::Created(false))
        .unwrap();
    assert_eq!(
        pass.next(&mut state, &mut toy),
        Ok(Step::Read { epoch: 0, after: 0 })
    );
}

#[test]
fn a_competing_handover_to_the_same_epoch_number_makes_the_pass_ask_for_its_mailbox_again() {
    let mut relay = MemoryMailbox::default();
    relay.append(0, b"hand:0".to_vec());
    let mut toy = Toy::default();
    let steps = full(&mut relay, &mut SpaceSyncState::default(), &mut toy);
    // Round 2 may be another mailbox under the same number: asked again.
    assert_eq!(steps[..3], ["create", "read", "create"]);
}
