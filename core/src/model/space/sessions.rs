//! Sessions: planning, editing, cancelling and completing them, weekly
//! series and "this and following", and the space's time zone they are
//! read in.

use std::collections::BTreeMap;

use automerge::{AutoCommit, ObjId, ROOT, ReadDoc, Value, transaction::Transactable};
use autosurgeon::{hydrate_prop, reconcile_prop};

use super::doc::{SESSIONS, SpaceDoc, invalid};
use super::reach::Reach;
use crate::model::document::child_map;
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{MemberId, SeriesId, SessionId};
use crate::model::member::Role;
use crate::model::series::{SeriesRule, occurrence_starts, shifted_start};
use crate::model::session::{Session, SessionDraft, SessionEdit, SessionStatus};
use crate::model::time::Timestamp;
use crate::model::waitlist::SignUps;
use crate::model::zone::SpaceZone;

/// Writes a new session under `sessions` in one batch of operations
/// (see `Session::as_new_value`); its id is fresh, so nothing is there to
/// merge with.
fn put_new_session(
    doc: &mut AutoCommit,
    sessions: &ObjId,
    id: &SessionId,
    session: &Session,
) -> ModelResult<()> {
    doc.batch_create_object(sessions, id.as_str(), &session.as_new_value(), false)?;
    Ok(())
}

impl SpaceDoc {
    /// Every session, soonest first.
    pub fn sessions(&self) -> ModelResult<Vec<(SessionId, Session)>> {
        let mut sessions: Vec<(SessionId, Session)> =
            self.hydrate_collection(SESSIONS)?.into_iter().collect();
        sessions.sort_by(|a, b| a.1.starts_at.cmp(&b.1.starts_at).then(a.0.cmp(&b.0)));
        Ok(sessions)
    }

    /// Every session's id with its map, in one pass over the sessions map
    /// (a lookup per key costs a seek into the whole document each).
    pub(super) fn session_objs(&self) -> ModelResult<Vec<(SessionId, ObjId)>> {
        let parent = self.collection(SESSIONS)?;
        Ok(self
            .doc
            .map_range(&parent, ..)
            .filter(|item| {
                matches!(
                    item.value,
                    automerge::ValueRef::Object(automerge::ObjType::Map)
                )
            })
            .map(|item| (SessionId::from(item.key.to_string()), item.id()))
            .collect())
    }

    /// One session.
    pub fn session(&self, id: &SessionId) -> ModelResult<Session> {
        self.hydrate_item(SESSIONS, id.as_str())?
            .ok_or_else(|| ModelError::UnknownSession(id.to_string()))
    }

    /// Plans a new session at `now`. Leads and coordinators only.
    pub fn create_session(
        &mut self,
        by: &MemberId,
        draft: SessionDraft,
        now: Timestamp,
    ) -> ModelResult<SessionId> {
        self.require_role(by, Role::Lead, "plan sessions")?;
        draft.validate()?;
        let id = SessionId::random();
        let session = Session {
            kind: draft.kind,
            title: draft.title.trim().to_string(),
            description: draft.description,
            starts_at: draft.starts_at,
            duration_minutes: draft.duration_minutes,
            location: draft.location,
            capacity: draft.capacity,
            content_notes: draft.content_notes,
            accessibility: draft.accessibility,
            status: SessionStatus::Planned,
            created_by: by.clone(),
            created_at: now,
            series: None,
            occurrence: None,
            signups_close_before_minutes: draft.signups_close_before_minutes,
            leads: BTreeMap::new(),
            signups: SignUps::default(),
        };
        self.transact_within(Reach::new_sessions([&id]), |doc, cols| {
            put_new_session(doc, &cols.sessions, &id, &session)
        })?;
        Ok(id)
    }

    /// Changes the given fields of a session and only those. Leads and
    /// coordinators only.
    pub fn edit_session(
        &mut self,
        by: &MemberId,
        id: &SessionId,
        edit: SessionEdit,
    ) -> ModelResult<()> {
        self.require_role(by, Role::Lead, "edit sessions")?;
        edit.validate()?;
        let obj = self
            .item_obj(SESSIONS, id.as_str())
            .ok_or_else(|| ModelError::UnknownSession(id.to_string()))?;
        self.transact_within(Reach::session(id), |doc, _| write_edit(doc, &obj, &edit))
    }

    /// Cancels a session or marks it completed. Leads and coordinators only.
    pub fn set_session_status(
        &mut self,
        by: &MemberId,
        id: &SessionId,
        status: SessionStatus,
    ) -> ModelResult<()> {
        self.require_role(by, Role::Lead, "cancel or complete sessions")?;
        let obj = self
            .item_obj(SESSIONS, id.as_str())
            .ok_or_else(|| ModelError::UnknownSession(id.to_string()))?;
        self.transact_within(Reach::session(id), |doc, _| {
            reconcile_prop(doc, &obj, "status", status)?;
            Ok(())
        })
    }

