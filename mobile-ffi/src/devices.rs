//! The person's own devices: listing, naming, and removing a lost one.

use std::time::SystemTime;

use safespaces_core::{app, model};

use crate::app::SafeSpaces;
use crate::convert::convert_all;
use crate::error::SafeSpacesError;
use crate::time::{system_time, timestamp};

/// One of the person's devices, as this device knows it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DeviceInfo {
    /// Its id (16 hex digits).
    pub id: String,
    /// What to compare with the device's own screen: the same text linking
    /// showed.
    pub fingerprint: String,
    /// The name the person gave it on this device.
    pub name: Option<String>,
    /// Whether it is the device the app runs on.
    pub this_device: bool,
    /// When this device last received something it signed.
    pub last_seen: Option<SystemTime>,
    /// When it was removed, if it was: it stays listed, marked.
    pub removed_at: Option<SystemTime>,
}

impl From<app::DeviceInfo> for DeviceInfo {
    fn from(d: app::DeviceInfo) -> Self {
        DeviceInfo {
            id: d.id.to_string(),
            fingerprint: d.fingerprint,
            name: d.name,
            this_device: d.this_device,
            last_seen: d.last_seen.map(system_time),
            removed_at: d.removed_at.map(system_time),
        }
    }
}

#[uniffi::export]
impl SafeSpaces {
    /// The person's devices this device knows of, this one first; removed
    /// ones stay listed with `removedAt`.
    pub fn devices(&self) -> Result<Vec<DeviceInfo>, SafeSpacesError> {
        Ok(convert_all(self.inner.devices()?))
    }

    /// Names one of the person's devices on this device ("work phone");
    /// `null` clears it. The name never leaves this device.
    pub fn name_device(&self, device: String, name: Option<String>) -> Result<(), SafeSpacesError> {
        Ok(self
            .inner
            .name_device(&model::DeviceId::from(device), name.as_deref())?)
    }

    /// Removes a lost or stolen device of the person's from every space
    /// (each moves to a new key without it) and from the journal (a new
    /// journal key, sealed to the remaining devices). Returns how many
    /// spaces it was removed from; sync next, so it learns nothing new.
    /// It cannot be undone. `InvalidInput` for this device itself or an
    /// unknown one.
    pub fn remove_device(&self, device: String, now: SystemTime) -> Result<u32, SafeSpacesError> {
        let removed = self
            .inner
            .remove_device(&model::DeviceId::from(device), timestamp(now, "now")?)?;
        Ok(u32::try_from(removed).unwrap_or(u32::MAX))
    }
}
