//! Linking a second device to a person's profile, through the relay
//! (protocol.md §8).
//!
//! On the **new** device, [`SafeSpaces::offer_link`] puts its public keys in
//! a drop-box and returns the link code and its fingerprint to show;
//! [`SafeSpaces::complete_link`] then waits for the package.
//!
//! On the **old** device, the person types the code:
//! [`SafeSpaces::begin_link`] claims the request and returns a
//! [`PendingLink`] whose fingerprint the app shows. Nothing is written
//! here or sent anywhere yet. The person compares it with the new
//! device's screen; [`SafeSpaces::confirm_link`] takes the fingerprint she
//! confirmed and refuses any other, and only then records the new device
//! under her member entry in every space (and pushes that) and puts the
//! package: her secret, every space's key, the journal's epoch and key and
//! her devices, sealed to the new device's own key inside the code's.
//! [`SafeSpaces::decline_link`] answers it with nothing.
//!
//! The new device reads each space's mailbox from its snapshot and is then
//! a device of the same person everywhere, and can follow her journal from
//! its current epoch. The journal's entries stay where they are: they
//! never leave a device unless journal sync is turned on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::adopting::Adoption;
use super::error::{AppError, AppResult};
use super::registry::{AdoptedJournalHandover, JournalEpoch, OwnDevice};
use super::safe_spaces::SafeSpaces;
use super::shared::Loaded;
use super::space_sync::SyncReport;
use crate::model::{DeviceId, Timestamp};
use crate::protocol::link::{
    LinkError, LinkPackage, LinkRequest, LinkSecret, LinkedDevice, LinkedJournal, LinkedSpace,
    fingerprints_match,
};
use crate::relay::{DropboxId, ErrorCode, MailboxCredential, RelayTransport};

/// How long the link drop-boxes live: long enough to walk to the other
/// device, short enough to bound the window in which the code is worth
/// stealing.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// How often the new device asks for its package while it waits.
const PACKAGE_POLL: Duration = Duration::from_millis(500);

/// A link offered by a new device.
pub struct LinkOffer {
    /// The code to type into the old device.
    pub code: String,
    /// The new device's fingerprint, to compare with what the old one shows.
    pub fingerprint: String,
    secret: LinkSecret,
}

impl LinkOffer {
    /// The secret behind the code, for [`SafeSpaces::complete_link`].
    pub fn secret(&self) -> &LinkSecret {
        &self.secret
    }
}

/// Where a [`PendingLink`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// Shown, not answered.
    Waiting,
    /// A confirmation is under way.
    Busy,
    /// Confirmed (the package is out) or declined.
    Answered,
}

/// A new device's request, claimed on the old device and waiting for the
/// person to confirm its fingerprint. Nothing of hers has left this device
/// for it, and nothing will unless [`SafeSpaces::confirm_link`] is given
/// the same fingerprint.
pub struct PendingLink {
    request: LinkRequest,
    secret: LinkSecret,
    fingerprint: String,
    answer: Mutex<Answer>,
}

impl std::fmt::Debug for PendingLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingLink(..)")
    }
}

impl PendingLink {
    /// The new device's fingerprint: what its screen must show too.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The new device's id.
    pub fn device(&self) -> &DeviceId {
        &self.request.device
    }

    fn answer(&self) -> std::sync::MutexGuard<'_, Answer> {
        // The state is a plain enum: a panic elsewhere cannot leave it torn.
        self.answer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves from waiting to `to`, or says it was answered already.
    fn take(&self, to: Answer) -> AppResult<()> {
        let mut answer = self.answer();
        if *answer != Answer::Waiting {
            return Err(LinkError::AlreadyAnswered.into());
        }
        *answer = to;
        Ok(())
    }
}

fn dropbox(hex_id: &str) -> AppResult<DropboxId> {
    DropboxId::from_hex(hex_id).map_err(|e| AppError::internal("deriving a drop-box id", e))
}

