//! Members of a space and their roles.

use std::time::SystemTime;

use safespaces_core::model;

use crate::time::system_time;

/// What a member may do in a space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// Attends sessions, may volunteer to lead.
    Member,
    /// Plans sessions and keeps the signposting directory.
    Lead,
    /// Keeps the space safe: roles, training records, membership.
    Coordinator,
}

impl From<model::Role> for Role {
    fn from(role: model::Role) -> Self {
        match role {
            model::Role::Member => Role::Member,
            model::Role::Lead => Role::Lead,
            model::Role::Coordinator => Role::Coordinator,
        }
    }
}

impl From<Role> for model::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Member => model::Role::Member,
            Role::Lead => model::Role::Lead,
            Role::Coordinator => model::Role::Coordinator,
        }
    }
}

/// A member of a space, as every member sees them.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Member {
    /// Their member id.
    pub id: String,
    /// The name they chose for this space.
    pub pseudonym: String,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub joined_at: SystemTime,
    /// When they left or were removed; `null` while a member.
    pub removed_at: Option<SystemTime>,
    /// Their devices' ids.
    pub devices: Vec<String>,
}

impl From<(model::MemberId, model::Member)> for Member {
    fn from((id, member): (model::MemberId, model::Member)) -> Self {
        Member {
            id: id.to_string(),
            pseudonym: member.pseudonym,
            role: member.role.into(),
            joined_at: system_time(member.joined_at),
            removed_at: member.removed_at.map(system_time),
            devices: member.devices.into_keys().map(|d| d.to_string()).collect(),
        }
    }
}
