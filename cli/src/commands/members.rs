//! Commands on a space's members: `space members` and `space remove`.

use safespaces_core::app::SafeSpaces;
use safespaces_core::model::Timestamp;
use serde::Serialize;

use super::output::Render;
use crate::failure::Failure;
use crate::resolve::{find_member, find_space};
use crate::times::now;

/// `space members`: the space's current members.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Members(Vec<MemberRow>);

/// One member of [`Members`].
#[derive(Serialize)]
struct MemberRow {
    id: String,
    pseudonym: String,
    role: &'static str,
    /// Cleared to lead today.
    cleared_to_lead: bool,
    joined_at: Timestamp,
}

impl Render for Members {
    fn human(&self) -> String {
        self.0
            .iter()
            .map(|m| {
                format!(
                    "{}  {:<20} {:<12}{}",
                    m.id,
                    m.pseudonym,
                    m.role,
                    if m.cleared_to_lead {
                        " cleared to lead"
                    } else {
                        ""
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists the space's current members, and who is cleared to lead today.
pub fn members(app: &SafeSpaces, space: &str) -> Result<Members, Failure> {
    let space = find_space(app, space)?;
    let today = now();
    let mut rows = Vec::new();
    for (id, m) in space.members()?.into_iter().filter(|(_, m)| m.is_active()) {
        rows.push(MemberRow {
            cleared_to_lead: space.clearance(&id, today)?.cleared,
            id: id.to_string(),
            pseudonym: m.pseudonym,
            role: m.role.as_str(),
            joined_at: m.joined_at,
        });
    }
    Ok(Members(rows))
}

/// `space remove`: the member removed.
#[derive(Serialize)]
pub struct Removed {
    removed: String,
    #[serde(skip)]
    pseudonym: String,
}

impl Render for Removed {
    fn human(&self) -> String {
        format!(
            "Removed {}. The space now uses a new key; your next bundle or sync hands it to everyone else.",
            self.pseudonym
        )
    }
}

/// Removes a member; the space moves to a new key without her devices.
pub fn remove(app: &SafeSpaces, space: &str, member: &str) -> Result<Removed, Failure> {
    let space = find_space(app, space)?;
    let (id, m) = find_member(&space, member)?;
    space.remove_member(&id, now())?;
    Ok(Removed {
        removed: id.to_string(),
        pseudonym: m.pseudonym,
    })
}
