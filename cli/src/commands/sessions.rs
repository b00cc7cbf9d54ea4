//! Commands on sessions: `session add` (one, or a weekly series),
//! `list`, `show`, `edit`, `cancel` and `reinstate`.

use safespaces_core::app::{RosterView, SafeSpaces};
use safespaces_core::model::{
    FieldConflict, LeadState, SeriesEnd, SeriesRule, Session, SessionDraft, SessionEdit, SessionId,
    SessionKind, SessionStatus, SpaceZone, Timestamp,
};
use serde::Serialize;

use super::leading::clearance_warning_text;
use super::output::Render;
use super::sign_ups::PlaceShown;
use crate::args::{KindArg, SessionAdd, SessionEditArgs};
use crate::failure::Failure;
use crate::resolve::{find_session, find_space};
use crate::times::{now, parse_minutes, parse_minutes_or_zero, parse_time, show_time};

fn kind(arg: KindArg) -> SessionKind {
    match arg {
        KindArg::Wellbeing => SessionKind::WellbeingEvent,
        KindArg::Social => SessionKind::SocialActivity,
        KindArg::Discussion => SessionKind::SurvivorDiscussionGroup,
        KindArg::Other => SessionKind::Other,
    }
}

/// One session as `session list` and `session show` give it, times in the
/// space's zone (RFC 9557) and its status as of now.
#[derive(Serialize)]
struct SessionRow {
    id: String,
    kind: &'static str,
    title: String,
    description: String,
    starts_at: String,
    ends_at: String,
    duration_minutes: u32,
    location: String,
    capacity: u32,
    content_notes: Vec<String>,
    accessibility: String,
    status: &'static str,
    signups_open: bool,
    /// The series, or null outside one.
    series: Option<String>,
    /// Its place in the series, or null outside one.
    occurrence: Option<u32>,
    signups_close_at: String,
    attending: u32,
    waitlisted: u32,
    #[serde(skip)]
    starts: Timestamp,
}

impl SessionRow {
    fn of(id: &SessionId, s: Session, roster: &RosterView, zone: &SpaceZone) -> Self {
        let now = now();
        SessionRow {
            id: id.to_string(),
            kind: s.kind.as_str(),
            starts_at: zone.rfc9557(s.starts_at),
            ends_at: zone.rfc9557(s.ends_at()),
            signups_close_at: zone.rfc9557(s.signups_close_at()),
            status: s.status_at(now).as_str(),
            signups_open: s.signups_open(now),
            series: s.series.as_ref().map(|id| id.to_string()),
            starts: s.starts_at,
            title: s.title,
            description: s.description,
            duration_minutes: s.duration_minutes,
            location: s.location,
            capacity: s.capacity,
            content_notes: s.content_notes,
            accessibility: s.accessibility,
            occurrence: s.occurrence,
            attending: roster.attending,
            waitlisted: roster.waitlisted,
        }
    }
}

/// `session add`: the session planned, or the series.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Planned {
    /// One session.
    One {
        /// The session.
        id: String,
        #[serde(skip)]
        title: String,
    },
    /// A weekly series.
    Series {
        /// The series.
        series: String,
        /// Its sessions, first first.
        sessions: Vec<SeriesSession>,
        #[serde(skip)]
        title: String,
        #[serde(skip)]
        planned: usize,
        #[serde(skip)]
        zone: SpaceZone,
    },
}

/// One session of a series [`Planned`].
#[derive(Serialize)]
pub struct SeriesSession {
    id: String,
    /// RFC 9557, in the space's zone.
    starts_at: String,
    #[serde(skip)]
    starts: Timestamp,
}

impl Render for Planned {
    fn human(&self) -> String {
        match self {
            Planned::One { id, title } => format!("Planned {title:?} ({id})."),
            Planned::Series {
                series,
                sessions,
                title,
                planned,
                zone,
            } => {
                let mut human = format!(
                    "Planned {title:?}: {planned} sessions (series {series}), {} time.",
                    zone.name()
                );
                for s in sessions {
                    human.push_str(&format!("\n{}  {}", s.id, show_time(zone, s.starts)));
                }
                human
            }
        }
    }
}