/// Logs how a step of linking ended (`offer`, `begin`, `confirm`,
/// `decline`, `complete`): a support person asking "did the link go
/// through?" needs nothing more, and the code, fingerprint and ids must
/// never be logged.
fn logged<T>(step: &'static str, result: AppResult<T>) -> AppResult<T> {
    match &result {
        Ok(_) => tracing::info!(step, "device link step done"),
        Err(e) => super::error::warn_failed!(e, step, "device link step failed"),
    }
    result
}

impl SafeSpaces {
    /// On the new device: publishes its public keys and returns the code
    /// and the fingerprint to show.
    pub async fn offer_link(&self, client: &RelayTransport) -> AppResult<LinkOffer> {
        logged("offer", self.offer(client).await)
    }

    /// On the old device: claims the request the new device put under
    /// `code` and returns it, to show its fingerprint. Writes nothing and
    /// sends nothing. [`LinkError::NoRequest`] if nothing waits under the
    /// code (typed wrong, expired, or claimed by someone else).
    pub async fn begin_link(&self, client: &RelayTransport, code: &str) -> AppResult<PendingLink> {
        logged("begin", self.begin(client, code).await)
    }

    /// On the old device, once the person has compared fingerprints:
    /// `confirmed_fingerprint` is what she typed or confirmed (spaces,
    /// dashes and case do not matter). Refuses any other fingerprint
    /// ([`LinkError::FingerprintMismatch`], nothing written: she may try
    /// again or decline) and a link already answered
    /// ([`LinkError::AlreadyAnswered`]). Otherwise records the new device
    /// under her member entry in every space and among her devices, syncs,
    /// and hands over the package. Returns how many spaces it was added to.
    ///
    /// [`LinkError::PackageSlotTaken`] means someone else holding the code
    /// answered the new device first: it must not be used; start over.
    /// Any other failure (the relay unreachable) leaves the link waiting to
    /// be confirmed again; the device may already be recorded here, which
    /// is harmless: it is the one she confirmed.
    pub async fn confirm_link(
        &self,
        client: &RelayTransport,
        pending: &PendingLink,
        confirmed_fingerprint: &str,
        now: Timestamp,
    ) -> AppResult<usize> {
        logged(
            "confirm",
            self.confirm(client, pending, confirmed_fingerprint, now)
                .await,
        )
    }

    /// On the old device: answers the link with nothing (the fingerprints
    /// differ, or the person changed her mind). Nothing is written or
    /// sent; the new device waits out its deadline and reports
    /// [`LinkError::NoPackage`]. [`LinkError::AlreadyAnswered`] if it was
    /// confirmed or declined already.
    pub fn decline_link(&self, pending: &PendingLink) -> AppResult<()> {
        logged("decline", pending.take(Answer::Answered))
    }

    /// On the new device: waits (up to `wait`) for the old device's package,
    /// then takes on the person's secret, her journal's epoch, her devices
    /// and every space. Returns how many spaces it took on.
    /// [`LinkError::NoPackage`] if none came in time.
    pub async fn complete_link(
        &self,
        client: &RelayTransport,
        offer: &LinkOffer,
        wait: Duration,
        now: Timestamp,
    ) -> AppResult<usize> {
        logged("complete", self.complete(client, offer, wait, now).await)
    }

    async fn offer(&self, client: &RelayTransport) -> AppResult<LinkOffer> {
        let secret = LinkSecret::generate();
        let device = self.device_id()?;
        let keys = self.shared.device_keys(&device)?;
        let request = LinkRequest { device, keys };
        let sealed = request
            .seal(&secret)
            .map_err(|e| AppError::internal("sealing a link request", e))?;
        client
            .put_dropbox(&dropbox(&secret.request_dropbox())?, sealed, Some(LINK_TTL))
            .await?;
        Ok(LinkOffer {
            code: secret.code(),
            fingerprint: request.fingerprint(),
            secret,
        })
    }

