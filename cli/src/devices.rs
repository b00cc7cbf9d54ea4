//! `safespaces devices`: the person's own devices, named here, and removing
//! a lost or stolen one (docs/cli.md).

use safespaces_core::app::DeviceInfo;
use serde_json::{Value, json};

use crate::Failure;
use crate::args::DevicesCommand;
use crate::commands::{Out, now, out, unlock};
use crate::resolve::pick;
use crate::times::show_time;

fn shown(d: &DeviceInfo) -> Value {
    json!({
        "id": d.id.as_str(),
        "fingerprint": d.fingerprint,
        "name": d.name,
        "this_device": d.this_device,
        "last_seen": d.last_seen.map(|t| t.0),
        "removed_at": d.removed_at.map(|t| t.0),
    })
}

fn find(devices: &[DeviceInfo], typed: &str) -> Result<DeviceInfo, Failure> {
    let candidates: Vec<(String, String, DeviceInfo)> = devices
        .iter()
        .map(|d| {
            (
                d.id.to_string(),
                d.name.clone().unwrap_or_default(),
                d.clone(),
            )
        })
        .collect();
    Ok(pick("device", typed, &candidates)?.clone())
}

/// Runs one `devices` command.
pub fn devices(cli: &crate::args::Cli, cmd: &DevicesCommand) -> Result<Out, Failure> {
    let app = unlock(cli)?;
    match cmd {
        DevicesCommand::List => {
            let devices = app.devices()?;
            // Devices belong to no space: their times are shown in this
            // computer's zone.
            let zone = safespaces_core::model::SpaceZone::device();
            let mut human = String::new();
            for d in &devices {
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
            out(
                human.trim_end().to_string(),
                json!({"devices": devices.iter().map(shown).collect::<Vec<_>>()}),
            )
        }
        DevicesCommand::Name { device, name } => {
            let d = find(&app.devices()?, device)?;
            app.name_device(&d.id, name.as_deref())?;
            out(
                match name {
                    Some(n) => format!("Named {} \"{}\".", d.id, n.trim()),
                    None => format!("Cleared the name of {}.", d.id),
                },
                json!({"device": d.id.as_str(), "name": name.as_deref().map(str::trim)}),
            )
        }
        DevicesCommand::Remove { device, yes } => {
            let d = find(&app.devices()?, device)?;
            if !yes {
                return Err(Failure {
                    code: crate::ExitCode::Usage,
                    message: format!(
                        "removing {} (fingerprint {}) cannot be undone; add --yes",
                        d.id, d.fingerprint
                    ),
                });
            }
            let spaces = app.remove_device(&d.id, now())?;
            out(
                format!(
                    "Removed {} from {spaces} space(s) and your journal. Sync now so it learns nothing new.",
                    d.id
                ),
                json!({"removed": d.id.as_str(), "spaces": spaces}),
            )
        }
    }
}
