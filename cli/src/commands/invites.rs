//! Commands on a space's invites: `space invite`, `space invites` and
//! `space revoke-invite`.

use std::path::{Path, PathBuf};

use safespaces_core::app::{InviteStatus, SafeSpaces};
use safespaces_core::model::{InviteState, Role, SpaceZone, Timestamp};
use serde::Serialize;

use super::output::Render;
use super::private_file::write_private;
use super::relay::{block_on, client};
use crate::args::{RoleArg, TrustArgs};
use crate::failure::Failure;
use crate::resolve::find_space;
use crate::times::{now, show_time};

fn role(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Member => Role::Member,
        RoleArg::Lead => Role::Lead,
        RoleArg::Coordinator => Role::Coordinator,
    }
}

/// `space invite`: the one-time code, and where its package went.
#[derive(Serialize)]
pub struct Invited {
    code: String,
    id: String,
    /// The package file, or null when it went to a relay only.
    package: Option<PathBuf>,
    expires_at: Timestamp,
    dropbox_id: String,
    #[serde(skip)]
    relayed: bool,
    #[serde(skip)]
    zone: SpaceZone,
}

impl Render for Invited {
    fn human(&self) -> String {
        let mut human = format!("Invite code: {}\n", self.code);
        if let Some(path) = &self.package {
            human.push_str(&format!(
                "Package written to {} (hand it over; it holds no key to the space).\n",
                path.display()
            ));
        }
        if self.relayed {
            human.push_str("The package waits in the relay; your next sync admits whoever asks with the code.\n");
        }
        human.push_str(&format!(
            "Expires {}; works once.",
            show_time(&self.zone, self.expires_at)
        ));
        human
    }
}

/// Invites someone with role `r`: the package goes to `package_out`, to
/// the relay at `relay`, or both.
pub fn invite(
    app: &SafeSpaces,
    space: &str,
    r: RoleArg,
    package_out: Option<&Path>,
    relay: Option<&str>,
    trust: &TrustArgs,
) -> Result<Invited, Failure> {
    let space = find_space(app, space)?;
    let invitation = space.invite(role(r), now(), None)?;
    if let Some(path) = package_out {
        write_private(path, &invitation.package)?;
    }
    if let Some(url) = relay {
        let client = client(url, trust)?;
        block_on(space.publish_invite(&client, &invitation, now()))?;
        // The invitee reads the space from its mailbox: make sure it is
        // there, with the invite recorded.
        block_on(app.sync(&client, now()))?;
    }
    Ok(Invited {
        code: invitation.code,
        id: invitation.invite_id,
        package: package_out.map(Path::to_path_buf),
        expires_at: invitation.expires_at,
        dropbox_id: invitation.dropbox_id,
        relayed: relay.is_some(),
        zone: space.time_zone()?,
    })
}

/// `space invites`: every invite of the space, and what became of it.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Invites {
    rows: Vec<InviteRow>,
    #[serde(skip)]
    zone: SpaceZone,
}

/// One invite of [`Invites`].
#[derive(Serialize)]
struct InviteRow {
    id: String,
    role: &'static str,
    state: &'static str,
    /// Someone fetched the package from the relay.
    claimed: bool,
    expires_at: Timestamp,
    /// The member who joined with it, or null.
    used_by: Option<String>,
}

impl InviteRow {
    fn of(i: InviteStatus) -> Self {
        let state = match i.state {
            InviteState::Open if i.claimed => "claimed, not used",
            InviteState::Open => "open",
            InviteState::Used => "used",
            InviteState::Revoked => "withdrawn",
            InviteState::Expired => "expired",
        };
        InviteRow {
            id: i.invite_id,
            role: i.role.as_str(),
            state,
            claimed: i.claimed,
            expires_at: i.expires_at,
            used_by: i.used_by.map(|m| m.to_string()),
        }
    }
}

impl Render for Invites {
    fn human(&self) -> String {
        if self.rows.is_empty() {
            return "No invites.".to_string();
        }
        self.rows
            .iter()
            .map(|i| {
                format!(
                    "{}  {:<11} {:<17} expires {}",
                    i.id,
                    i.role,
                    i.state,
                    show_time(&self.zone, i.expires_at)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists the space's invites.
pub fn invites(app: &SafeSpaces, space: &str) -> Result<Invites, Failure> {
    let space = find_space(app, space)?;
    let zone = space.time_zone()?;
    let rows = space
        .invites(now())?
        .into_iter()
        .map(InviteRow::of)
        .collect();
    Ok(Invites { rows, zone })
}

/// `space revoke-invite`: the invite withdrawn.
#[derive(Serialize)]
pub struct Revoked {
    revoked: String,
}

impl Render for Revoked {
    fn human(&self) -> String {
        format!(
            "Invite {} withdrawn; nobody can join with it now.",
            self.revoked
        )
    }
}

/// Withdraws an invite nobody joined with yet.
pub fn revoke(app: &SafeSpaces, space: &str, invite: &str) -> Result<Revoked, Failure> {
    let space = find_space(app, space)?;
    space.revoke_invite(invite, now())?;
    Ok(Revoked {
        revoked: invite.to_string(),
    })
}
