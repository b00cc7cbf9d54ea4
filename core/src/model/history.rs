//! Moving changes between replicas of any document: encoding the changes a
//! replica lacks, and applying encoded changes all-or-nothing.

use automerge::{AutoCommit, Change, ChangeHash};

use super::error::{ModelError, ModelResult};

/// Encoded changes of `doc` that a replica at `heads` lacks, in causal order.
pub(crate) fn changes_since(doc: &mut AutoCommit, heads: &[ChangeHash]) -> Vec<Vec<u8>> {
    doc.get_changes(heads)
        .into_iter()
        .map(|mut change| change.bytes().to_vec())
        .collect()
}

/// Decodes every change first, so one malformed change refuses the whole
/// set before anything is applied; then applies them in any order (changes
/// whose dependencies are missing wait inside automerge).
pub(crate) fn apply_changes(doc: &mut AutoCommit, changes: &[Vec<u8>]) -> ModelResult<()> {
    let decoded = changes
        .iter()
        .map(|bytes| Change::from_bytes(bytes.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ModelError::Changes(format!("malformed change: {e}")))?;
    doc.apply_changes(decoded)?;
    Ok(())
}
