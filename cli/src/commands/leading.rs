//! Who leads a session: `session volunteer`, `accept`, `decline`,
//! `name-lead` and `withdraw`, and `session warnings` for sessions with no
//! lead cleared at their start.

use safespaces_core::app::SafeSpaces;
use safespaces_core::model::{LeadState, SpaceZone, Timestamp};
use serde::Serialize;

use super::output::Render;
use crate::failure::Failure;
use crate::resolve::{find_member, find_session, find_space};
use crate::times::{now, show_time};

/// `session volunteer`: the offer made, and where it stands.
#[derive(Serialize)]
pub struct Volunteered {
    volunteered: String,
    /// Every session offered for (with `--following`, the later ones of
    /// its series too).
    sessions: Vec<String>,
    /// Whether the person leads it already (a coordinator's own offer).
    accepted: bool,
    cleared: bool,
}

impl Render for Volunteered {
    fn human(&self) -> String {
        let decision = if self.accepted {
            "you lead it"
        } else {
            "a coordinator or one of its leads will accept or decline your offer"
        };
        let what = if self.sessions.len() > 1 {
            format!("You volunteered to lead {} sessions", self.sessions.len())
        } else {
            "You volunteered to lead".to_string()
        };
        if self.cleared {
            format!("{what}; {decision}; you are cleared to lead.")
        } else {
            format!(
                "{what}; {decision}; you need current signposting and trauma-informed training to be cleared."
            )
        }
    }
}

/// Offers to lead a session (and with `following`, the later sessions of
/// its series).
pub fn volunteer(
    app: &SafeSpaces,
    space: &str,
    session: &str,
    following: bool,
) -> Result<Volunteered, Failure> {
    let space = find_space(app, space)?;
    let (id, _) = find_session(&space, session)?;
    let offered = if following {
        space.volunteer_from(&id, now())?
    } else {
        space.volunteer_to_lead(&id, now())?;
        vec![id.clone()]
    };
    let me = space.my_member_id()?;
    let cleared = space.clearance(&me, now())?.cleared;
    let accepted = space
        .session_leads(&id, now())?
        .into_iter()
        .any(|l| l.member == me && l.state == LeadState::Accepted);
    Ok(Volunteered {
        volunteered: id.to_string(),
        sessions: offered.iter().map(|s| s.to_string()).collect(),
        accepted,
        cleared,
    })
}

/// `session accept` / `decline`: the decision on a member's offer.
#[derive(Serialize)]
pub struct Decided {
    session: String,
    member: String,
    /// `accepted` or `declined`.
    state: &'static str,
    /// Every session decided (with `--following`, the later ones too).
    sessions: Vec<String>,
    #[serde(skip)]
    pseudonym: String,
}

impl Render for Decided {
    fn human(&self) -> String {
        if self.sessions.len() > 1 {
            format!(
                "{}'s offer to lead is {} for {} sessions.",
                self.pseudonym,
                self.state,
                self.sessions.len()
            )
        } else {
            format!("{}'s offer to lead is {}.", self.pseudonym, self.state)
        }
    }
}

/// Accepts (`accept`) or declines a member's offer to lead.
pub fn decide(
    app: &SafeSpaces,
    space: &str,
    session: &str,
    member: &str,
    following: bool,
    accept: bool,
) -> Result<Decided, Failure> {
    let space = find_space(app, space)?;
    let (id, _) = find_session(&space, session)?;
    let (who, m) = find_member(&space, member)?;
    let decided = if following {
        space.decide_lead_from(&id, &who, accept, now())?
    } else {
        space.decide_lead(&id, &who, accept, now())?;
        vec![id.clone()]
    };
    Ok(Decided {
        session: id.to_string(),
        member: who.to_string(),
        state: if accept { "accepted" } else { "declined" },
        sessions: decided.iter().map(|s| s.to_string()).collect(),
        pseudonym: m.pseudonym,
    })
}

/// `session name-lead`: the cover lead named, accepted at once.
#[derive(Serialize)]
pub struct Named {
    session: String,
    member: String,
    /// Always `accepted`.
    state: &'static str,
    cleared: bool,
    #[serde(skip)]
    pseudonym: String,
}

