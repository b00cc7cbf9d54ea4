//! Concurrent edits to one field of a session, a member or a resource,
//! exposed with every value (see `model::conflict`).

use super::doc::{MEMBERS, RESOURCES, SESSIONS, SpaceDoc};
use crate::model::conflict::{FieldConflict, conflicts_in};
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{MemberId, ResourceId, SessionId};

impl SpaceDoc {
    /// Fields of a session that two devices changed concurrently, with every
    /// value, so an app can show them and let someone choose. Writing the
    /// field again (with [`SpaceDoc::edit_session`]) resolves the conflict.
    pub fn session_conflicts(&self, session: &SessionId) -> ModelResult<Vec<FieldConflict>> {
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        Ok(conflicts_in(&self.doc, &obj))
    }

    /// Fields of a member (pseudonym, role) that were changed concurrently.
    pub fn member_conflicts(&self, member: &MemberId) -> ModelResult<Vec<FieldConflict>> {
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or_else(|| ModelError::UnknownMember(member.to_string()))?;
        Ok(conflicts_in(&self.doc, &obj))
    }

    /// Fields of a resource that were changed concurrently.
    pub fn resource_conflicts(&self, resource: &ResourceId) -> ModelResult<Vec<FieldConflict>> {
        let obj = self
            .item_obj(RESOURCES, resource.as_str())
            .ok_or_else(|| ModelError::UnknownResource(resource.to_string()))?;
        Ok(conflicts_in(&self.doc, &obj))
    }
}
