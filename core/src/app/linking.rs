//! Linking a second device to a person's profile, through the relay
//! (protocol.md §8).
//!
//! On the **new** device, [`SafeSpaces::offer_link`] puts its public keys in
//! a drop-box and returns the link code to show; [`SafeSpaces::complete_link`]
//! then waits for the package. On the **old** device,
//! [`SafeSpaces::approve_link`] claims the request, records the new device
//! under the person's member entry in every space (and pushes that),
//! and puts the package: the person's secret and every space's key. The new
//! device reads each space's mailbox from its snapshot and is then a device
//! of the same person everywhere. The journal stays where it is: it never
//! leaves a device unless journal sync is turned on.

use std::sync::Arc;
use std::time::Duration;

use super::registry::{SpaceEntry, epoch_key_id};
use super::relay_sync::SyncReport;
use super::space_handle::entry;
use super::{AppError, AppResult, SafeSpaces};
use crate::model::Timestamp;
use crate::profile::KeyId;
use crate::protocol::link::{LinkPackage, LinkRequest, LinkSecret, LinkedSpace};
use crate::store::DocumentId;
use crate::sync::{DropboxId, ErrorCode, MailboxCredential, RelayClient};

/// How long the link drop-boxes live: long enough to walk to the other
/// device, short enough to bound the window in which the code is worth
/// stealing.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);

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

fn dropbox(hex_id: &str) -> AppResult<DropboxId> {
    DropboxId::from_hex(hex_id).map_err(|e| AppError::Corrupt(e.to_string()))
}

/// Logs how a step of linking ended (`offer`, `approve`, `complete`): a
/// support person asking "did the link go through?" needs nothing more,
/// and the code, fingerprint and ids must never be logged.
fn logged<T>(step: &'static str, result: AppResult<T>) -> AppResult<T> {
    match &result {
        Ok(_) => tracing::info!(step, "device link step done"),
        Err(e) => super::error::warn_failed!(e, step, "device link step failed"),
    }
    result
}

impl SafeSpaces {
    /// On the new device: publishes its public keys and returns the code.
    pub async fn offer_link(&self, client: &RelayClient) -> AppResult<LinkOffer> {
        logged("offer", self.offer(client).await)
    }

    /// On the old device: claims the new device's request, records it in
    /// every space, syncs, and hands over the package. Returns the new
    /// device's fingerprint, which the person should see match.
    pub async fn approve_link(
        &self,
        client: &RelayClient,
        code: &str,
        now: Timestamp,
    ) -> AppResult<String> {
        logged("approve", self.approve(client, code, now).await)
    }

    /// On the new device: waits (up to `wait`) for the old device's package,
    /// then takes on the person's secret and every space. Returns how many
    /// spaces it took on.
    pub async fn complete_link(
        &self,
        client: &RelayClient,
        offer: &LinkOffer,
        wait: Duration,
        now: Timestamp,
    ) -> AppResult<usize> {
        logged("complete", self.complete(client, offer, wait, now).await)
    }

    async fn offer(&self, client: &RelayClient) -> AppResult<LinkOffer> {
        let secret = LinkSecret::generate();
        let device = self.device_id()?;
        let keys = self.shared.device_keys(&device)?;
        let request = LinkRequest { device, keys };
        let sealed = request
            .seal(&secret)
            .map_err(|e| AppError::Corrupt(e.to_string()))?;
        client
            .put_dropbox(&dropbox(&secret.request_dropbox())?, sealed, Some(LINK_TTL))
            .await?;
        Ok(LinkOffer {
            code: secret.code(),
            fingerprint: request.fingerprint(),
            secret,
        })
    }

