//! Where this device stands in a space it holds: still in it, left (or
//! removed) and free to come back, or removed as a device for good.

use super::shared::Loaded;
use crate::protocol::SpaceId;

/// Where this device stands in a space it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Its person is an active member and the device is hers there.
    Member,
    /// Its person left or was removed: she may come back with an invite.
    Left,
    /// The device was removed from her entry (a lost phone): it never
    /// writes there again, also not as someone new.
    DeviceRemoved,
}

/// Where this device stands in `space`, if it holds it.
pub(crate) fn standing(loaded: &Loaded, space: SpaceId) -> Option<Standing> {
    let entry = loaded.registry.spaces.get(&space)?;
    let doc = loaded.spaces.get(&space)?;
    Some(match doc.member(&entry.member) {
        Ok(m) if !m.is_active() => Standing::Left,
        Err(_) => Standing::Left,
        Ok(_)
            if doc
                .removed_devices(&entry.member)
                .contains_key(&loaded.registry.device) =>
        {
            Standing::DeviceRemoved
        }
        Ok(_) => Standing::Member,
    })
}
