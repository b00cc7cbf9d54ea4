//! Restores: putting back what keys held before changes that a removal
//! voided (`protocol::removal::voided_authority`).

use automerge::{AutoCommit, ObjId, ObjType, transaction::Transactable};

use super::doc::SpaceDoc;
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{MemberId, SessionId};
use crate::model::member::Role;

/// One key put back to what it held before a voided change.
#[derive(Clone, Debug, PartialEq)]
pub struct Restore {
    /// The map.
    pub obj: ObjId,
    /// The key in it.
    pub key: String,
    /// The value it held, `None` if it did not exist (the voided change
    /// made it).
    pub value: Option<Restored>,
    /// For a write under a session's sign-ups, that session: only its
    /// leads may write there.
    pub signups_of: Option<SessionId>,
}

/// A value as it was, to write again: a scalar, or a map or list rebuilt
/// with its contents (a resource the voided change deleted).
#[derive(Clone, Debug, PartialEq)]
pub enum Restored {
    /// A scalar.
    Scalar(automerge::ScalarValue),
    /// A map and what it held.
    Map(Vec<(String, Restored)>),
    /// A list and what it held.
    List(Vec<Restored>),
}

impl SpaceDoc {
    /// Puts back what keys held before changes that removal voided
    /// (`protocol::removal::voided_authority`), in one change. Sign-up
    /// writes need `by` to lead their session; the others, a coordinator.
    pub fn restore(&mut self, by: &MemberId, writes: &[Restore]) -> ModelResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        for w in writes {
            match &w.signups_of {
                Some(session) if self.is_session_lead(session, by)? => {}
                Some(_) => {
                    return Err(ModelError::NotPermitted {
                        action: "take back a removed member's sign-up changes",
                        required: "a lead of the session",
                    });
                }
                None => {
                    self.require_role(
                        by,
                        Role::Coordinator,
                        "take back a removed member's changes",
                    )?;
                }
            }
        }
        self.transact(|doc, _| {
            for w in writes {
                match &w.value {
                    Some(v) => write_restored(doc, &w.obj, automerge::Prop::Map(w.key.clone()), v)?,
                    None => doc.delete(&w.obj, w.key.as_str())?,
                }
            }
            Ok(())
        })
    }
}

/// Writes `value` at `prop` of `obj`, rebuilding maps and lists with their contents.
fn write_restored(
    doc: &mut AutoCommit,
    obj: &ObjId,
    prop: automerge::Prop,
    value: &Restored,
) -> Result<(), automerge::AutomergeError> {
    let made = match (value, &prop) {
        (Restored::Scalar(v), automerge::Prop::Map(k)) => {
            doc.put(obj, k.as_str(), v.clone())?;
            None
        }
        (Restored::Scalar(v), automerge::Prop::Seq(i)) => {
            doc.insert(obj, *i, v.clone())?;
            None
        }
        (Restored::Map(_), automerge::Prop::Map(k)) => {
            Some(doc.put_object(obj, k.as_str(), ObjType::Map)?)
        }
        (Restored::List(_), automerge::Prop::Map(k)) => {
            Some(doc.put_object(obj, k.as_str(), ObjType::List)?)
        }
        (Restored::Map(_), automerge::Prop::Seq(i)) => {
            Some(doc.insert_object(obj, *i, ObjType::Map)?)
        }
        (Restored::List(_), automerge::Prop::Seq(i)) => {
            Some(doc.insert_object(obj, *i, ObjType::List)?)
        }
    };
    match (value, made) {
        (Restored::Map(entries), Some(child)) => {
            for (k, v) in entries {
                write_restored(doc, &child, automerge::Prop::Map(k.clone()), v)?;
            }
        }
        (Restored::List(items), Some(child)) => {
            for (i, v) in items.iter().enumerate() {
                write_restored(doc, &child, automerge::Prop::Seq(i), v)?;
            }
        }
        _ => {}
    }
    Ok(())
}
