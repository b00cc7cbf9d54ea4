//! Concurrent edits to one field, made visible.
//!
//! When two leads change the same field offline (say, a session's start
//! time), automerge keeps both values and deterministically picks one to
//! show. Showing only the winner would make the other lead's edit vanish
//! silently, so the model exposes every value; the app shows them and
//! whoever picks one writes it back, which resolves the conflict everywhere.

use automerge::{ObjId, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};

/// One of the values of a conflicted field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum ConflictValue {
    /// A string field (title, location, status…).
    Text(String),
    /// A number field (start time in seconds, capacity, duration…).
    Integer(i64),
    /// Something else (a nested object, an unset value).
    Other(String),
}

/// A field with more than one concurrent value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// The field's stored name (`starts_at`, `title`, …).
    pub field: String,
    /// Every value; the first is the one currently shown everywhere.
    pub values: Vec<ConflictValue>,
}

fn describe(value: &Value<'_>) -> ConflictValue {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(text) => ConflictValue::Text(text.to_string()),
            ScalarValue::Int(i) => ConflictValue::Integer(*i),
            ScalarValue::Uint(u) => i64::try_from(*u)
                .map(ConflictValue::Integer)
                .unwrap_or_else(|_| ConflictValue::Other(u.to_string())),
            ScalarValue::Null => ConflictValue::Other("(unset)".into()),
            other => ConflictValue::Other(other.to_string()),
        },
        Value::Object(kind) => ConflictValue::Other(format!("({kind})")),
    }
}

/// Every conflicted key directly inside `obj`, in key order.
pub(crate) fn conflicts_in(doc: &impl ReadDoc, obj: &ObjId) -> Vec<FieldConflict> {
    let mut out = Vec::new();
    for key in doc.keys(obj) {
        let Ok(all) = doc.get_all(obj, key.as_str()) else {
            continue;
        };
        if all.len() < 2 {
            continue;
        }
        let winner = doc.get(obj, key.as_str()).ok().flatten().map(|(_, id)| id);
        let mut values: Vec<(bool, ConflictValue)> = all
            .iter()
            .map(|(value, id)| (Some(id) == winner.as_ref(), describe(value)))
            .collect();
        // The shown value first, the rest in automerge's (deterministic) order.
        values.sort_by_key(|(shown, _)| !*shown);
        out.push(FieldConflict {
            field: key,
            values: values.into_iter().map(|(_, v)| v).collect(),
        });
    }
    out
}