    async fn begin(&self, client: &RelayTransport, code: &str) -> AppResult<PendingLink> {
        let secret = LinkSecret::parse(code)?;
        let sealed = match client
            .claim_dropbox(&dropbox(&secret.request_dropbox())?)
            .await
        {
            Ok(sealed) => sealed,
            Err(e) if e.code() == Some(ErrorCode::DropboxNotFound) => {
                return Err(LinkError::NoRequest.into());
            }
            Err(e) => return Err(e.into()),
        };
        let request = LinkRequest::open(&sealed, &secret)?;
        // Read only: a request this device must refuse is refused before
        // anything is shown, and nothing is written either way.
        self.shared.with_loaded(|loaded| {
            if request.device == loaded.registry.device || known_removed(loaded, &request.device) {
                return Err(LinkError::NotANewDevice.into());
            }
            Ok(())
        })?;
        Ok(PendingLink {
            fingerprint: request.fingerprint(),
            request,
            secret,
            answer: Mutex::new(Answer::Waiting),
        })
    }

    async fn confirm(
        &self,
        client: &RelayTransport,
        pending: &PendingLink,
        confirmed_fingerprint: &str,
        now: Timestamp,
    ) -> AppResult<usize> {
        if !fingerprints_match(confirmed_fingerprint, &pending.fingerprint) {
            return Err(LinkError::FingerprintMismatch.into());
        }
        pending.take(Answer::Busy)?;
        let result = self.hand_over(client, pending, now).await;
        let taken = matches!(
            result,
            Ok(_) | Err(AppError::Link(LinkError::PackageSlotTaken))
        );
        *pending.answer() = if taken {
            Answer::Answered
        } else {
            Answer::Waiting
        };
        result
    }

    /// Records the confirmed device everywhere, syncs, and puts its package.
    async fn hand_over(
        &self,
        client: &RelayTransport,
        pending: &PendingLink,
        now: Timestamp,
    ) -> AppResult<usize> {
        let request = &pending.request;
        let slot = dropbox(&pending.secret.package_dropbox())?;
        // Someone else holding the code answered first: stop before the
        // device is recorded anywhere.
        if client.dropbox_waiting(&slot).await?.is_some() {
            return Err(LinkError::PackageSlotTaken.into());
        }
        let shared = Arc::clone(&self.shared);
        self.shared.with_loaded(|loaded| {
            let entries: Vec<_> = loaded.registry.spaces.values().cloned().collect();
            for e in entries {
                let space = e.space;
                let doc = loaded
                    .spaces
                    .get_mut(&space)
                    .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
                // A space she left keeps its entry here but is no longer
                // hers to add devices to.
                if !doc.member(&e.member).is_ok_and(|m| m.is_active()) {
                    continue;
                }
                doc.add_device(&e.member, &request.device, request.keys.clone())?;
                shared.persist_space(loaded, space)?;
            }
            shared.update_registry(loaded, |registry, _| {
                registry
                    .own_devices
                    .entry(request.device.clone())
                    .or_insert(OwnDevice {
                        keys: request.keys.clone(),
                        name: None,
                        last_seen: None,
                        removed_at: None,
                    });
                Ok(())
            })
        })?;
        // The new device must find itself in every space's mailbox; the
        // sync may also move spaces or the journal to new epochs, so the
        // package is made after it.
        self.sync(client, now).await?;
        let package = self.shared.with_loaded(|loaded| {
            shared.refresh_own_devices(loaded)?;
            // A removal this device knows of that the journal key was not
            // kept from: move on now, with the new device among the
            // recipients, rather than hand it a key a removed device holds.
            shared.rotate_journal_if_needed(loaded)?;
            self.package_for(loaded, &request.device)
        })?;
        let sealed = package.seal(&pending.secret, &request.keys.age_recipient)?;
        match client.put_dropbox(&slot, sealed, Some(LINK_TTL)).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(ErrorCode::DropboxExists) => {
                return Err(LinkError::PackageSlotTaken.into());
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            spaces = package.spaces.len(),
            journal_epoch = package.journal.epoch,
            devices = package.devices.len(),
            "handed a linked device its package"
        );
        Ok(package.spaces.len())
    }