    async fn approve(&self, client: &RelayClient, code: &str, now: Timestamp) -> AppResult<String> {
        let secret = LinkSecret::parse(code).map_err(|e| AppError::Invite(e.to_string()))?;
        let sealed = client
            .claim_dropbox(&dropbox(&secret.request_dropbox())?)
            .await?;
        let request =
            LinkRequest::open(&sealed, &secret).map_err(|e| AppError::Invite(e.to_string()))?;
        let shared = Arc::clone(&self.shared);
        let spaces = self.shared.with_loaded(|loaded| {
            let mut out = Vec::new();
            let ids: Vec<_> = loaded.registry.spaces.values().cloned().collect();
            for e in ids {
                let Some(space) = e.space_id() else { continue };
                let doc = loaded
                    .spaces
                    .get_mut(&space)
                    .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
                doc.add_device(&e.member, &request.device, request.keys.clone())?;
                shared.persist_space(loaded, space)?;
                out.push(LinkedSpace {
                    space,
                    member: e.member.clone(),
                    epoch: e.epoch,
                    epoch_key: shared.epoch_key(space, e.epoch)?,
                });
            }
            Ok(out)
        })?;
        // The new device must find itself in every space's mailbox.
        self.sync(client, now).await?;
        let person_secret = self
            .shared
            .with_loaded(|loaded| Ok(*self.shared.person_secret(&loaded.registry)?))?;
        let package = LinkPackage {
            person_secret,
            spaces,
        };
        let sealed = package
            .seal(&secret)
            .map_err(|e| AppError::Corrupt(e.to_string()))?;
        client
            .put_dropbox(&dropbox(&secret.package_dropbox())?, sealed, Some(LINK_TTL))
            .await?;
        tracing::info!(
            spaces = package.spaces.len(),
            "handed a linked device its package"
        );
        Ok(request.fingerprint())
    }

    async fn complete(
        &self,
        client: &RelayClient,
        offer: &LinkOffer,
        wait: Duration,
        now: Timestamp,
    ) -> AppResult<usize> {
        let id = dropbox(&offer.secret.package_dropbox())?;
        let deadline = tokio::time::Instant::now() + wait;
        let sealed = loop {
            match client.claim_dropbox(&id).await {
                Ok(sealed) => break sealed,
                Err(e)
                    if e.code() == Some(ErrorCode::DropboxNotFound)
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let package = LinkPackage::open(&sealed, &offer.secret)
            .map_err(|e| AppError::Invite(e.to_string()))?;
        // The person's secret first: tickets for sign-ups derive from it.
        let mut person_key = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut person_key);
        self.shared
            .profile
            .insert_key(KeyId(person_key), package.person_secret)?;
        self.shared.with_loaded(|loaded| {
            let mut registry = loaded.registry.clone();
            registry.person_key = hex::encode(person_key);
            self.shared.save_registry(&registry)?;
            loaded.registry = registry;
            Ok(())
        })?;
        let mut linked = 0;
        for space in &package.spaces {
            let credential = MailboxCredential::for_epoch(&space.epoch_key);
            let page = client.read_all(&credential, 0).await?;
            let content_key = space.epoch_key.content_key();
            let (first, rest) = super::snapshots::first_snapshot(
                page.blobs,
                &content_key,
                space.space,
                space.epoch,
            );
            let Some(first) = first else {
                tracing::warn!(
                    epoch = space.epoch,
                    "a linked space's mailbox holds no snapshot to start from; skipped"
                );
                continue;
            };
            let mut doc = first.doc;
            let device = self.device_id()?;
            if let Some(actor) = crate::protocol::authorship::actor_for_device(&device) {
                doc.set_actor(actor);
            }
            self.shared.profile.insert_key(
                epoch_key_id(space.space, space.epoch),
                *space.epoch_key.expose_bytes(),
            )?;
            let document = DocumentId::random();
            self.shared.profile.put_snapshot(document, &doc.save())?;
            let id = space.space;
            let member = space.member.clone();
            let epoch = space.epoch;
            let heads = doc.heads();
            self.shared.with_loaded(|loaded| {
                loaded.spaces.insert(id, doc);
                let mut entry = SpaceEntry::joined(id, document, member, epoch, &heads);
                for a in &first.attestations {
                    entry.remember(a);
                }
                self.shared.store_entry(loaded, id, entry)
            })?;
            let mut report = SyncReport::default();
            self.shared
                .apply_pulled(id, epoch, rest, now, &mut report)?;
            self.shared.with_loaded(|loaded| {
                // Everything pulled so far is this device's starting point.
                let mut e = entry(loaded, id)?.clone();
                e.sealed_heads = loaded
                    .spaces
                    .get_mut(&id)
                    .map(|d| d.heads().iter().map(|h| h.to_string()).collect())
                    .unwrap_or_default();
                self.shared.store_entry(loaded, id, e)
            })?;
            linked += 1;
        }
        tracing::info!(
            spaces = linked,
            offered = package.spaces.len(),
            "took on the linked person's spaces"
        );
        Ok(linked)
    }
}
