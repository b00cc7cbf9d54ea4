//! The signposting directory: where to find help, offline.

use safespaces_core::model;

/// A category of the directory, shown crisis lines first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ResourceCategory {
    /// Crisis and helplines, often 24/7.
    CrisisLine,
    /// Clinical care: sexual assault referral centres, GPs, sexual health.
    Clinical,
    /// Legal advice, reporting options, advocates.
    Legal,
    /// University welfare and administration.
    University,
    /// Peer and community support.
    PeerCommunity,
}

impl From<model::ResourceCategory> for ResourceCategory {
    fn from(category: model::ResourceCategory) -> Self {
        match category {
            model::ResourceCategory::CrisisLine => ResourceCategory::CrisisLine,
            model::ResourceCategory::Clinical => ResourceCategory::Clinical,
            model::ResourceCategory::Legal => ResourceCategory::Legal,
            model::ResourceCategory::University => ResourceCategory::University,
            model::ResourceCategory::PeerCommunity => ResourceCategory::PeerCommunity,
        }
    }
}

impl From<ResourceCategory> for model::ResourceCategory {
    fn from(category: ResourceCategory) -> Self {
        match category {
            ResourceCategory::CrisisLine => model::ResourceCategory::CrisisLine,
            ResourceCategory::Clinical => model::ResourceCategory::Clinical,
            ResourceCategory::Legal => model::ResourceCategory::Legal,
            ResourceCategory::University => model::ResourceCategory::University,
            ResourceCategory::PeerCommunity => model::ResourceCategory::PeerCommunity,
        }
    }
}

/// A place to find help.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Resource {
    /// Its category.
    pub category: ResourceCategory,
    /// Its name.
    pub name: String,
    /// How to reach it (phone, address, web).
    pub contact: String,
    /// When it is open.
    #[uniffi(default = "")]
    pub hours: String,
    /// Anything else worth knowing.
    #[uniffi(default = "")]
    pub notes: String,
}

impl From<model::Resource> for Resource {
    fn from(r: model::Resource) -> Self {
        Resource {
            category: r.category.into(),
            name: r.name,
            contact: r.contact,
            hours: r.hours,
            notes: r.notes,
        }
    }
}

impl From<Resource> for model::Resource {
    fn from(r: Resource) -> Self {
        model::Resource {
            category: r.category.into(),
            name: r.name,
            contact: r.contact,
            hours: r.hours,
            notes: r.notes,
        }
    }
}

/// A resource in the directory, with its id.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ResourceEntry {
    /// The resource's id.
    pub id: String,
    /// The resource.
    pub resource: Resource,
}

impl From<(model::ResourceId, model::Resource)> for ResourceEntry {
    fn from((id, resource): (model::ResourceId, model::Resource)) -> Self {
        ResourceEntry {
            id: id.to_string(),
            resource: resource.into(),
        }
    }
}