/// Plans a session, or with `--repeat` a weekly series.
pub fn add(app: &SafeSpaces, add: &SessionAdd) -> Result<Planned, Failure> {
    let space = find_space(app, &add.space)?;
    let zone = space.time_zone()?;
    let draft = SessionDraft {
        kind: kind(add.kind),
        title: add.title.clone(),
        description: add.description.clone(),
        starts_at: parse_time(&zone, &add.starts).map_err(Failure::refused)?,
        duration_minutes: parse_minutes(&add.duration).map_err(Failure::refused)?,
        location: add.location.clone(),
        capacity: add.capacity,
        content_notes: add.content_notes.clone(),
        accessibility: add.accessibility.clone(),
        signups_close_before_minutes: add
            .close_signups_before
            .as_deref()
            .map(parse_minutes_or_zero)
            .transpose()
            .map_err(Failure::refused)?,
    };
    if add.repeat.is_none() {
        let id = space.create_session(draft, now())?;
        return Ok(Planned::One {
            id: id.to_string(),
            title: add.title.clone(),
        });
    }
    let end = match (add.count, &add.until) {
        (Some(n), None) => SeriesEnd::Count(n),
        (None, Some(until)) => SeriesEnd::Until(zone.parse_date(until)?),
        _ => {
            return Err(Failure::refused(
                "a series needs --count N or --until YYYY-MM-DD",
            ));
        }
    };
    let rule = SeriesRule {
        every_weeks: add.every,
        end,
    };
    let (series, ids) = space.create_series(draft, rule, now())?;
    let sessions = space
        .series_sessions(&series)?
        .into_iter()
        .map(|(id, s)| SeriesSession {
            id: id.to_string(),
            starts_at: zone.rfc9557(s.starts_at),
            starts: s.starts_at,
        })
        .collect();
    Ok(Planned::Series {
        series: series.to_string(),
        sessions,
        title: add.title.clone(),
        planned: ids.len(),
        zone,
    })
}

/// The edit `session edit` asks for, with times read in `zone`.
fn session_edit(args: &SessionEditArgs, zone: &SpaceZone) -> Result<SessionEdit, Failure> {
    Ok(SessionEdit {
        kind: args.kind.map(kind),
        title: args.title.clone(),
        description: args.description.clone(),
        starts_at: args
            .starts
            .as_deref()
            .map(|t| parse_time(zone, t))
            .transpose()
            .map_err(Failure::refused)?,
        duration_minutes: args
            .duration
            .as_deref()
            .map(parse_minutes)
            .transpose()
            .map_err(Failure::refused)?,
        location: args.location.clone(),
        capacity: args.capacity,
        content_notes: None,
        accessibility: args.accessibility.clone(),
        signups_close_before_minutes: args
            .close_signups_before
            .as_deref()
            .map(parse_minutes_or_zero)
            .transpose()
            .map_err(Failure::refused)?,
    })
}

/// `session edit`: the sessions edited.
#[derive(Serialize)]
pub struct Edited {
    edited: Vec<String>,
}

impl Render for Edited {
    fn human(&self) -> String {
        format!("Edited {} session(s).", self.edited.len())
    }
}

/// Edits a session (and with `--following`, the later ones of its
/// series).
pub fn edit(app: &SafeSpaces, args: &SessionEditArgs) -> Result<Edited, Failure> {
    let space = find_space(app, &args.space)?;
    let zone = space.time_zone()?;
    let (id, _) = find_session(&space, &args.session)?;
    let edit = session_edit(args, &zone)?;
    let edited = if args.following {
        space.edit_series_from(&id, edit)?
    } else {
        space.edit_session(&id, edit)?;
        vec![id]
    };
    Ok(Edited {
        edited: edited.iter().map(|id| id.to_string()).collect(),
    })
}

