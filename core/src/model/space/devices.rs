//! A member's devices: adding one, removing a lost or stolen one, and
//! which of them are still active.

use std::collections::BTreeMap;

use automerge::ReadDoc;

use autosurgeon::reconcile_prop;

use super::doc::{MEMBERS, SpaceDoc, invalid, timestamp_value};
use crate::model::document::child_map;
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{DeviceId, MemberId};
use crate::model::member::{DeviceKeys, removed_device_key, removed_device_of};
use crate::model::time::Timestamp;

impl SpaceDoc {
    /// Records one of a member's devices (its public keys). Only the member
    /// themselves adds their devices.
    pub fn add_device(
        &mut self,
        member: &MemberId,
        device: &DeviceId,
        keys: DeviceKeys,
    ) -> ModelResult<()> {
        self.require_active(member)?;
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or(ModelError::NotAMember)?;
        let devices = child_map(&self.doc, &obj, "devices")
            .ok_or_else(|| invalid("member without devices"))?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &devices, device.as_str(), &keys)?;
            Ok(())
        })
    }

    /// Removes one of `by`'s own devices (a lost or stolen phone): it stays
    /// listed, so what it signed before still verifies, but every device
    /// refuses what it writes from then on and no handover gives it the
    /// next epoch's key (protocol.md §6). Only the member removes her own
    /// devices: a coordinator who could would cut a member off from her
    /// own phone; a coordinator removes the member instead. Removing a
    /// device twice changes nothing.
    pub fn remove_device(
        &mut self,
        by: &MemberId,
        device: &DeviceId,
        now: Timestamp,
    ) -> ModelResult<()> {
        let member = self.require_active(by)?;
        if !member.devices.contains_key(device) {
            return Err(ModelError::InvalidInput {
                field: "device",
                reason: "not one of this member's devices".into(),
            });
        }
        if self.removed_devices(by).contains_key(device) {
            return Ok(());
        }
        let obj = self
            .item_obj(MEMBERS, by.as_str())
            .ok_or(ModelError::NotAMember)?;
        let key = removed_device_key(device);
        self.transact(|doc, _| {
            reconcile_prop(doc, &obj, key.as_str(), now)?;
            Ok(())
        })
    }

    /// The devices of `member` that were removed, with when (the earliest
    /// value written, also one that lost a concurrent write: a removal
    /// cannot be written over).
    pub fn removed_devices(&self, member: &MemberId) -> BTreeMap<DeviceId, Timestamp> {
        let mut out = BTreeMap::new();
        let Some(obj) = self.item_obj(MEMBERS, member.as_str()) else {
            return out;
        };
        for key in self.doc.keys(&obj) {
            let Some(device) = removed_device_of(&key) else {
                continue;
            };
            let at = self
                .doc
                .get_all(&obj, key.as_str())
                .ok()
                .and_then(|values| {
                    values
                        .into_iter()
                        .filter_map(|(value, _)| timestamp_value(&value))
                        .min()
                });
            if let Some(at) = at {
                out.insert(device, at);
            }
        }
        out
    }

    /// The devices of `member` that are not removed: the ones given keys
    /// and names, and whose writes count.
    pub fn active_devices(&self, member: &MemberId) -> ModelResult<BTreeMap<DeviceId, DeviceKeys>> {
        let removed = self.removed_devices(member);
        let mut devices = self.member(member)?.devices;
        devices.retain(|d, _| !removed.contains_key(d));
        Ok(devices)
    }
}
