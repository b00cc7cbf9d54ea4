//! What this device knows about its spaces, persisted (sealed) in the store.
//!
//! The registry is one small JSON document in the encrypted store: this
//! device's id, the person's secret's key id, and per space the ids the
//! device needs (space id, its member id, the current epoch, where the
//! document lives) plus the sync bookkeeping the sync engine extends (the
//! next envelope sequence number, the heads already sealed, queued
//! attendance requests). Keys themselves live in the keyring, never here.

use std::collections::BTreeMap;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use serde::{Deserialize, Serialize};

use super::mailbox_numbers::{MailboxNumbers, SequenceCounts};
use crate::protocol::attestation::Attestation;

use crate::model::{DeviceId, MemberId, SessionId, SignUpState, Timestamp};
use crate::profile::KeyId;
use crate::protocol::{AdminKey, SpaceId};
use crate::store::DocumentId;
use automerge::ChangeHash;

/// The registry's own document id. Fixed: file names are keyed hashes, so a
/// well-known id reveals nothing on disk.
pub(crate) const REGISTRY_DOCUMENT: DocumentId = DocumentId([0; 16]);

/// One attendance request this device made and has not yet seen recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingRequest {
    /// For which session.
    pub session: SessionId,
    /// Attending or cancelled.
    pub state: SignUpState,
    /// When it was made.
    pub at: Timestamp,
    /// Its counter for the ticket: higher than any statement the ticket
    /// had when it was made, so a lead can record it only once and never
    /// after a newer one.
    #[serde(default)]
    pub counter: u64,
    /// When this device last sealed it into the outbox (relay sync).
    #[serde(default)]
    pub sent_at: Option<Timestamp>,
    /// To which set of lead devices it was last sealed ([`fingerprint`] of
    /// the recipients): a new set gets it again.
    ///
    /// [`fingerprint`]: super::cover_leads::fingerprint
    #[serde(default)]
    pub sent_to: Option<String>,
    /// Whether it has been sealed into the outbox (relay sync); bundles
    /// carry it until it is recorded either way.
    #[serde(default)]
    pub sent: bool,
}