/// `session reinstate`: the session back on.
#[derive(Serialize)]
pub struct Reinstated {
    reinstated: String,
}

impl Render for Reinstated {
    fn human(&self) -> String {
        "Session reinstated.".into()
    }
}

/// Puts a cancelled session back on.
pub fn reinstate(app: &SafeSpaces, space: &str, session: &str) -> Result<Reinstated, Failure> {
    let space = find_space(app, space)?;
    let (id, _) = find_session(&space, session)?;
    space.reinstate_session(&id)?;
    Ok(Reinstated {
        reinstated: id.to_string(),
    })
}

/// `session cancel`: the sessions cancelled.
#[derive(Serialize)]
pub struct Cancelled {
    cancelled: Vec<String>,
}

impl Render for Cancelled {
    fn human(&self) -> String {
        format!("Cancelled {} session(s).", self.cancelled.len())
    }
}

/// Cancels a session (and with `following`, the later planned ones of
/// its series).
pub fn cancel(
    app: &SafeSpaces,
    space: &str,
    session: &str,
    following: bool,
) -> Result<Cancelled, Failure> {
    let space = find_space(app, space)?;
    let (id, _) = find_session(&space, session)?;
    let cancelled = if following {
        space.cancel_series_from(&id)?
    } else {
        space.cancel_session(&id)?;
        vec![id]
    };
    Ok(Cancelled {
        cancelled: cancelled.iter().map(|id| id.to_string()).collect(),
    })
}

/// `session list`: sessions that have not ended, soonest first (or with
/// `--past`, those that have, most recent first).
#[derive(Serialize)]
#[serde(transparent)]
pub struct Sessions {
    rows: Vec<SessionRow>,
    #[serde(skip)]
    zone: SpaceZone,
}

