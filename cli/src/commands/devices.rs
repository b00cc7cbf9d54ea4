//! `devices`: the person's own devices, named here, and removing a lost
//! or stolen one (docs/cli.md).

use safespaces_core::app::{DeviceInfo, SafeSpaces};
use safespaces_core::model::{SpaceZone, Timestamp};
use serde::Serialize;

use super::output::Render;
use crate::failure::Failure;
use crate::resolve::find_device;
use crate::times::{now, show_time};

/// `devices list`: the person's devices this one knows of.
#[derive(Serialize)]
pub struct Devices {
    devices: Vec<DeviceRow>,
}

/// One device of [`Devices`]; times in seconds, or null.
#[derive(Serialize)]
struct DeviceRow {
    id: String,
    fingerprint: String,
    /// The name given here, or null.
    name: Option<String>,
    this_device: bool,
    last_seen: Option<Timestamp>,
    removed_at: Option<Timestamp>,
}

impl From<DeviceInfo> for DeviceRow {
    fn from(d: DeviceInfo) -> Self {
        DeviceRow {
            id: d.id.to_string(),
            fingerprint: d.fingerprint,
            name: d.name,
            this_device: d.this_device,
            last_seen: d.last_seen,
            removed_at: d.removed_at,
        }
    }
}

impl Render for Devices {
    fn human(&self) -> String {
        // Devices belong to no space: their times are shown in this
        // computer's zone.
        let zone = SpaceZone::device();
        let mut human = String::new();
        for d in &self.devices {
            let name = d.name.as_deref().unwrap_or("(no name)");
            let state = if d.this_device {
                "this device".to_string()
            } else if let Some(at) = d.removed_at {
                format!("removed {}", show_time(&zone, at))
            } else {
                match d.last_seen {
                    Some(at) => format!("last heard from {}", show_time(&zone, at)),
                    None => "not heard from yet".to_string(),
                }
            };
            human.push_str(&format!(
                "{}  {name}  fingerprint {}  {state}\n",
                d.id, d.fingerprint
            ));
        }
        human.trim_end().to_string()
    }
}

/// Lists the person's devices.
pub fn list(app: &SafeSpaces) -> Result<Devices, Failure> {
    Ok(Devices {
        devices: app.devices()?.into_iter().map(DeviceRow::from).collect(),
    })
}

/// `devices name`: the device, and its name here now (null: cleared).
#[derive(Serialize)]
pub struct Named {
    device: String,
    name: Option<String>,
}

impl Render for Named {
    fn human(&self) -> String {
        match &self.name {
            Some(n) => format!("Named {} \"{}\".", self.device, n),
            None => format!("Cleared the name of {}.", self.device),
        }
    }
}

/// Names one of the person's devices here, or clears its name.
pub fn name(app: &SafeSpaces, device: &str, name: Option<&str>) -> Result<Named, Failure> {
    let d = find_device(&app.devices()?, device)?;
    app.name_device(&d.id, name)?;
    Ok(Named {
        device: d.id.to_string(),
        name: name.map(|n| n.trim().to_string()),
    })
}

/// `devices remove`: the device removed, and from how many spaces.
#[derive(Serialize)]
pub struct Removed {
    removed: String,
    spaces: usize,
}

impl Render for Removed {
    fn human(&self) -> String {
        format!(
            "Removed {} from {} space(s) and your journal. Sync now so it learns nothing new.",
            self.removed, self.spaces
        )
    }
}

/// Removes a lost or stolen device; refused without `--yes`.
pub fn remove(app: &SafeSpaces, device: &str, yes: bool) -> Result<Removed, Failure> {
    let d = find_device(&app.devices()?, device)?;
    if !yes {
        return Err(Failure {
            code: crate::exit::ExitCode::Usage,
            message: format!(
                "removing {} (fingerprint {}) cannot be undone; add --yes",
                d.id, d.fingerprint
            ),
        });
    }
    let spaces = app.remove_device(&d.id, now())?;
    Ok(Removed {
        removed: d.id.to_string(),
        spaces,
    })
}