/// Per-space state of this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SpaceEntry {
    /// The space.
    pub space: SpaceId,
    /// Where its document lives in the store.
    pub document: DocumentId,
    /// This person's member id in it.
    pub member: MemberId,
    /// The current epoch.
    pub epoch: u32,
    /// The next envelope sequence number this device will use in the
    /// current epoch's mailbox (protocol.md §3, "Sequence numbers").
    pub next_sequence: u64,
    /// The next one it would use in the previous epoch's mailbox, should a
    /// competing handover leave it there.
    #[serde(default)]
    pub previous_next_sequence: u64,
    /// The envelope numbers this device has seen in the current epoch's
    /// mailbox, per author device (`author_sequences`).
    #[serde(default)]
    pub numbers: MailboxNumbers,
    /// The same for the previous epoch's mailbox.
    #[serde(default)]
    pub previous_numbers: MailboxNumbers,
    /// Gaps and reused numbers noticed in this space, and what of them was
    /// reported.
    #[serde(default)]
    pub sequence_counts: SequenceCounts,
    /// Heads of the changes already sealed into envelopes, so a flush
    /// seals only what is new, in one batch.
    pub sealed_heads: Vec<ChangeHash>,
    /// Attendance requests made here, not yet seen recorded by a lead.
    pub pending_requests: Vec<PendingRequest>,
    /// Sealed handover envelopes into the current epoch, passed on
    /// with every bundle so devices that missed the rotation catch up.
    #[serde(default)]
    pub handovers: Vec<Sealed>,
    /// The body of the handover this device took into the current
    /// epoch, or made: whom it was sealed to, so devices it missed are
    /// granted the key (`protocol::key_grant`). `None` when this device
    /// joined or was linked into the epoch.
    #[serde(default)]
    pub handover_body: Option<Sealed>,
    /// Devices this device granted the current epoch's key to.
    #[serde(default)]
    pub granted: Vec<crate::model::DeviceId>,
    /// Sealed key grants (under the previous epoch's key) this
    /// device made into the current epoch, passed on with every bundle
    /// after the handovers.
    #[serde(default)]
    pub grants: Vec<Sealed>,
    /// A handover out of the current epoch that missed this device (it was
    /// listed concurrently with the cut): the device waits for a grant of
    /// its key instead of counting itself out.
    #[serde(default)]
    pub awaiting_grant: Option<AwaitingGrant>,
    /// The public admin key of each epoch's mailbox this device has known
    /// by epoch: with the epoch key it names the mailbox (protocol.md
    /// §1). Kept for earlier epochs too, whose mailboxes are still read for
    /// competing handovers and written for key grants.
    #[serde(default)]
    pub mailbox_admins: BTreeMap<u32, AdminKey>,
    /// Coordinators' devices this device granted the current epoch
    /// mailbox's admin seed to (`protocol::admin_grant`).
    #[serde(default)]
    pub admin_granted: Vec<crate::model::DeviceId>,
    /// Those admin grants, sealed (under the current key), passed
    /// on with every bundle.
    #[serde(default)]
    pub admin_grants: Vec<Sealed>,
    /// Relay sync: the last sequence number pulled from the current epoch's
    /// mailbox.
    #[serde(default)]
    pub cursor: u64,
    /// Relay sync: the highest automerge sequence number of this device's
    /// own changes already sealed into the outbox.
    #[serde(default)]
    pub sealed_own_seq: u64,
    /// Relay sync: sealed envelopes waiting to be appended, persisted before
    /// any network call so nothing made offline is lost.
    #[serde(default)]
    pub outbox: Vec<OutboxItem>,
    /// Relay sync: received envelopes waiting for changes they
    /// depend on.
    #[serde(default)]
    pub waiting: Vec<Sealed>,
    /// Relay sync: sequence number of the newest snapshot this device
    /// uploaded or saw, to decide when to compact.
    #[serde(default)]
    pub snapshot_seq: u64,
    /// The handover this device took into the current epoch, if it moved
    /// by one (not when it joined or was linked into it).
    #[serde(default)]
    pub adopted: Option<AdoptedHandover>,
    /// Where the current epoch starts for rotation: removals causally
    /// before these heads are answered. The adopted handover's cut,
    /// or for a device that joined or was linked into the epoch, what it
    /// held then; empty in the first epoch.
    #[serde(default)]
    pub epoch_cut: Vec<ChangeHash>,
    /// Relay sync: the last sequence number read from the previous
    /// epoch's mailbox, which is still read for handovers that compete with
    /// the adopted one.
    #[serde(default)]
    pub previous_cursor: u64,
    /// Invites this device issued that may still be answered: their codes
    /// (the device claims their requests and seals their welcomes) and
    /// what is in flight. Dropped once used, withdrawn or expired, so a
    /// code does not outlive its use on disk.
    #[serde(default)]
    pub issued: Vec<IssuedInvite>,
    /// The newest verified attestation this device holds for each device
    /// of the space, by device: its snapshots carry them, so whoever
    /// imports one can prove who wrote each change.
    #[serde(default)]
    pub attestations: BTreeMap<crate::model::DeviceId, Attestation>,
    /// The attestations as they stood at the current epoch's cut, for the
    /// snapshot at the cut that bundles carry while a handover is passed on.
    #[serde(default)]
    pub cut_attestations: Vec<Attestation>,
    /// For each session this device re-seals sign-ups of (it leads it),
    /// the fingerprint of the set of lead devices it last sealed them to
    /// (`cover_leads`).
    #[serde(default)]
    pub sealed_leads: BTreeMap<String, String>,
    /// Heads of the document when this device last looked over the
    /// sessions it leads (`cover_leads`: re-seal, free departed places),
    /// so that pass runs only when something moved. Apart from
    /// `sealed_heads`, which a rotation moves without that pass.
    #[serde(default)]
    pub led_heads: Vec<ChangeHash>,
    /// Relay sync: attendance requests this device pulled from the current
    /// epoch's mailbox, held back from compaction for
    /// [`HOLD_REQUESTS_SECS`](crate::engine::HOLD_REQUESTS_SECS) after
    /// it first saw them, since most devices cannot tell whether a lead has
    /// read one.
    #[serde(default)]
    pub held_requests: Vec<HeldRequest>,
}