impl Render for Sessions {
    fn human(&self) -> String {
        self.rows
            .iter()
            .map(|s| {
                format!(
                    "{}  {}  {:<30} {}/{} places{}{}",
                    s.id,
                    show_time(&self.zone, s.starts),
                    s.title,
                    s.attending,
                    s.capacity,
                    if s.waitlisted > 0 {
                        format!(", {} waiting", s.waitlisted)
                    } else {
                        String::new()
                    },
                    if s.status == SessionStatus::Planned.as_str() {
                        String::new()
                    } else {
                        format!(" [{}]", s.status)
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists the space's sessions that have not ended (or with `past`, those
/// that have).
pub fn list(app: &SafeSpaces, space: &str, past: bool) -> Result<Sessions, Failure> {
    let space = find_space(app, space)?;
    let zone = space.time_zone()?;
    let sessions = if past {
        space.past_sessions(now())?
    } else {
        space.upcoming_sessions(now())?
    };
    let mut rows = Vec::new();
    for (id, s) in sessions {
        let roster = space.roster(&id)?;
        rows.push(SessionRow::of(&id, s, &roster, &zone));
    }
    Ok(Sessions { rows, zone })
}

/// `session show`: one session, who leads it, who is coming (for its
/// leads), conflicting edits, and where the person stands.
#[derive(Serialize)]
pub struct Shown {
    #[serde(flatten)]
    session: SessionRow,
    my_place: PlaceShown,
    leads: Vec<LeadRow>,
    /// Empty unless the person leads it.
    attendees: Vec<AttendeeRow>,
    conflicts: Vec<FieldConflict>,
    no_cleared_lead_at_start: bool,
    #[serde(skip)]
    warning: Option<String>,
    #[serde(skip)]
    zone: SpaceZone,
}

/// One lead (or offer to lead) of [`Shown`].
#[derive(Serialize)]
struct LeadRow {
    member: String,
    pseudonym: String,
    state: &'static str,
    /// Cleared to lead at the session's start.
    cleared: bool,
    #[serde(skip)]
    lead_state: LeadState,
}

/// One attendee of [`Shown`].
#[derive(Serialize)]
struct AttendeeRow {
    pseudonym: String,
    member: String,
    place: String,
    /// Whether a device of theirs asked for this place.
    verified: bool,
}

impl Render for Shown {
    fn human(&self) -> String {
        let s = &self.session;
        let mut human = format!(
            "{}\n{} · {} · {} min · {}\nStatus: {}\nPlaces: {}/{} taken, {} waiting\nYou: {}\n",
            s.title,
            s.kind.replace('_', " "),
            show_time(&self.zone, s.starts),
            s.duration_minutes,
            if s.location.is_empty() {
                "location to be announced"
            } else {
                &s.location
            },
            s.status,
            s.attending,
            s.capacity,
            s.waitlisted,
            self.my_place.words()
        );
        if !s.description.is_empty() {
            human.push_str(&format!("\n{}\n", s.description));
        }
        for note in &s.content_notes {
            human.push_str(&format!("Content note: {note}\n"));
        }
        if !s.accessibility.is_empty() {
            human.push_str(&format!("Accessibility: {}\n", s.accessibility));
        }
        for lead in &self.leads {
            human.push_str(&format!(
                "{}: {}{}\n",
                match lead.lead_state {
                    LeadState::Accepted => "Lead",
                    LeadState::Offered => "Offered to lead",
                    LeadState::Declined => "Offer declined",
                },
                lead.pseudonym,
                if lead.cleared {
                    ""
                } else {
                    " (not cleared to lead yet)"
                }
            ));
        }
        if let Some(warning) = &self.warning {
            human.push_str(&format!("Warning: {warning}\n"));
        }
        for attendee in &self.attendees {
            human.push_str(&format!(
                "Attendee: {} ({}){}\n",
                attendee.pseudonym,
                attendee.place,
                if attendee.verified {
                    ""
                } else {
                    " UNVERIFIED: no device of theirs asked for this place"
                }
            ));
        }
        for conflict in &self.conflicts {
            human.push_str(&format!(
                "Conflict: {} was changed on two devices at once: {:?}\n",
                conflict.field, conflict.values
            ));
        }
        human
    }
}

/// Shows one session.
pub fn show(app: &SafeSpaces, space: &str, session: &str) -> Result<Shown, Failure> {
    let space = find_space(app, space)?;
    let (id, s) = find_session(&space, session)?;
    let zone = space.time_zone()?;
    let warning = space
        .clearance_warnings(now())?
        .into_iter()
        .find(|w| w.session == id);
    let roster = space.roster(&id)?;
    let leads = space.session_leads(&id, now())?;
    let conflicts = space.session_conflicts(&id)?;
    let attendees = space.attendees(&id)?;
    let my_place = PlaceShown::of(&space.my_place(&id, now())?);
    Ok(Shown {
        session: SessionRow::of(&id, s, &roster, &zone),
        my_place,
        leads: leads
            .into_iter()
            .map(|l| LeadRow {
                member: l.member.to_string(),
                pseudonym: l.pseudonym,
                state: l.state.as_str(),
                cleared: l.clearance.cleared,
                lead_state: l.state,
            })
            .collect(),
        attendees: attendees
            .into_iter()
            .map(|a| AttendeeRow {
                // The place as Rust names it (`Attending`, `Waitlisted {
                // position: 2 }`): what scripts have read so far.
                place: format!("{:?}", a.place),
                pseudonym: a.holder.pseudonym,
                member: a.holder.member.to_string(),
                verified: a.verified,
            })
            .collect(),
        conflicts,
        no_cleared_lead_at_start: warning.as_ref().is_some_and(|w| w.no_cleared_lead),
        warning: warning.map(|w| {
            let uncleared: Vec<String> = w.uncleared.into_iter().map(|l| l.pseudonym).collect();
            clearance_warning_text(w.no_cleared_lead, &uncleared)
        }),
        zone,
    })
}
