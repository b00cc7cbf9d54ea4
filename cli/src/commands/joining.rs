//! Commands for joining a space with an invite: `space join` (through a
//! relay, or offline with the package), the inviter's `space admit`, the
//! offline `space complete-join`, and `space pending`.

use std::path::{Path, PathBuf};

use safespaces_core::app::SafeSpaces;
use safespaces_core::model::{SpaceZone, Timestamp};
use serde::Serialize;

use super::output::Render;
use super::private_file::write_private;
use super::relay::{block_on, client};
use crate::args::TrustArgs;
use crate::failure::Failure;
use crate::resolve::find_space;
use crate::times::{now, show_time};

/// `space join`: the request went out, and the join waits for the
/// inviter's device.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Asked {
    /// Through a relay: the space arrives with a later sync.
    ViaRelay {
        /// The space, hex.
        id: String,
        /// Its name, from the package.
        name: String,
        /// Always true: admitted later.
        pending: bool,
        /// The name the person asked to go by.
        #[serde(skip)]
        pseudonym: String,
    },
    /// Offline: a request file to hand to the inviter.
    Offline {
        /// The space's name, from the package.
        name: String,
        /// Where the request was written.
        request: PathBuf,
        /// Always true: admitted later.
        pending: bool,
        /// The name the person asked to go by.
        #[serde(skip)]
        pseudonym: String,
    },
}

impl Render for Asked {
    fn human(&self) -> String {
        match self {
            Asked::ViaRelay {
                name, pseudonym, ..
            } => format!(
                "Asked to join {name:?} as {pseudonym}. You are in once the inviter's device syncs and then yours does (`safespaces sync`)."
            ),
            Asked::Offline {
                name,
                request,
                pseudonym,
                ..
            } => format!(
                "Asked to join {name:?} as {pseudonym}: hand {} to the inviter, then finish with `space complete-join` and their welcome and bundle.",
                request.display()
            ),
        }
    }
}

/// Asks to join with `code`, through the relay at `relay` or offline
/// with the invite `package`, writing the request to `request_out`.
pub fn join(
    app: &SafeSpaces,
    code: &str,
    pseudonym: &str,
    package: Option<&Path>,
    request_out: Option<&Path>,
    relay: Option<&str>,
    trust: &TrustArgs,
) -> Result<Asked, Failure> {
    match (relay, package, request_out) {
        (Some(url), _, _) => {
            let client = client(url, trust)?;
            let asked = block_on(app.join_via_relay(&client, code, pseudonym, now()))?;
            Ok(Asked::ViaRelay {
                id: asked.space,
                name: asked.space_name,
                pending: true,
                pseudonym: pseudonym.to_string(),
            })
        }
        (None, Some(package), Some(path)) => {
            let package = std::fs::read(package)?;
            let asked = app.request_join(code, &package, pseudonym, now())?;
            write_private(path, &asked.request)?;
            Ok(Asked::Offline {
                name: asked.space_name,
                request: path.to_path_buf(),
                pending: true,
                pseudonym: pseudonym.to_string(),
            })
        }
        _ => Err(Failure {
            code: crate::exit::ExitCode::Usage,
            message: "join through a relay (--relay) or with --package and --request-out".into(),
        }),
    }
}

/// `space admit`: where the welcome for the joiner went.
#[derive(Serialize)]
pub struct Admitted {
    welcome: PathBuf,
}

impl Render for Admitted {
    fn human(&self) -> String {
        format!(
            "Admitted. Hand {} back with a bundle made now (`bundle export`).",
            self.welcome.display()
        )
    }
}

/// Admits the joiner whose `request` file came back, writing her welcome
/// to `welcome_out`.
pub fn admit(
    app: &SafeSpaces,
    space: &str,
    request: &Path,
    welcome_out: &Path,
) -> Result<Admitted, Failure> {
    let space = find_space(app, space)?;
    let welcome = space.admit(&std::fs::read(request)?, now())?;
    write_private(welcome_out, &welcome)?;
    Ok(Admitted {
        welcome: welcome_out.to_path_buf(),
    })
}

/// `space complete-join`: the space joined.
#[derive(Serialize)]
pub struct Joined {
    id: String,
    name: String,
}

impl Render for Joined {
    fn human(&self) -> String {
        format!("Joined {:?} ({}).", self.name, self.id)
    }
}

/// Finishes an offline join with the inviter's `welcome` and `bundle`.
pub fn complete(app: &SafeSpaces, welcome: &Path, bundle: &Path) -> Result<Joined, Failure> {
    let space = app.join(&std::fs::read(welcome)?, &std::fs::read(bundle)?, now())?;
    Ok(Joined {
        name: space.name()?,
        id: space.id(),
    })
}

/// `space pending`: joins asked for and not admitted yet.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Pending(Vec<PendingRow>);

/// One join of [`Pending`].
#[derive(Serialize)]
struct PendingRow {
    id: String,
    name: String,
    role: &'static str,
    expires_at: Timestamp,
}

impl Render for Pending {
    fn human(&self) -> String {
        if self.0.is_empty() {
            return "No joins waiting.".to_string();
        }
        self.0
            .iter()
            .map(|p| {
                format!(
                    "{:?} as {}, until {}",
                    p.name,
                    p.role,
                    show_time(&SpaceZone::device(), p.expires_at)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists the joins this device asked for that wait for admission.
pub fn pending(app: &SafeSpaces) -> Result<Pending, Failure> {
    Ok(Pending(
        app.pending_joins()?
            .into_iter()
            .map(|p| PendingRow {
                id: p.space,
                name: p.space_name,
                role: p.role.as_str(),
                expires_at: p.expires_at,
            })
            .collect(),
    ))
}
