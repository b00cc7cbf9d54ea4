//! The adversary harness: honest people on real profiles, and `mallory`, a
//! member running a modified app.
//!
//! Mallory holds exactly what `safespaces backup | age -d` gives a member:
//! her device's signing key and age identity, the epoch keys of her spaces
//! and her own copy of their documents. With those she writes whatever
//! bytes she likes (raw automerge changes, envelopes, handovers, snapshots,
//! bundles); the honest devices receive them through their normal paths
//! (`import_bundle`) and are checked through their public API.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU8, Ordering};

use ed25519_dalek::SigningKey;
use safespaces_core::app::{SafeSpaces, Space};
use safespaces_core::crypto::SymmetricKey;
use safespaces_core::model::{DeviceId, MemberId, Role, SpaceDoc, Timestamp};
use safespaces_core::profile::{KeyId, PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::protocol::{Envelope, EnvelopeKind, EpochKey, SpaceId};
use safespaces_core::store::padding::{open_padded, seal_padded_to};
use sha2::{Digest, Sha256};

/// One person with one device (a real profile in a temporary directory).
pub struct Person {
    pub name: &'static str,
    pub app: SafeSpaces,
    _dir: tempfile::TempDir,
}

impl Person {
    pub fn new(name: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let app = SafeSpaces::create(
            dir.path(),
            UnlockSecret::passphrase("correct horse battery staple"),
            ProfileOptions {
                passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
            },
        )
        .unwrap();
        Person {
            name,
            app,
            _dir: dir,
        }
    }

    pub fn space(&self, id: &str) -> Space {
        self.app.space(id).unwrap()
    }

    pub fn device(&self) -> DeviceId {
        self.app.device_id().unwrap()
    }

    /// Her device's private signing key (the harness holds its own keys).
    pub fn signer(&self) -> ed25519_dalek::SigningKey {
        self.app
            .profile()
            .with_keyring(|k| k.signing_key().clone())
            .unwrap()
    }

    /// Her device's public keys; with `bound`, signed by the device itself
    /// (its binding), as a device entry must be.
    pub fn keys(&self, bound: bool) -> safespaces_core::model::DeviceKeys {
        let profile = self.app.profile();
        let mut keys = safespaces_core::model::DeviceKeys {
            age_recipient: profile.device_recipient().unwrap(),
            signing_key: hex::encode(profile.signing_public_key().unwrap()),
            binding: None,
        };
        if bound {
            keys.binding = Some(safespaces_core::protocol::invite::bind_device(
                &self.device(),
                &keys,
                &self.signer(),
            ));
        }
        keys
    }

    /// The epoch this person's device is in for `space`, from its registry
    /// (the harness reads its own test subject's files).
    pub fn epoch_of(&self, space: &str) -> u64 {
        let stored = self
            .app
            .profile()
            .get_document(safespaces_core::store::DocumentId([0; 16]))
            .unwrap()
            .unwrap();
        let mut bytes = stored.snapshot.unwrap_or_default();
        for increment in stored.increments {
            bytes.extend_from_slice(&increment);
        }
        let registry: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        registry["spaces"][space]["epoch"].as_u64().unwrap()
    }

    /// Imports a bundle, as the person's app does with a file it was given.
    pub fn import(&self, bundle: &[u8]) -> safespaces_core::app::BundleReport {
        self.app
            .import_bundle(bundle, now())
            .unwrap_or_else(|e| panic!("{} cannot import: {e}", self.name))
    }
}

static CLOCK: AtomicU8 = AtomicU8::new(10);

/// A time that moves on, well before any invite expires.
/// Joins `app` to `space` with no network: the inviter hands over code and
/// package, the joiner hands back a request, the inviter admits and hands
/// over the welcome with a bundle made after the admission.
pub fn join_face_to_face(space: &Space, app: &SafeSpaces, role: Role, name: &str) -> Space {
    let invitation = space.invite(role, now(), None).unwrap();
    let asked = app
        .request_join(&invitation.code, &invitation.package, name, now())
        .unwrap();
    let welcome = space.admit(&asked.request, now()).unwrap();
    let bundle = space.export_bundle().unwrap();
    app.join(&welcome, &bundle, now()).unwrap()
}

pub fn now() -> Timestamp {
    Timestamp(1_000 + i64::from(CLOCK.fetch_add(1, Ordering::Relaxed)))
}

/// A space created by `people[0]` (its coordinator), every other person
/// invited with `roles` and joined face to face with bundles, and everyone
/// holding the same document.
pub struct Group {
    pub people: Vec<Person>,
    pub space: String,
}

impl Group {
    pub fn new(names: &[(&'static str, Role)]) -> Self {
        let people: Vec<Person> = names.iter().map(|(n, _)| Person::new(n)).collect();
        let space = people[0]
            .app
            .create_space("Tuesday group", people[0].name, now())
            .unwrap();
        space
            .create_session(draft("Open circle"), safespaces_core::model::Timestamp(0))
            .unwrap();
        for (person, (_, role)) in people.iter().zip(names).skip(1) {
            let joined = join_face_to_face(&space, &person.app, *role, person.name);
            people[0].import(&joined.export_bundle().unwrap());
        }
        let group = Group {
            space: space.id(),
            people,
        };
        group.share(0);
        group
    }

    pub fn person(&self, name: &str) -> &Person {
        self.people.iter().find(|p| p.name == name).unwrap()
    }

    pub fn space_of(&self, name: &str) -> Space {
        self.person(name).space(&self.space)
    }

    pub fn member_id(&self, name: &str) -> MemberId {
        self.space_of(name).my_member_id().unwrap()
    }

    /// `from`'s bundle to everyone else (those left out cannot open it).
    pub fn share(&self, from: usize) {
        let bundle = self.people[from]
            .space(&self.space)
            .export_bundle()
            .unwrap();
        for (i, p) in self.people.iter().enumerate() {
            if i != from {
                let _ = p.app.import_bundle(&bundle, now());
            }
        }
    }

    /// The coordinator `by` records every training module for `lead`,
    /// valid for decades: she may lead.
    pub fn clear(&self, by: &str, lead: &str) {
        for module in safespaces_core::model::TrainingModule::ALL {
            self.space_of(by)
                .record_training(
                    &self.member_id(lead),
                    module,
                    Timestamp(0),
                    Timestamp(4_000_000_000),
                )
                .unwrap();
        }
    }

    /// `by` (a coordinator) accepts `lead`'s offer to lead `session`.
    pub fn accept(&self, by: &str, session: &safespaces_core::model::SessionId, lead: &str) {
        self.space_of(by)
            .decide_lead(session, &self.member_id(lead), true, Timestamp(0))
            .unwrap();
    }

    pub fn bundle_of(&self, name: &str) -> Vec<u8> {
        self.space_of(name).export_bundle().unwrap()
    }

    pub fn space_id(&self) -> SpaceId {
        space_id(&self.space)
    }
}

/// A session anyone may volunteer for.
pub fn draft(title: &str) -> safespaces_core::model::SessionDraft {
    safespaces_core::model::SessionDraft {
        kind: safespaces_core::model::SessionKind::WellbeingEvent,
        title: title.into(),
        description: String::new(),
        starts_at: Timestamp(50_000),
        duration_minutes: 60,
        location: String::new(),
        capacity: 4,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

pub fn space_id(hex_id: &str) -> SpaceId {
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(hex_id, &mut bytes).unwrap();
    SpaceId(bytes)
}

/// What Mallory's modified app can do with her own device's files.
pub struct Mallory<'a> {
    pub person: &'a Person,
    pub space: SpaceId,
}

impl<'a> Mallory<'a> {
    pub fn new(person: &'a Person, space: &str) -> Self {
        Mallory {
            person,
            space: space_id(space),
        }
    }

    pub fn signing_key(&self) -> SigningKey {
        self.person
            .app
            .profile()
            .with_keyring(|k| k.signing_key().clone())
            .unwrap()
    }

    pub fn device(&self) -> DeviceId {
        self.person.device()
    }

    /// An epoch key from her keyring (its id is derived: storage.md).
    pub fn epoch_key(&self, epoch: u32) -> EpochKey {
        self.try_epoch_key(epoch)
            .expect("an epoch key Mallory holds")
    }

    /// The newest epoch whose key she holds.
    pub fn newest_epoch(&self) -> u32 {
        (0..64u32)
            .rev()
            .find(|e| self.try_epoch_key(*e).is_some())
            .unwrap_or(0)
    }

    /// An epoch key, if she holds it.
    pub fn try_epoch_key(&self, epoch: u32) -> Option<EpochKey> {
        let mut hasher = Sha256::new();
        hasher.update(b"safespaces/v1/keyring/epoch");
        hasher.update(self.space.0);
        hasher.update(epoch.to_be_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&hasher.finalize()[..16]);
        self.person
            .app
            .profile()
            .with_keyring(|k| k.key(&KeyId(id)).map(|key| *key.expose_bytes()))
            .unwrap()
            .map(EpochKey::from_bytes)
    }

    /// The attestations her device holds (what its snapshots carry).
    pub fn attestations(
        &self,
        epoch: u32,
    ) -> Vec<safespaces_core::protocol::attestation::Attestation> {
        self.own_snapshot(epoch).attestations
    }

    /// The snapshot her own device exports, opened with her keys.
    fn own_snapshot(&self, epoch: u32) -> safespaces_core::protocol::snapshot::SnapshotBody {
        let bundle = self
            .person
            .space(&hex::encode(self.space.0))
            .export_bundle()
            .unwrap();
        let key = self.epoch_key(epoch);
        let mine = self.signing_key().verifying_key();
        open_bundle(&key.content_key(), &bundle)
            .into_iter()
            .filter_map(|sealed| {
                Envelope::open(&sealed, &key.content_key(), self.space, epoch, |_| {
                    Some(mine)
                })
                .ok()
            })
            .find(|e| e.kind == EnvelopeKind::Snapshot)
            .map(|e| safespaces_core::protocol::snapshot::SnapshotBody::decode(&e.body).unwrap())
            .unwrap_or_else(|| panic!("Mallory's bundle holds no snapshot of epoch {epoch}"))
    }

    /// A snapshot envelope of `doc` with `attestations`, signed by her
    /// device.
    pub fn snapshot(
        &self,
        epoch: u32,
        doc: &mut SpaceDoc,
        attestations: Vec<safespaces_core::protocol::attestation::Attestation>,
    ) -> Vec<u8> {
        let body = safespaces_core::protocol::snapshot::SnapshotBody {
            document: doc.save(),
            attestations,
            vouched: Vec::new(),
        };
        self.envelope(EnvelopeKind::Snapshot, epoch, 1_001, body.encode())
    }

    /// Her own copy of the space's document, as her device holds it.
    pub fn doc(&self, epoch: u32) -> SpaceDoc {
        let mut doc = SpaceDoc::load(&self.own_snapshot(epoch).document).unwrap();
        doc.set_actor(
            safespaces_core::protocol::authorship::actor_for_device(&self.device()).unwrap(),
        );
        doc
    }

    /// An envelope signed by her device (or any key she likes) and sealed
    /// under an epoch key she holds.
    pub fn envelope(
        &self,
        kind: EnvelopeKind,
        epoch: u32,
        sequence: u64,
        body: Vec<u8>,
    ) -> Vec<u8> {
        Envelope {
            kind,
            space: self.space,
            epoch,
            author: self.device(),
            sequence,
            body,
        }
        .seal(&self.epoch_key(epoch).content_key(), &self.signing_key())
        .unwrap()
    }

    /// A change batch of raw automerge changes, signed (and attested) by
    /// her device.
    pub fn batch(&self, epoch: u32, changes: &[Vec<u8>]) -> Vec<u8> {
        let (body, _) = safespaces_core::protocol::exchange::batch_body(
            self.space,
            &self.device(),
            &self.signing_key(),
            changes,
        )
        .unwrap();
        self.envelope(EnvelopeKind::ChangeBatch, epoch, 1_000, body)
    }

    /// A bundle of her envelopes, sealed under the given epochs' keys.
    pub fn bundle(&self, epochs: &[u32], epoch: u32, envelopes: &[Vec<u8>]) -> Vec<u8> {
        let keys: Vec<SymmetricKey> = epochs
            .iter()
            .map(|e| self.epoch_key(*e).content_key())
            .collect();
        let refs: Vec<&SymmetricKey> = keys.iter().collect();
        let mut frame = b"SSB1".to_vec();
        frame.extend_from_slice(&self.space.0);
        frame.extend_from_slice(&epoch.to_be_bytes());
        frame.extend_from_slice(&(envelopes.len() as u32).to_be_bytes());
        for envelope in envelopes {
            frame.extend_from_slice(&(envelope.len() as u32).to_be_bytes());
            frame.extend_from_slice(envelope);
        }
        seal_padded_to(&refs, &frame).unwrap()
    }
}

/// The envelopes of a bundle (docs/offline-bundles.md).
pub fn open_bundle(key: &SymmetricKey, bundle: &[u8]) -> Vec<Vec<u8>> {
    let frame = open_padded(key, bundle).unwrap();
    let u32_at = |at: usize| u32::from_be_bytes(frame[at..at + 4].try_into().unwrap()) as usize;
    let count = u32_at(24);
    let mut at = 28;
    let mut out = Vec::new();
    for _ in 0..count {
        let len = u32_at(at);
        at += 4;
        out.push(frame[at..at + len].to_vec());
        at += len;
    }
    out
}

/// Raw automerge changes made on `doc` since `since`.
pub fn changes_since(doc: &mut SpaceDoc, since: &[automerge::ChangeHash]) -> Vec<Vec<u8>> {
    doc.changes_since(since)
}
