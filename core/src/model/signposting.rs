//! The signposting directory: where to find help, readable offline.
//!
//! It lives in the space document, so every member's device has a full copy
//! and a survivor can find a crisis line with no network at all.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::error::{ModelError, ModelResult};
use super::session::check_len;

/// The kinds of help the directory points to.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Reconcile,
    Hydrate,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceCategory {
    /// Crisis and helplines, often 24/7.
    #[autosurgeon(rename = "crisis_line")]
    CrisisLine,
    /// Clinical care: sexual assault referral centres, GPs, sexual health.
    #[autosurgeon(rename = "clinical")]
    Clinical,
    /// Legal advice, reporting options, advocates.
    #[autosurgeon(rename = "legal")]
    Legal,
    /// University welfare and administration (extensions, housing, reporting).
    #[autosurgeon(rename = "university")]
    University,
    /// Peer and community support.
    #[autosurgeon(rename = "peer_community")]
    PeerCommunity,
}

impl ResourceCategory {
    /// Every category, in the order a directory is shown: crisis first.
    pub const ALL: [ResourceCategory; 5] = [
        ResourceCategory::CrisisLine,
        ResourceCategory::Clinical,
        ResourceCategory::Legal,
        ResourceCategory::University,
        ResourceCategory::PeerCommunity,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceCategory::CrisisLine => "crisis_line",
            ResourceCategory::Clinical => "clinical",
            ResourceCategory::Legal => "legal",
            ResourceCategory::University => "university",
            ResourceCategory::PeerCommunity => "peer_community",
        }
    }

    /// Parses the stable name (accepting `-` for `_`).
    pub fn parse(text: &str) -> ModelResult<Self> {
        match text.trim().replace('-', "_").to_ascii_lowercase().as_str() {
            "crisis_line" | "crisis" => Ok(ResourceCategory::CrisisLine),
            "clinical" => Ok(ResourceCategory::Clinical),
            "legal" => Ok(ResourceCategory::Legal),
            "university" | "welfare" => Ok(ResourceCategory::University),
            "peer_community" | "peer" | "community" => Ok(ResourceCategory::PeerCommunity),
            _ => Err(ModelError::InvalidInput {
                field: "resource category",
                reason: "expected crisis_line, clinical, legal, university or peer_community"
                    .into(),
            }),
        }
    }
}

/// A place to find help, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Resource {
    /// What kind of help.
    pub category: ResourceCategory,
    /// Its name.
    pub name: String,
    /// Phone, text, email, web, address: however to reach it.
    pub contact: String,
    /// When it is open, in words ("24/7", "Mon–Fri 9–5").
    pub hours: String,
    /// Anything else worth knowing (free, confidential, who it serves).
    pub notes: String,
}

impl Resource {
    pub(crate) fn validate(&self) -> ModelResult<()> {
        if self.name.trim().is_empty() {
            return Err(ModelError::InvalidInput {
                field: "resource name",
                reason: "a resource needs a name".into(),
            });
        }
        check_len("resource name", &self.name, 200)?;
        check_len("contact", &self.contact, 1_000)?;
        check_len("hours", &self.hours, 500)?;
        check_len("notes", &self.notes, 2_000)
    }
}
