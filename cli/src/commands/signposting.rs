//! The signposting directory: `resource add` and `resource list`.

use safespaces_core::app::SafeSpaces;
use safespaces_core::model::{Resource, ResourceCategory};
use serde::Serialize;

use super::output::Render;
use crate::args::CategoryArg;
use crate::failure::Failure;
use crate::resolve::find_space;

fn category(arg: CategoryArg) -> ResourceCategory {
    match arg {
        CategoryArg::Crisis => ResourceCategory::CrisisLine,
        CategoryArg::Clinical => ResourceCategory::Clinical,
        CategoryArg::Legal => ResourceCategory::Legal,
        CategoryArg::University => ResourceCategory::University,
        CategoryArg::Peer => ResourceCategory::PeerCommunity,
    }
}

/// `resource add`: the entry added.
#[derive(Serialize)]
pub struct Added {
    id: String,
    #[serde(skip)]
    name: String,
}

impl Render for Added {
    fn human(&self) -> String {
        format!("Added {:?}.", self.name)
    }
}

/// Adds a place to find help.
pub fn add(
    app: &SafeSpaces,
    space: &str,
    c: CategoryArg,
    name: &str,
    contact: &str,
    hours: &str,
    notes: &str,
) -> Result<Added, Failure> {
    let space = find_space(app, space)?;
    let id = space.add_resource(Resource {
        category: category(c),
        name: name.to_string(),
        contact: contact.to_string(),
        hours: hours.to_string(),
        notes: notes.to_string(),
    })?;
    Ok(Added {
        id: id.to_string(),
        name: name.to_string(),
    })
}

/// `resource list`: the directory, crisis lines first.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Directory(Vec<Entry>);

/// One entry of the [`Directory`]: the resource as core stores it, and
/// its id.
#[derive(Serialize)]
struct Entry {
    id: String,
    #[serde(flatten)]
    resource: Resource,
}

impl Render for Directory {
    fn human(&self) -> String {
        self.0
            .iter()
            .map(|Entry { resource: r, .. }| {
                format!(
                    "[{}] {} — {}{}{}",
                    r.category.as_str().replace('_', " "),
                    r.name,
                    r.contact,
                    if r.hours.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.hours)
                    },
                    if r.notes.is_empty() {
                        String::new()
                    } else {
                        format!(". {}", r.notes)
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lists the directory (only category `c` if given).
pub fn list(app: &SafeSpaces, space: &str, c: Option<CategoryArg>) -> Result<Directory, Failure> {
    let space = find_space(app, space)?;
    Ok(Directory(
        space
            .resources(c.map(category))?
            .into_iter()
            .map(|(id, resource)| Entry {
                id: id.to_string(),
                resource,
            })
            .collect(),
    ))
}
