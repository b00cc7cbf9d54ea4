//! Commands on spaces as a whole: `space create`, `time-zone`, `list`,
//! `leave` and `forget`.

use safespaces_core::app::SafeSpaces;
use safespaces_core::model::SpaceZone;
use serde::Serialize;

use super::output::Render;
use crate::failure::Failure;
use crate::resolve::find_space;
use crate::times::now;

/// `space create`: the new space, and the zone its times are in.
#[derive(Serialize)]
pub struct Created {
    id: String,
    name: String,
    time_zone: String,
}

impl Render for Created {
    fn human(&self) -> String {
        format!(
            "Created space {:?} ({}); you are its coordinator. Times are in {}.",
            self.name, self.id, self.time_zone
        )
    }
}

/// Creates a space in `time_zone` (this device's zone when left out).
pub fn create(
    app: &SafeSpaces,
    name: &str,
    pseudonym: &str,
    time_zone: Option<&str>,
) -> Result<Created, Failure> {
    let zone = match time_zone {
        Some(typed) => SpaceZone::parse(typed)?,
        None => SpaceZone::device(),
    };
    let space = app.create_space_in(name, pseudonym, &zone, now())?;
    Ok(Created {
        id: space.id(),
        name: name.to_string(),
        time_zone: zone.name().to_string(),
    })
}

/// `space time-zone`: the space's zone, and whether this version knows it.
#[derive(Serialize)]
pub struct TimeZone {
    time_zone: String,
    known: bool,
}

impl Render for TimeZone {
    fn human(&self) -> String {
        if self.known {
            format!("Times in this space are in {}.", self.time_zone)
        } else {
            format!(
                "This space names the time zone {:?}, which this version does not know; times are shown in UTC.",
                self.time_zone
            )
        }
    }
}

/// Shows the space's time zone, after setting it to `zone` if given.
pub fn time_zone(app: &SafeSpaces, space: &str, zone: Option<&str>) -> Result<TimeZone, Failure> {
    let space = find_space(app, space)?;
    if let Some(typed) = zone {
        space.set_time_zone(&SpaceZone::parse(typed)?)?;
    }
    let zone = space.time_zone()?;
    Ok(TimeZone {
        time_zone: zone.name().to_string(),
        known: zone.is_known(),
    })
}

/// `space list`: every space on this device.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Spaces(Vec<SpaceRow>);

/// One space of [`Spaces`].
#[derive(Serialize)]
struct SpaceRow {
    id: String,
    name: String,
    left: bool,
    sequence: Sequence,
}

/// What the envelope numbers of a space's members showed so far.
#[derive(Serialize)]
struct Sequence {
    /// Missing now.
    missing: u64,
    /// Missing ones noticed ever.
    missing_noticed: u64,
    /// Numbers used twice.
    reused: u64,
}

impl Render for Spaces {
    fn human(&self) -> String {
        self.0
            .iter()
            .map(|s| {
                let left = if s.left { "  (left)" } else { "" };
                let missing = if s.sequence.missing > 0 {
                    format!("  ({} envelope(s) missing)", s.sequence.missing)
                } else {
                    String::new()
                };
                let reused = if s.sequence.reused > 0 {
                    format!("  ({} envelope number(s) used twice)", s.sequence.reused)
                } else {
                    String::new()
                };
                format!("{}  {}{left}{missing}{reused}", s.id, s.name)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists this device's spaces, with what their envelope numbers showed.
pub fn list(app: &SafeSpaces) -> Result<Spaces, Failure> {
    let spaces = app.spaces()?;
    let statuses = spaces
        .iter()
        .map(|s| app.space(&s.id).and_then(|h| h.sequence_status()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Spaces(
        spaces
            .into_iter()
            .zip(statuses)
            .map(|(s, status)| SpaceRow {
                id: s.id,
                name: s.name,
                left: s.left,
                sequence: Sequence {
                    missing: status.missing,
                    missing_noticed: status.missing_noticed,
                    reused: status.reused,
                },
            })
            .collect(),
    ))
}

/// `space leave`: the space this device left.
#[derive(Serialize)]
pub struct Left {
    left: String,
}

impl Render for Left {
    fn human(&self) -> String {
        "You left the space. It stays here, read-only, until you forget it (space forget).".into()
    }
}

/// Leaves a space; it stays here, read-only.
pub fn leave(app: &SafeSpaces, space: &str) -> Result<Left, Failure> {
    let space = find_space(app, space)?;
    space.leave(now())?;
    Ok(Left { left: space.id() })
}

/// `space forget`: the space deleted from this device.
#[derive(Serialize)]
pub struct Forgotten {
    forgotten: String,
}

impl Render for Forgotten {
    fn human(&self) -> String {
        "The space is deleted from this device.".into()
    }
}

/// Deletes a space this device left (or was removed from).
pub fn forget(app: &SafeSpaces, space: &str) -> Result<Forgotten, Failure> {
    let space = find_space(app, space)?;
    app.forget_space(&space.id())?;
    Ok(Forgotten {
        forgotten: space.id(),
    })
}