pub(crate) use crate::engine::HeldRequest;

/// An invite this device issued and still answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IssuedInvite {
    /// The invite code (the secret; the registry is sealed at rest).
    pub code: String,
    /// The invite's id in the space.
    pub invite: String,
    /// Its recorded expiry.
    pub expires_at: Timestamp,
    /// Whether its package was put in the relay drop-box.
    #[serde(default)]
    pub published: bool,
    /// Whether the relay no longer holds the package while the invite is
    /// unused: someone claimed it (the joiner, or whoever else has the
    /// code).
    #[serde(default)]
    pub claimed: bool,
    /// A claimed request (sealed) not yet answered: kept so a
    /// crash after the claim loses nothing.
    #[serde(default)]
    pub request: Option<Sealed>,
    /// A welcome (sealed) waiting to be put in the welcome
    /// drop-box once the admission is pushed.
    #[serde(default)]
    pub welcome: Option<Sealed>,
    /// Whether its welcome was put in the welcome drop-box. Once the relay
    /// no longer holds it, the joiner has it (she keeps it before she
    /// joins, and asks nothing more), so the code is forgotten and its
    /// drop-boxes are not asked about again.
    #[serde(default)]
    pub welcome_left: bool,
}

/// A join this device asked for and is waiting to be welcomed into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingJoin {
    /// The invite code.
    pub code: String,
    /// The space.
    pub space: SpaceId,
    /// Its name, from the package.
    pub space_name: String,
    /// The role the invite grants.
    pub role: crate::model::Role,
    /// The invite's expiry, from the package.
    pub expires_at: Timestamp,
    /// The member id this device asked to join as.
    pub member: MemberId,
    /// The sealed request, put again while no welcome comes, in
    /// case the inviter's device lost it.
    pub request: Sealed,
    /// A welcome claimed from the relay and not yet taken: kept
    /// so a crash after the claim loses nothing.
    #[serde(default)]
    pub welcome: Option<Sealed>,
}

/// A handover that missed this device, kept until a grant of its key comes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AwaitingGrant {
    /// The sealed handover envelope, to pass on once moved.
    pub sealed: Sealed,
    /// Its body: the grant is checked against its commitment.
    pub body: Sealed,
}

/// The handover a device adopted, kept to settle a competing one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AdoptedHandover {
    /// Its rank (hex SHA-256 of its body): the lower one wins.
    pub rank: String,
}

/// An envelope waiting to be appended to the mailbox of `epoch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutboxItem {
    /// Which epoch's mailbox it goes to.
    pub epoch: u32,
    /// The sealed envelope.
    pub envelope: Sealed,
}

/// The registry's format version: 2 added the person's devices and the
/// journal's epochs; 3 counts envelope numbers per mailbox and checks them
/// (a version 2 entry's cursor would be past numbers it never counted); 4
/// writes every id, change hash, key and sealed envelope in its one typed
/// form, so a damaged one fails the read instead of being skipped. No
/// older registry is read (nothing was deployed).
pub(crate) const REGISTRY_VERSION: u8 = 4;

/// The registry document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Registry {
    /// Format version.
    pub v: u8,
    /// This device's id (public: it is also the automerge actor).
    pub device: DeviceId,
    /// Where the person's own secret (journal key, tickets) is in the
    /// keyring.
    pub person_key: KeyId,
    /// The journal's document id.
    pub journal_document: DocumentId,
    /// Spaces by space id.
    pub spaces: BTreeMap<SpaceId, SpaceEntry>,
    /// Whether the journal syncs between the person's own devices. Off
    /// until the person turns it on.
    #[serde(default)]
    pub journal_sync: bool,
    /// Journal sync: the last sequence pulled from the journal's mailbox.
    #[serde(default)]
    pub journal_cursor: u64,
    /// Journal sync: the journal's heads when this device last pushed it.
    #[serde(default)]
    pub journal_pushed_heads: Vec<ChangeHash>,
    /// Joins asked for and not yet welcomed.
    #[serde(default)]
    pub joins: Vec<PendingJoin>,
    /// The person's devices this device knows of, this one included: from
    /// linking and from the person's member entries in her spaces, with
    /// the names she gave them here and when this device last heard from
    /// each. A removed device stays listed (marked), so nothing it signs
    /// is taken from it again.
    #[serde(default)]
    pub own_devices: BTreeMap<DeviceId, OwnDevice>,
    /// The journal's epochs (protocol.md §6).
    #[serde(default)]
    pub journal_epoch: JournalEpoch,
}