    /// The object of a planned session, or why it cannot take sign-ups.
    /// Reads only the status, not the whole session: sign-ups are the
    /// hottest write path and a session may hold hundreds of them.
    pub(super) fn open_session(&self, id: &SessionId) -> ModelResult<ObjId> {
        let obj = self
            .item_obj(SESSIONS, id.as_str())
            .ok_or_else(|| ModelError::UnknownSession(id.to_string()))?;
        let status: SessionStatus = hydrate_prop(&self.doc, &obj, "status")?;
        match status {
            SessionStatus::Planned => Ok(obj),
            other => Err(ModelError::SessionClosed(other.as_str())),
        }
    }

    /// The child map `key` of a session object.
    pub(super) fn session_child(&self, session: &ObjId, key: &str) -> ModelResult<ObjId> {
        child_map(&self.doc, session, key).ok_or_else(|| invalid(format!("session without {key}")))
    }

    /// The space's time zone. A document that names none, or one this
    /// build does not know, reads as UTC (see [`SpaceZone::from_stored`]).
    pub fn time_zone(&self) -> SpaceZone {
        match self.doc.get(ROOT, "time_zone") {
            Ok(Some((Value::Scalar(v), _))) => match &*v {
                automerge::ScalarValue::Str(name) => SpaceZone::from_stored(name),
                _ => SpaceZone::from_stored("?"),
            },
            _ => SpaceZone::utc(),
        }
    }

    /// Sets the space's time zone. Coordinators only. Stored instants do
    /// not move: a session planned for 18:00 London stays at that instant.
    pub fn set_time_zone(&mut self, by: &MemberId, zone: &SpaceZone) -> ModelResult<()> {
        self.require_role(by, Role::Coordinator, "set the space's time zone")?;
        self.transact_within(Reach::anything_but_members(), |doc, _| {
            doc.put(ROOT, "time_zone", zone.name())?;
            Ok(())
        })
    }

    /// The sessions of one series, by occurrence.
    pub fn series_sessions(&self, series: &SeriesId) -> ModelResult<Vec<(SessionId, Session)>> {
        let mut found: Vec<(SessionId, Session)> = self
            .sessions()?
            .into_iter()
            .filter(|(_, s)| s.series.as_ref() == Some(series))
            .collect();
        found.sort_by_key(|(id, s)| (s.occurrence, id.clone()));
        Ok(found)
    }

    /// Plans a weekly series in one change: every occurrence is a session
    /// made now, from `draft` (whose start, in the space's time zone, fixes
    /// the weekday and local time), so no later write can duplicate one
    /// (docs/model.md). Leads and coordinators only. Returns the series and
    /// its sessions in order.
    pub fn create_series(
        &mut self,
        by: &MemberId,
        draft: SessionDraft,
        rule: SeriesRule,
        now: Timestamp,
    ) -> ModelResult<(SeriesId, Vec<SessionId>)> {
        self.require_role(by, Role::Lead, "plan sessions")?;
        draft.validate()?;
        let starts = occurrence_starts(draft.starts_at, rule, &self.time_zone())?;
        let series = SeriesId::random();
        let sessions: Vec<(SessionId, Session)> = starts
            .iter()
            .zip(0u32..)
            .map(|(start, index)| {
                let session = Session {
                    kind: draft.kind,
                    title: draft.title.trim().to_string(),
                    description: draft.description.clone(),
                    starts_at: *start,
                    duration_minutes: draft.duration_minutes,
                    location: draft.location.clone(),
                    capacity: draft.capacity,
                    content_notes: draft.content_notes.clone(),
                    accessibility: draft.accessibility.clone(),
                    status: SessionStatus::Planned,
                    created_by: by.clone(),
                    created_at: now,
                    series: Some(series.clone()),
                    occurrence: Some(index),
                    signups_close_before_minutes: draft.signups_close_before_minutes,
                    leads: BTreeMap::new(),
                    signups: SignUps::default(),
                };
                (SessionId::random(), session)
            })
            .collect();
        self.transact_within(
            Reach::new_sessions(sessions.iter().map(|(id, _)| id)),
            |doc, cols| {
                for (id, session) in &sessions {
                    put_new_session(doc, &cols.sessions, id, session)?;
                }
                Ok(())
            },
        )?;
        Ok((series, sessions.into_iter().map(|(id, _)| id).collect()))
    }