impl Render for Named {
    fn human(&self) -> String {
        format!(
            "{} now leads this session{}.",
            self.pseudonym,
            if self.cleared {
                ""
            } else {
                " (not cleared to lead yet)"
            }
        )
    }
}

/// Names a cover lead for a session.
pub fn name_lead(
    app: &SafeSpaces,
    space: &str,
    session: &str,
    member: &str,
) -> Result<Named, Failure> {
    let space = find_space(app, space)?;
    let (id, _) = find_session(&space, session)?;
    let (who, m) = find_member(&space, member)?;
    space.name_lead(&id, &who, now())?;
    let cleared = space.clearance(&who, now())?.cleared;
    Ok(Named {
        session: id.to_string(),
        member: who.to_string(),
        state: "accepted",
        cleared,
        pseudonym: m.pseudonym,
    })
}

/// `session withdraw`: the lead stood down.
#[derive(Serialize)]
pub struct Withdrawn {
    session: String,
    member: String,
    withdrawn: bool,
}

impl Render for Withdrawn {
    fn human(&self) -> String {
        "Withdrawn from leading this session.".into()
    }
}

/// Withdraws `member`'s offer to lead (the person's own when left out).
pub fn withdraw(
    app: &SafeSpaces,
    space: &str,
    session: &str,
    member: Option<&str>,
) -> Result<Withdrawn, Failure> {
    let space = find_space(app, space)?;
    let (id, _) = find_session(&space, session)?;
    let who = match member {
        Some(typed) => find_member(&space, typed)?.0,
        None => space.my_member_id()?,
    };
    space.withdraw_lead(&id, &who)?;
    Ok(Withdrawn {
        session: id.to_string(),
        member: who.to_string(),
        withdrawn: true,
    })
}

/// What a clearance warning says, in words.
pub fn clearance_warning_text(no_cleared_lead: bool, uncleared: &[String]) -> String {
    let lapsed = if uncleared.is_empty() {
        String::new()
    } else {
        format!("not cleared at its start: {}", uncleared.join(", "))
    };
    match (no_cleared_lead, lapsed.is_empty()) {
        (true, true) => "no lead yet".into(),
        (true, false) => format!("no lead cleared at its start ({lapsed})"),
        (false, _) => lapsed,
    }
}

/// `session warnings`: planned sessions with no lead cleared at their
/// start, soonest first.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Warnings {
    rows: Vec<WarningRow>,
    #[serde(skip)]
    zone: SpaceZone,
}

/// One session of [`Warnings`].
#[derive(Serialize)]
struct WarningRow {
    session: String,
    title: String,
    /// RFC 9557, in the space's zone.
    starts_at: String,
    no_cleared_lead: bool,
    /// Pseudonyms of the leads not cleared at its start.
    uncleared: Vec<String>,
    #[serde(skip)]
    starts: Timestamp,
}

impl Render for Warnings {
    fn human(&self) -> String {
        if self.rows.is_empty() {
            return "Every planned session has a lead cleared at its start.".into();
        }
        self.rows
            .iter()
            .map(|w| {
                format!(
                    "{}  {}  {:<30} {}",
                    w.session,
                    show_time(&self.zone, w.starts),
                    w.title,
                    clearance_warning_text(w.no_cleared_lead, &w.uncleared)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists the planned sessions that, as things stand, have no lead cleared
/// at their start.
pub fn warnings(app: &SafeSpaces, space: &str) -> Result<Warnings, Failure> {
    let space = find_space(app, space)?;
    let zone = space.time_zone()?;
    let rows = space
        .clearance_warnings(now())?
        .into_iter()
        .map(|w| WarningRow {
            session: w.session.to_string(),
            starts_at: zone.rfc9557(w.starts_at),
            starts: w.starts_at,
            title: w.title,
            no_cleared_lead: w.no_cleared_lead,
            uncleared: w.uncleared.into_iter().map(|l| l.pseudonym).collect(),
        })
        .collect();
    Ok(Warnings { rows, zone })
}