/// Where the journal's key stands on this device: its epoch (the key is in
/// the keyring under [`journal_key_id`]), what the epoch answers, and the
/// handovers still to push.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournalEpoch {
    /// The current epoch; 0 until a device is removed.
    pub epoch: u32,
    /// Removed devices the current epoch's key was not given to: a removed
    /// device not listed here still knows the key, so the journal rotates.
    #[serde(default)]
    pub answered: Vec<DeviceId>,
    /// The handover this device took into the current epoch, to settle
    /// one that competes with it; `None` if it made it (or in epoch 0).
    #[serde(default)]
    pub adopted: Option<AdoptedJournalHandover>,
    /// The last sequence number read from the previous epoch's mailbox,
    /// which is still read for handovers that compete with the adopted one.
    #[serde(default)]
    pub previous_cursor: u64,
    /// Sealed handovers to append to the mailbox of the epoch they
    /// leave, persisted before any network call.
    #[serde(default)]
    pub outbox: Vec<OutboxItem>,
}

/// The journal handover a device moved by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AdoptedJournalHandover {
    /// The device that signed it: if that device turns out removed, the
    /// handover counts for nothing and the journal moves on again.
    pub author: DeviceId,
    /// Its rank (hex SHA-256 of its body): the lower one wins.
    pub rank: String,
}

/// One of the person's own devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OwnDevice {
    /// Its public keys, as its member entries (or its link request) list them.
    pub keys: crate::model::DeviceKeys,
    /// The name the person gave it on this device (never leaves it).
    #[serde(default)]
    pub name: Option<String>,
    /// When this device last received something it signed.
    #[serde(default)]
    pub last_seen: Option<Timestamp>,
    /// When it was removed, as far as this device knows.
    #[serde(default)]
    pub removed_at: Option<Timestamp>,
}

impl SpaceEntry {
    /// The public admin key of `epoch`'s mailbox, if this device knows it.
    pub(crate) fn admin_key(&self, epoch: u32) -> Option<AdminKey> {
        self.mailbox_admins.get(&epoch).copied()
    }

    /// A device's fresh entry for a space it just created, joined or was
    /// linked to: nothing sealed, sent or pulled yet.
    pub(crate) fn new(
        space: SpaceId,
        document: DocumentId,
        member: MemberId,
        epoch: u32,
        admin: AdminKey,
    ) -> Self {
        SpaceEntry {
            mailbox_admins: BTreeMap::from([(epoch, admin)]),
            admin_granted: Vec::new(),
            admin_grants: Vec::new(),
            space,
            document,
            member,
            epoch,
            next_sequence: 1,
            previous_next_sequence: 1,
            numbers: MailboxNumbers::default(),
            previous_numbers: MailboxNumbers::default(),
            sequence_counts: SequenceCounts::default(),
            sealed_heads: Vec::new(),
            pending_requests: Vec::new(),
            handovers: Vec::new(),
            handover_body: None,
            granted: Vec::new(),
            grants: Vec::new(),
            awaiting_grant: None,
            cursor: 0,
            sealed_own_seq: 0,
            outbox: Vec::new(),
            waiting: Vec::new(),
            snapshot_seq: 0,
            adopted: None,
            epoch_cut: Vec::new(),
            previous_cursor: 0,
            issued: Vec::new(),
            attestations: BTreeMap::new(),
            cut_attestations: Vec::new(),
            sealed_leads: BTreeMap::new(),
            led_heads: Vec::new(),
            held_requests: Vec::new(),
        }
    }

    /// A device's fresh entry for a space it joined or was linked into at
    /// `epoch`, holding `heads`: past the first epoch, removals it already
    /// holds count as answered (the key it was given is the current one).
    pub(crate) fn joined(
        space: SpaceId,
        document: DocumentId,
        member: MemberId,
        epoch: u32,
        admin: AdminKey,
        heads: &[ChangeHash],
    ) -> Self {
        let mut entry = Self::new(space, document, member, epoch, admin);
        if epoch > 0 {
            entry.epoch_cut = heads.to_vec();
        }
        entry
    }

