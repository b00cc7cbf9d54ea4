//! Members: who belongs to the space, their roles and pseudonyms, leaving
//! and removal, and the permission checks every write starts with.

use std::collections::BTreeMap;

use automerge::{ReadDoc, transaction::Transactable};
use autosurgeon::reconcile_prop;

use super::doc::{MEMBERS, SpaceDoc, check_pseudonym, timestamp_value};
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::MemberId;
use crate::model::member::{Member, Role};
use crate::model::time::Timestamp;

impl SpaceDoc {
    /// Every member, including those who left (see [`Member::is_active`]),
    /// ordered by pseudonym.
    pub fn members(&self) -> ModelResult<Vec<(MemberId, Member)>> {
        let mut members: Vec<(MemberId, Member)> =
            self.hydrate_collection(MEMBERS)?.into_iter().collect();
        for (id, member) in &mut members {
            if member.removed_at.is_none() {
                member.removed_at = self.removal_written_over(id).or(self.lost_join(id, member));
            }
        }
        members.sort_by(|a, b| a.1.pseudonym.cmp(&b.1.pseudonym).then(a.0.cmp(&b.0)));
        Ok(members)
    }

    /// One member.
    pub fn member(&self, id: &MemberId) -> ModelResult<Member> {
        let records = || {
            self.member_records
                .lock()
                .unwrap_or_else(|p| p.into_inner())
        };
        if let Some(member) = records().get(id) {
            return Ok(member.clone());
        }
        let mut member: Member = self
            .hydrate_item(MEMBERS, id.as_str())?
            .ok_or_else(|| ModelError::UnknownMember(id.to_string()))?;
        if member.removed_at.is_none() {
            let lost = self.lost_join(id, &member);
            member.removed_at = self.removal_written_over(id).or(lost);
        }
        records().insert(id.clone(), member.clone());
        Ok(member)
    }

    /// A joiner whose invite admitted someone else (a concurrent join with
    /// the same invite that automerge's order put first, on every replica)
    /// never became a member: counted as removed when they joined.
    fn lost_join(&self, id: &MemberId, member: &Member) -> Option<Timestamp> {
        let invite = member.invite.as_ref()?;
        match self.invite(invite) {
            Ok(Some(i)) if i.used_by.as_ref() == Some(id) && i.revoked_at.is_none() => None,
            _ => Some(member.joined_at),
        }
    }

    /// A removal time hidden behind a concurrent write of `removed_at`
    /// (automerge shows one value of a conflict): removal wins, so any
    /// value that is not null counts.
    fn removal_written_over(&self, id: &MemberId) -> Option<Timestamp> {
        let obj = self.item_obj(MEMBERS, id.as_str())?;
        self.doc
            .get_all(&obj, "removed_at")
            .ok()?
            .into_iter()
            .find_map(|(value, _)| timestamp_value(&value))
    }

    /// Adds a member. Coordinators add members directly; the invite flow
    /// (protocol layer) uses this on the joiner's behalf once the invite is
    /// verified.
    pub fn add_member(
        &mut self,
        by: &MemberId,
        pseudonym: &str,
        role: Role,
        now: Timestamp,
    ) -> ModelResult<MemberId> {
        self.require_role(by, Role::Coordinator, "add members")?;
        check_pseudonym(pseudonym)?;
        let id = MemberId::random();
        let member = Member {
            pseudonym: pseudonym.trim().to_string(),
            role,
            joined_at: now,
            devices: BTreeMap::new(),
            removed_at: None,
            invite: None,
        };
        self.transact(|doc, cols| {
            reconcile_prop(doc, &cols.members, id.as_str(), &member)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Changes a member's role. Coordinators only; the last coordinator
    /// cannot be demoted.
    pub fn set_role(&mut self, by: &MemberId, member: &MemberId, role: Role) -> ModelResult<()> {
        self.require_role(by, Role::Coordinator, "change roles")?;
        let current = self.require_active(member)?;
        if current.role == Role::Coordinator && role != Role::Coordinator {
            self.ensure_other_coordinator(member)?;
        }
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or(ModelError::NotAMember)?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &obj, "role", role)?;
            Ok(())
        })
    }

    /// Changes the acting member's own pseudonym.
    pub fn set_pseudonym(&mut self, member: &MemberId, pseudonym: &str) -> ModelResult<()> {
        self.require_active(member)?;
        check_pseudonym(pseudonym)?;
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or(ModelError::NotAMember)?;
        self.transact(|doc, _| {
            doc.put(&obj, "pseudonym", pseudonym.trim())?;
            Ok(())
        })
    }

    /// Whether `by` may remove `member` (or leave, when they are the same)
    /// as things stand: what [`SpaceDoc::remove_member`] checks, asked
    /// before anything else of a departure is done.
    pub fn may_remove(&self, by: &MemberId, member: &MemberId) -> ModelResult<()> {
        if by != member {
            self.require_role(by, Role::Coordinator, "remove members")?;
        }
        let target = self.require_active(member)?;
        if target.role == Role::Coordinator {
            self.ensure_other_coordinator(member)?;
        }
        Ok(())
    }

    /// Removes a member (a coordinator removing someone) or leaves (a member
    /// removing themselves). The member stays in the document, marked
    /// removed, so their past changes still verify; they hold no places.
    pub fn remove_member(
        &mut self,
        by: &MemberId,
        member: &MemberId,
        now: Timestamp,
    ) -> ModelResult<()> {
        self.may_remove(by, member)?;
        let obj = self
            .item_obj(MEMBERS, member.as_str())
            .ok_or(ModelError::NotAMember)?;
        self.transact(|doc, _| {
            reconcile_prop(doc, &obj, "removed_at", Some(now))?;
            Ok(())
        })
    }

    pub(super) fn require_active(&self, member: &MemberId) -> ModelResult<Member> {
        match self.member(member) {
            Ok(m) if m.is_active() => Ok(m),
            Ok(_) | Err(ModelError::UnknownMember(_)) => Err(ModelError::NotAMember),
            Err(e) => Err(e),
        }
    }

    pub(super) fn require_role(
        &self,
        member: &MemberId,
        role: Role,
        action: &'static str,
    ) -> ModelResult<Member> {
        let m = self.require_active(member)?;
        if !m.role.at_least(role) {
            return Err(ModelError::NotPermitted {
                action,
                required: role.as_str(),
            });
        }
        Ok(m)
    }

    fn ensure_other_coordinator(&self, member: &MemberId) -> ModelResult<()> {
        let others = self
            .members()?
            .into_iter()
            .filter(|(id, m)| id != member && m.is_active() && m.role == Role::Coordinator)
            .count();
        if others == 0 {
            return Err(ModelError::LastCoordinator);
        }
        Ok(())
    }
}
