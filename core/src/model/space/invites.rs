//! Invites as the space records them: recording one, admitting its
//! joiner, and withdrawing it.

use std::collections::BTreeMap;

use automerge::{ReadDoc, transaction::Transactable};
use autosurgeon::reconcile_prop;

use super::doc::{INVITES, SpaceDoc, check_pseudonym, invalid};
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{DeviceId, MemberId};
use crate::model::invite::{Invite, InviteState};
use crate::model::member::{DeviceKeys, Member, Role};
use crate::model::time::Timestamp;

impl SpaceDoc {
    /// Records an invite (its id and verifying key, never its secret).
    /// Coordinators may invite any role; leads may invite members.
    pub fn record_invite(
        &mut self,
        by: &MemberId,
        invite_id: &str,
        verifying_key: &str,
        role: Role,
        expires_at: Timestamp,
    ) -> ModelResult<()> {
        let inviter = self.require_role(by, Role::Lead, "invite people")?;
        if role != Role::Member && !inviter.role.at_least(Role::Coordinator) {
            return Err(ModelError::NotPermitted {
                action: "invite leads or coordinators",
                required: "coordinator",
            });
        }
        let invite = Invite {
            role,
            expires_at,
            created_by: by.clone(),
            verifying_key: verifying_key.to_string(),
            used_by: None,
            proof: None,
            revoked_at: None,
        };
        self.transact(|doc, cols| {
            if doc.get(&cols.invites, invite_id)?.is_some() {
                return Err(ModelError::InvalidInput {
                    field: "invite",
                    reason: "an invite with this id already exists".into(),
                });
            }
            reconcile_prop(doc, &cols.invites, invite_id, &invite)?;
            Ok(())
        })
    }

    /// The invite recorded under `invite_id`, if any.
    pub fn invite(&self, invite_id: &str) -> ModelResult<Option<Invite>> {
        self.hydrate_item(INVITES, invite_id)
    }

    /// Every invite the space records, by id.
    pub fn invites(&self) -> ModelResult<BTreeMap<String, Invite>> {
        self.hydrate_collection(INVITES)
    }

    /// Admits a joiner with a recorded invite: adds the member `id` (drawn
    /// by the joiner, who signed the proof over it and their device) with
    /// the invite's role and their device, marks the invite used and
    /// records the proof. Only the invite's creator admits, while it is
    /// open by her clock; every receiver checks the result
    /// (`protocol::authorship`, admissions).
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        by: &MemberId,
        invite_id: &str,
        id: &MemberId,
        proof: &str,
        pseudonym: &str,
        device: &DeviceId,
        keys: DeviceKeys,
        now: Timestamp,
    ) -> ModelResult<()> {
        check_pseudonym(pseudonym)?;
        self.require_active(by)?;
        let invite = self.recorded_invite(invite_id)?;
        if &invite.created_by != by {
            return Err(ModelError::NotPermitted {
                action: "admit with another member's invite",
                required: "the invite's creator",
            });
        }
        match invite.state(now) {
            InviteState::Open => {}
            InviteState::Used => return Err(ModelError::InviteUsed),
            InviteState::Revoked => return Err(ModelError::InviteRevoked),
            InviteState::Expired => return Err(ModelError::InviteExpired),
        }
        let member = Member {
            pseudonym: pseudonym.trim().to_string(),
            role: invite.role,
            joined_at: now,
            devices: [(device.clone(), keys)].into_iter().collect(),
            removed_at: None,
            invite: Some(invite_id.to_string()),
        };
        let invite_obj = self
            .item_obj(INVITES, invite_id)
            .ok_or_else(|| invalid("invite vanished"))?;
        self.transact(|doc, cols| {
            if doc.get(&cols.members, id.as_str())?.is_some() {
                return Err(ModelError::InvalidInput {
                    field: "member id",
                    reason: "already taken".into(),
                });
            }
            reconcile_prop(doc, &cols.members, id.as_str(), &member)?;
            reconcile_prop(doc, &invite_obj, "used_by", Some(id.clone()))?;
            doc.put(&invite_obj, "proof", proof)?;
            Ok(())
        })
    }

    /// Withdraws an unused invite. Its creator or a coordinator may; a
    /// join that did not see the revocation does not admit either.
    pub fn revoke_invite(
        &mut self,
        by: &MemberId,
        invite_id: &str,
        now: Timestamp,
    ) -> ModelResult<()> {
        let me = self.require_role(by, Role::Lead, "withdraw invites")?;
        let invite = self.recorded_invite(invite_id)?;
        if &invite.created_by != by && !me.role.at_least(Role::Coordinator) {
            return Err(ModelError::NotPermitted {
                action: "withdraw another member's invite",
                required: "coordinator",
            });
        }
        match invite.state(now) {
            InviteState::Used => return Err(ModelError::InviteUsed),
            InviteState::Revoked => return Ok(()),
            InviteState::Open | InviteState::Expired => {}
        }
        let invite_obj = self
            .item_obj(INVITES, invite_id)
            .ok_or_else(|| invalid("invite vanished"))?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &invite_obj, "revoked_at", Some(now))?;
            Ok(())
        })
    }

    fn recorded_invite(&self, invite_id: &str) -> ModelResult<Invite> {
        self.invite(invite_id)?
            .ok_or_else(|| ModelError::InvalidInput {
                field: "invite",
                reason: "no such invite in this space".into(),
            })
    }
}
