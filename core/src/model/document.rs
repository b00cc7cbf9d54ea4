//! What every Safe Spaces automerge document shares, the space and the
//! journal alike: a schema header (its kind and version) checked on load,
//! and collections held as child maps.

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value};
use autosurgeon::hydrate_prop;

use super::error::{ModelError, ModelResult};

/// The child map at `key` of `parent`, if there is one.
pub(crate) fn child_map(doc: &impl ReadDoc, parent: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(parent, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

/// Reads a schema header and refuses documents of another kind or a newer schema.
pub(crate) fn check_header(
    doc: &AutoCommit,
    kind: &'static str,
    expected_kind: &str,
    supported: u64,
) -> ModelResult<()> {
    let found_kind: String =
        hydrate_prop(doc, ROOT, "kind").map_err(|_| ModelError::InvalidDocument {
            kind,
            reason: "no document kind; not a Safe Spaces document".into(),
        })?;
    if found_kind != expected_kind {
        return Err(ModelError::InvalidDocument {
            kind,
            reason: format!("this is a {found_kind:?} document"),
        });
    }
    let schema: u64 =
        hydrate_prop(doc, ROOT, "schema").map_err(|e| ModelError::InvalidDocument {
            kind,
            reason: format!("bad schema version: {e}"),
        })?;
    if schema > supported {
        return Err(ModelError::UnsupportedSchema {
            kind,
            found: schema,
            supported,
        });
    }
    Ok(())
}
