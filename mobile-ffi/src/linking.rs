//! Linking a new device to a person's existing one, through the relay.
//!
//! New device: `offer_link`, show the offer's code and fingerprint, then
//! `complete_link`. Old device: `begin_link` with the typed code, show the
//! pending link's fingerprint and ask the person whether the new device
//! shows the same; then `confirm_link` with the fingerprint she confirmed
//! (nothing leaves the device before), or `decline_link`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use safespaces_core::app;

use crate::app::SafeSpaces;
use crate::error::SafeSpacesError;
use crate::relay::RelayClient;
use crate::time::timestamp;

/// A link offered by a new device: show `code` to type into the old
/// device and `fingerprint` to compare with what the old one shows.
#[derive(uniffi::Object)]
pub struct LinkOffer {
    inner: app::LinkOffer,
}

#[uniffi::export]
impl LinkOffer {
    /// The code to type into the old device.
    pub fn code(&self) -> String {
        self.inner.code.clone()
    }

    /// The new device's fingerprint.
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint.clone()
    }
}

/// A new device's request, claimed on the old device and not answered
/// yet: show its `fingerprint` and ask the person to compare it with the
/// new device's screen. Nothing has left this device for it.
#[derive(uniffi::Object)]
pub struct PendingLink {
    inner: app::PendingLink,
}

#[uniffi::export]
impl PendingLink {
    /// The new device's fingerprint, as its own screen must show it.
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint().to_owned()
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl SafeSpaces {
    /// On the new device: publishes its public keys and returns the offer.
    pub async fn offer_link(
        &self,
        client: Arc<RelayClient>,
    ) -> Result<Arc<LinkOffer>, SafeSpacesError> {
        let inner = self.inner.offer_link(&client.inner).await?;
        Ok(Arc::new(LinkOffer { inner }))
    }

    /// On the old device: claims the new device's request under `code`,
    /// to show its fingerprint. Writes and sends nothing.
    /// `InviteUnusable` if nothing waits under the code.
    pub async fn begin_link(
        &self,
        client: Arc<RelayClient>,
        code: String,
    ) -> Result<Arc<PendingLink>, SafeSpacesError> {
        let inner = self.inner.begin_link(&client.inner, &code).await?;
        Ok(Arc::new(PendingLink { inner }))
    }

    /// On the old device: the person confirmed that the new device shows
    /// `fingerprint` (what she typed, or the shown one she accepted).
    /// `NotAllowed` if it is not the pending link's (nothing was sent; ask
    /// again or decline) or the link was answered already. Otherwise adds
    /// the new device to every space, syncs and hands it the package;
    /// returns how many spaces. `InviteUnusable` if someone else holding
    /// the code answered the new device first: start over.
    pub async fn confirm_link(
        &self,
        client: Arc<RelayClient>,
        pending: Arc<PendingLink>,
        fingerprint: String,
        now: SystemTime,
    ) -> Result<u64, SafeSpacesError> {
        let spaces = self
            .inner
            .confirm_link(
                &client.inner,
                &pending.inner,
                &fingerprint,
                timestamp(now, "now")?,
            )
            .await?;
        Ok(spaces as u64)
    }

    /// On the old device: answers the link with nothing. The new device
    /// waits out its deadline. `NotAllowed` if it was answered already.
    pub fn decline_link(&self, pending: Arc<PendingLink>) -> Result<(), SafeSpacesError> {
        Ok(self.inner.decline_link(&pending.inner)?)
    }

    /// On the new device: waits up to `wait_secs` for the old device's
    /// confirmation, then takes on the person's spaces; returns how many.
    /// `InviteUnusable` if nothing came in time.
    pub async fn complete_link(
        &self,
        client: Arc<RelayClient>,
        offer: Arc<LinkOffer>,
        wait_secs: u32,
        now: SystemTime,
    ) -> Result<u64, SafeSpacesError> {
        let wait = Duration::from_secs(u64::from(wait_secs));
        let spaces = self
            .inner
            .complete_link(&client.inner, &offer.inner, wait, timestamp(now, "now")?)
            .await?;
        Ok(spaces as u64)
    }
}