    /// The package for `device`: the person's secret, every space it is
    /// listed in with its current key, the journal's epoch, the person's
    /// devices.
    fn package_for(&self, loaded: &Loaded, device: &DeviceId) -> AppResult<LinkPackage> {
        let shared = &self.shared;
        let mut spaces = Vec::new();
        for (&space, e) in &loaded.registry.spaces {
            let listed = loaded.spaces.get(&space).is_some_and(|doc| {
                doc.member(&e.member)
                    .is_ok_and(|m| m.is_active() && m.devices.contains_key(device))
            });
            if !listed {
                continue;
            }
            spaces.push(LinkedSpace {
                space,
                member: e.member.clone(),
                epoch: e.epoch,
                epoch_key: shared.keys().epoch(space, e.epoch)?,
                admin_key: e
                    .admin_key(e.epoch)
                    .ok_or_else(|| AppError::damaged("the admin key of a space's mailbox"))?,
                admin_seed: shared.keys().admin_seed(space, e.epoch)?,
            });
        }
        let j = &loaded.registry.journal_epoch;
        let key = match j.epoch {
            0 => None,
            epoch => Some(shared.keys().journal(&loaded.registry, epoch)?),
        };
        // The new device reads the epoch it left for competitors of the
        // adopted handover, as this one does, and needs its key for that.
        let previous_key = match (&j.adopted, j.epoch.checked_sub(1)) {
            (Some(_), Some(before)) if before > 0 => {
                Some(shared.keys().journal(&loaded.registry, before)?)
            }
            _ => None,
        };
        let journal = LinkedJournal {
            epoch: j.epoch,
            key,
            previous_key,
            answered: j.answered.clone(),
            adopted: j
                .adopted
                .as_ref()
                .map(|a| (a.author.clone(), a.rank.clone())),
        };
        let devices = loaded
            .registry
            .own_devices
            .iter()
            .map(|(id, d)| LinkedDevice {
                device: id.clone(),
                keys: d.keys.clone(),
                removed_at: d.removed_at,
            })
            .collect();
        Ok(LinkPackage {
            person_secret: *shared.keys().person_secret(&loaded.registry)?,
            spaces,
            journal,
            devices,
        })
    }

