//! Training records and clearance to lead: `training record`, `list` and
//! `expiring`.

use safespaces_core::app::SafeSpaces;
use safespaces_core::model::{SpaceZone, Timestamp, TrainingModule};
use serde::Serialize;

use super::output::Render;
use crate::args::ModuleArg;
use crate::failure::Failure;
use crate::resolve::{find_member, find_space};
use crate::times::{now, parse_time, show_date};

/// How long a module counts when no expiry is given.
const ONE_YEAR: i64 = 365 * 24 * 60 * 60;

fn module(arg: ModuleArg) -> TrainingModule {
    match arg {
        ModuleArg::Signposting => TrainingModule::Signposting,
        ModuleArg::TraumaInformed => TrainingModule::TraumaInformed,
    }
}

/// A module as typed on the command line (`trauma-informed`).
fn module_shown(module: &str) -> String {
    module.replace('_', "-")
}

/// One training record: `training record` gives the one it made,
/// `training list` all of them.
#[derive(Serialize)]
struct RecordRow {
    id: String,
    member: String,
    module: &'static str,
    /// RFC 9557, in the space's zone.
    completed_at: String,
    /// RFC 9557, in the space's zone.
    expires_at: String,
    #[serde(skip)]
    completed: Timestamp,
    #[serde(skip)]
    expires: Timestamp,
}

/// `training record`: the record made.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Recorded {
    record: RecordRow,
    #[serde(skip)]
    pseudonym: String,
    #[serde(skip)]
    zone: SpaceZone,
}

impl Render for Recorded {
    fn human(&self) -> String {
        format!(
            "Recorded {} for {} (expires {}).",
            module_shown(self.record.module),
            self.pseudonym,
            show_date(&self.zone, self.record.expires)
        )
    }
}

/// Records a completed module for a member (expiring a year after
/// completion unless `expires` says otherwise).
pub fn record(
    app: &SafeSpaces,
    space: &str,
    member: &str,
    m: ModuleArg,
    completed: &str,
    expires: Option<&str>,
) -> Result<Recorded, Failure> {
    let space = find_space(app, space)?;
    let (member_id, member) = find_member(&space, member)?;
    let zone = space.time_zone()?;
    let completed = parse_time(&zone, completed).map_err(Failure::refused)?;
    let expires = match expires {
        Some(e) => parse_time(&zone, e).map_err(Failure::refused)?,
        None => completed.plus_secs(ONE_YEAR),
    };
    let id = space.record_training(&member_id, module(m), completed, expires)?;
    Ok(Recorded {
        record: RecordRow {
            id: id.to_string(),
            member: member_id.to_string(),
            module: module(m).as_str(),
            completed_at: zone.rfc9557(completed),
            expires_at: zone.rfc9557(expires),
            completed,
            expires,
        },
        pseudonym: member.pseudonym,
        zone,
    })
}

/// `training list`: every record of the space.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Records {
    rows: Vec<ListedRecord>,
    #[serde(skip)]
    zone: SpaceZone,
}

/// One record of [`Records`], with the member's pseudonym for people.
#[derive(Serialize)]
#[serde(transparent)]
struct ListedRecord {
    record: RecordRow,
    #[serde(skip)]
    pseudonym: String,
}

impl Render for Records {
    fn human(&self) -> String {
        self.rows
            .iter()
            .map(|r| {
                format!(
                    "{:<20} {:<16} {} → {}",
                    r.pseudonym,
                    module_shown(r.record.module),
                    show_date(&self.zone, r.record.completed),
                    show_date(&self.zone, r.record.expires)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists the space's training records.
pub fn list(app: &SafeSpaces, space: &str) -> Result<Records, Failure> {
    let space = find_space(app, space)?;
    let zone = space.time_zone()?;
    let members = space.members()?;
    let rows = space
        .training_records()?
        .into_iter()
        .map(|(id, r)| ListedRecord {
            pseudonym: members
                .iter()
                .find(|(m, _)| *m == r.member)
                .map(|(_, m)| m.pseudonym.clone())
                .unwrap_or_default(),
            record: RecordRow {
                id: id.to_string(),
                member: r.member.to_string(),
                module: r.module.as_str(),
                completed_at: zone.rfc9557(r.completed_at),
                expires_at: zone.rfc9557(r.expires_at),
                completed: r.completed_at,
                expires: r.expires_at,
            },
        })
        .collect();
    Ok(Records { rows, zone })
}

/// `training expiring`: who is cleared today but lapses within the days
/// asked, soonest first.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Expiring {
    rows: Vec<ExpiringRow>,
    #[serde(skip)]
    days: u32,
    #[serde(skip)]
    zone: SpaceZone,
}

/// One member of [`Expiring`].
#[derive(Serialize)]
struct ExpiringRow {
    member: String,
    pseudonym: String,
    /// RFC 9557, in the space's zone.
    lapses_at: String,
    /// Planned sessions she leads after that.
    sessions: Vec<String>,
    #[serde(skip)]
    lapses: Timestamp,
}

impl Render for Expiring {
    fn human(&self) -> String {
        if self.rows.is_empty() {
            return format!("Nobody's clearance lapses in the next {} days.", self.days);
        }
        self.rows
            .iter()
            .map(|e| {
                format!(
                    "{} lapses {}{}",
                    e.pseudonym,
                    show_date(&self.zone, e.lapses),
                    if e.sessions.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; leads {} planned session(s) after that: {}",
                            e.sessions.len(),
                            e.sessions.join(", ")
                        )
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists who is cleared today but lapses within `days`.
pub fn expiring(app: &SafeSpaces, space: &str, days: u32) -> Result<Expiring, Failure> {
    let space = find_space(app, space)?;
    let zone = space.time_zone()?;
    let rows = space
        .expiring_clearances(now(), days)?
        .into_iter()
        .map(|e| ExpiringRow {
            member: e.member.to_string(),
            lapses_at: zone.rfc9557(e.lapses_at),
            lapses: e.lapses_at,
            pseudonym: e.pseudonym,
            sessions: e.sessions.iter().map(|s| s.to_string()).collect(),
        })
        .collect();
    Ok(Expiring { rows, days, zone })
}