    /// Edits a session of a series and every later one ("this and
    /// following"), in one change. A new start moves each by the same
    /// number of local days to the same new local time. A session outside
    /// any series is edited alone. Returns the sessions edited.
    pub fn edit_series_from(
        &mut self,
        by: &MemberId,
        id: &SessionId,
        edit: SessionEdit,
    ) -> ModelResult<Vec<SessionId>> {
        self.require_role(by, Role::Lead, "edit sessions")?;
        edit.validate()?;
        let this = self.session(id)?;
        let zone = self.time_zone();
        let mut targets = Vec::new();
        for (other, session) in self.following(id, &this)? {
            let mut one = edit.clone();
            if let Some(to) = edit.starts_at {
                one.starts_at = Some(shifted_start(this.starts_at, to, session.starts_at, &zone)?);
            }
            let obj = self
                .item_obj(SESSIONS, other.as_str())
                .ok_or_else(|| ModelError::UnknownSession(other.to_string()))?;
            targets.push((other, obj, one));
        }
        self.transact_within(
            Reach::sessions(targets.iter().map(|t| &t.0).chain([id])),
            |doc, _| {
                for (_, obj, one) in &targets {
                    write_edit(doc, obj, one)?;
                }
                Ok(())
            },
        )?;
        Ok(targets.into_iter().map(|(id, _, _)| id).collect())
    }

    /// Cancels a session of a series and every later one still planned, in
    /// one change. Returns the sessions cancelled.
    pub fn cancel_series_from(
        &mut self,
        by: &MemberId,
        id: &SessionId,
    ) -> ModelResult<Vec<SessionId>> {
        self.require_role(by, Role::Lead, "cancel or complete sessions")?;
        let this = self.session(id)?;
        let mut targets = Vec::new();
        for (other, session) in self.following(id, &this)? {
            if session.status == SessionStatus::Planned {
                let obj = self
                    .item_obj(SESSIONS, other.as_str())
                    .ok_or_else(|| ModelError::UnknownSession(other.to_string()))?;
                targets.push((other, obj));
            }
        }
        self.transact_within(
            Reach::sessions(targets.iter().map(|t| &t.0).chain([id])),
            |doc, _| {
                for (_, obj) in &targets {
                    reconcile_prop(doc, obj, "status", SessionStatus::Cancelled)?;
                }
                Ok(())
            },
        )?;
        Ok(targets.into_iter().map(|(id, _)| id).collect())
    }

    /// This session and the later planned ones of its series, by
    /// occurrence (this one alone outside a series): what "this and
    /// following" acts on for leads.
    pub fn this_and_following(&self, id: &SessionId) -> ModelResult<Vec<SessionId>> {
        let this = self.session(id)?;
        Ok(self
            .following(id, &this)?
            .into_iter()
            .filter(|(other, s)| other == id || s.status == SessionStatus::Planned)
            .map(|(other, _)| other)
            .collect())
    }

    /// This session and the later ones of its series, by occurrence.
    fn following(&self, id: &SessionId, this: &Session) -> ModelResult<Vec<(SessionId, Session)>> {
        let Some(series) = &this.series else {
            return Ok(vec![(id.clone(), this.clone())]);
        };
        let from = this.occurrence.unwrap_or(0);
        Ok(self
            .series_sessions(series)?
            .into_iter()
            .filter(|(other, s)| other == id || s.occurrence.is_some_and(|o| o > from))
            .collect())
    }
}

/// Writes the fields an edit names, and only those.
fn write_edit(doc: &mut AutoCommit, obj: &ObjId, edit: &SessionEdit) -> ModelResult<()> {
    if let Some(kind) = edit.kind {
        reconcile_prop(doc, obj, "kind", kind)?;
    }
    if let Some(title) = &edit.title {
        doc.put(obj, "title", title.trim())?;
    }
    if let Some(text) = &edit.description {
        doc.put(obj, "description", text.as_str())?;
    }
    if let Some(at) = edit.starts_at {
        reconcile_prop(doc, obj, "starts_at", at)?;
    }
    if let Some(minutes) = edit.duration_minutes {
        reconcile_prop(doc, obj, "duration_minutes", minutes)?;
    }
    if let Some(text) = &edit.location {
        doc.put(obj, "location", text.as_str())?;
    }
    if let Some(capacity) = edit.capacity {
        reconcile_prop(doc, obj, "capacity", capacity)?;
    }
    if let Some(notes) = &edit.content_notes {
        reconcile_prop(doc, obj, "content_notes", notes)?;
    }
    if let Some(text) = &edit.accessibility {
        doc.put(obj, "accessibility", text.as_str())?;
    }
    if let Some(minutes) = edit.signups_close_before_minutes {
        reconcile_prop(doc, obj, "signups_close_before_minutes", Some(minutes))?;
    }
    Ok(())
}