    async fn complete(
        &self,
        client: &RelayTransport,
        offer: &LinkOffer,
        wait: Duration,
        now: Timestamp,
    ) -> AppResult<usize> {
        let id = dropbox(&offer.secret.package_dropbox())?;
        let deadline = tokio::time::Instant::now() + wait;
        let sealed = loop {
            match client.claim_dropbox(&id).await {
                Ok(sealed) => break sealed,
                Err(e) if e.code() == Some(ErrorCode::DropboxNotFound) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(LinkError::NoPackage.into());
                    }
                    tokio::time::sleep(PACKAGE_POLL).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let identity = self.shared.keys().identity()?;
        let package = LinkPackage::open(&sealed, &offer.secret, &identity)?;
        self.take_on_person(&package)?;
        let mut linked = 0;
        for space in &package.spaces {
            if self.take_on_space(client, space, now).await? {
                linked += 1;
            }
        }
        tracing::info!(
            spaces = linked,
            offered = package.spaces.len(),
            journal_epoch = package.journal.epoch,
            "took on the linked person's spaces"
        );
        Ok(linked)
    }

    /// Takes on the person's secret, the journal's epoch and her devices.
    fn take_on_person(&self, package: &LinkPackage) -> AppResult<()> {
        let keys = self.shared.keys();
        // Keys first: a crash after this leaves unused keys, never a
        // registry pointing at a key that is not there.
        let person_key = keys.keep_person_secret(&package.person_secret)?;
        let j = &package.journal;
        if let Some(key) = &j.key {
            keys.keep_journal(j.epoch, key)?;
        }
        if let (Some(key), Some(before)) = (&j.previous_key, j.epoch.checked_sub(1)) {
            keys.keep_journal(before, key)?;
        }
        self.shared.with_loaded(|loaded| {
            self.shared.update_registry(loaded, |registry, _| {
                registry.person_key = person_key;
                registry.journal_epoch = JournalEpoch {
                    epoch: j.epoch,
                    answered: j.answered.clone(),
                    adopted: j
                        .adopted
                        .as_ref()
                        .map(|(author, rank)| AdoptedJournalHandover {
                            author: author.clone(),
                            rank: rank.clone(),
                        }),
                    previous_cursor: 0,
                    outbox: Vec::new(),
                };
                // The journal's mailbox is read from its start, and this
                // device's journal goes there whole.
                registry.journal_cursor = 0;
                registry.journal_pushed_heads.clear();
                let me = registry.device.clone();
                for d in package.devices.iter().filter(|d| d.device != me) {
                    let known = registry
                        .own_devices
                        .entry(d.device.clone())
                        .or_insert(OwnDevice {
                            keys: d.keys.clone(),
                            name: None,
                            last_seen: None,
                            removed_at: None,
                        });
                    // Removed stays removed, from the earliest time known.
                    if let Some(at) = d.removed_at {
                        known.removed_at = Some(known.removed_at.map_or(at, |r| r.min(at)));
                    }
                }
                Ok(())
            })
        })
    }

    /// Takes on one space from its mailbox's first snapshot; `false` if the
    /// mailbox holds none to start from.
    async fn take_on_space(
        &self,
        client: &RelayTransport,
        space: &LinkedSpace,
        now: Timestamp,
    ) -> AppResult<bool> {
        let credential = MailboxCredential::for_epoch(
            &space.epoch_key,
            space.admin_key,
            space.admin_seed.as_ref(),
        );
        let page = client.read_all(&credential, 0).await?;
        let content_key = space.epoch_key.content_key();
        let (first, rest) =
            super::snapshots::first_snapshot(page.blobs, &content_key, space.space, space.epoch);
        let Some(first) = first else {
            tracing::warn!(
                epoch = space.epoch,
                "a linked space's mailbox holds no snapshot to start from; skipped"
            );
            return Ok(false);
        };
        let id = space.space;
        let epoch = space.epoch;
        self.shared.with_loaded(|loaded| {
            let adoption = Adoption {
                space: id,
                member: space.member.clone(),
                epoch,
                epoch_key: &space.epoch_key,
                admin_key: space.admin_key,
                admin_seed: space.admin_seed.as_ref(),
                first,
            };
            self.shared.adopt_space(loaded, adoption, |_| {})
        })?;
        let mut report = SyncReport::default();
        self.shared
            .apply_pulled(id, epoch, rest, now, &mut report)?;
        self.shared.with_loaded(|loaded| {
            // Everything pulled so far is this device's starting point.
            self.shared.update_space(loaded, id, |e, loaded| {
                e.sealed_heads = loaded
                    .spaces
                    .get_mut(&id)
                    .map(|d| d.heads())
                    .unwrap_or_default();
                Ok(())
            })
        })?;
        Ok(true)
    }
}

/// Whether `device` is one of the person's devices this device holds
/// removed, in its list or in any of her spaces.
fn known_removed(loaded: &Loaded, device: &DeviceId) -> bool {
    let listed = loaded
        .registry
        .own_devices
        .get(device)
        .is_some_and(|d| d.removed_at.is_some());
    listed
        || loaded.registry.spaces.iter().any(|(space, e)| {
            loaded
                .spaces
                .get(space)
                .is_some_and(|doc| doc.removed_devices(&e.member).contains_key(device))
        })
}
