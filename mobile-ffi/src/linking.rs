//! Linking a new device to a person's existing one, through the relay.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use safespaces_core::app;

use crate::time::timestamp;
use crate::{RelayClient, SafeSpaces, SafeSpacesError};

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

    /// On the old device: approves the link typed in as `code`, and returns
    /// the new device's fingerprint, which the person should see match.
    pub async fn approve_link(
        &self,
        client: Arc<RelayClient>,
        code: String,
        now: SystemTime,
    ) -> Result<String, SafeSpacesError> {
        Ok(self
            .inner
            .approve_link(&client.inner, &code, timestamp(now, "now")?)
            .await?)
    }

    /// On the new device: waits up to `wait_secs` for the old device's
    /// approval, then takes on the person's spaces; returns how many.
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