    /// Every attestation this device holds for the space.
    pub(crate) fn attestations(&self) -> Vec<Attestation> {
        self.attestations.values().cloned().collect()
    }

    /// Keeps `attestation` if it covers more of its device's changes than
    /// the one held.
    pub(crate) fn remember(&mut self, attestation: &Attestation) {
        let newer = self
            .attestations
            .get(&attestation.device)
            .is_none_or(|held| attestation.seq > held.seq);
        if newer {
            self.attestations
                .insert(attestation.device.clone(), attestation.clone());
        }
    }

    /// The state at which the current epoch's key was handed out, `None`
    /// in the first epoch (see [`SpaceEntry::epoch_cut`]).
    pub(crate) fn cut(&self) -> Option<&[ChangeHash]> {
        if self.epoch == 0 && self.epoch_cut.is_empty() {
            return None;
        }
        Some(&self.epoch_cut)
    }
}

/// A sealed envelope (or a sealed request, welcome, handover body) kept in
/// the registry: bytes, written as base64 so the registry stays JSON. One
/// that is not base64 is refused when the registry is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sealed(pub Vec<u8>);

impl Sealed {
    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Sealed {
    fn from(bytes: Vec<u8>) -> Self {
        Sealed(bytes)
    }
}

impl Serialize for Sealed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BASE64_STANDARD.encode(&self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        BASE64_STANDARD
            .decode(text)
            .map(Sealed)
            .map_err(|e| serde::de::Error::custom(format!("a sealed envelope: {e}")))
    }
}

/// How the registry writes a fixed-size id or key (hex), and refuses one
/// that is not: the ids' own types stay free of a text form elsewhere.
macro_rules! hex_serde {
    ($($ty:ty => $len:literal, $what:literal;)*) => {$(
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                hex::encode(self.0).serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                let mut out = [0u8; $len];
                hex::decode_to_slice(&text, &mut out).map_err(|e| {
                    serde::de::Error::custom(format!(concat!("a ", $what, " ({:?}): {}"), text, e))
                })?;
                Ok(Self(out))
            }
        }
    )*};
}

hex_serde! {
    SpaceId => 16, "space id";
    DocumentId => 16, "document id";
    KeyId => 16, "keyring id";
    AdminKey => 32, "mailbox admin key";
}

impl Serialize for Attestation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BASE64_STANDARD.encode(self.encode()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Attestation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        BASE64_STANDARD
            .decode(&text)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Attestation::decode(&bytes).map_err(|e| e.to_string()))
            .map_err(|e| serde::de::Error::custom(format!("an attestation: {e}")))
    }
}

/// A 16-byte id from its hex text, as apps pass space ids.
pub(crate) fn parse16(hex_text: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(hex_text, &mut out).ok()?;
    Some(out)
}

/// The keyring id of the journal's key in `epoch`: derived, like
/// [`epoch_key_id`].
pub(crate) fn journal_key_id(epoch: u32) -> KeyId {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"safespaces/v2/keyring/journal");
    hasher.update(epoch.to_be_bytes());
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    KeyId(id)
}

/// A keyring id derived from what it holds, so it needs no registry entry
/// of its own (storage.md, "Key hierarchy").
fn keyring_id(label: &[u8], space: SpaceId, epoch: u32) -> KeyId {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(label);
    hasher.update(space.0);
    hasher.update(epoch.to_be_bytes());
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    KeyId(id)
}

/// Where the keyring keeps the admin seed of a space's epoch mailbox, on a
/// coordinator's device (protocol.md §1).
pub(crate) fn admin_seed_id(space: SpaceId, epoch: u32) -> KeyId {
    keyring_id(b"safespaces/v3/keyring/mailbox-admin", space, epoch)
}

/// The keyring id of a space's epoch key.
pub(crate) fn epoch_key_id(space: SpaceId, epoch: u32) -> KeyId {
    keyring_id(b"safespaces/v1/keyring/epoch", space, epoch)
}
