//! A space's creation, anchored in its id (protocol.md §1 and §4).
//!
//! A space is created by one automerge change, its *genesis*: the header
//! (`kind`, `schema`, `name`), the empty collections, and the creator as
//! coordinator with their first device and its keys. The space id is
//! derived from that change's hash:
//!
//! ```text
//! space id = first 16 bytes of SHA-256("safespaces/v2/space-id" | genesis hash)
//! ```
//!
//! Every member learns the space id from the invite, so a device that
//! starts from nothing (a joiner, a newly linked device) checks the history
//! it is handed from the creation on: the genesis is the one change whose
//! hash gives the space id, the creator's key comes from it, and every
//! other change must be proven by attestations under keys that history
//! itself recorded (`exchange::import_history`). Nobody can hand a joiner a
//! made-up space, or one whose creator is someone else.

use automerge::{AutoCommit, ChangeHash};
use sha2::{Digest, Sha256};

use super::attestation::Attestation;
use super::envelope::SpaceId;
use super::exchange::{ImportReport, import_history};
use crate::model::{ModelError, SpaceDoc};

const LABEL: &[u8] = b"safespaces/v2/space-id";

/// Why a history could not be taken as the space's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// Not an automerge document, or not a space.
    #[error("not a copy of a space: {0}")]
    NotASpace(String),
    /// No change, or more than one, starts the history, or the one that
    /// does is not this space's creation.
    #[error("this history does not start with the creation of this space")]
    WrongGenesis,
}

impl From<ModelError> for GenesisError {
    fn from(err: ModelError) -> Self {
        GenesisError::NotASpace(err.to_string())
    }
}

/// The id of the space whose genesis change has `hash`.
pub fn space_id_for(hash: &ChangeHash) -> SpaceId {
    let mut hasher = Sha256::new();
    hasher.update(LABEL);
    hasher.update(hash.0);
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    SpaceId(id)
}

/// Checks a whole history handed to a device that holds nothing of the
/// space yet, from its creation: returns the document of every change that
/// is proven and allowed (see [`import_history`]), and what the import did.
pub fn verify_from_genesis(
    space: SpaceId,
    document: &[u8],
    attestations: Vec<Attestation>,
) -> Result<(SpaceDoc, ImportReport), GenesisError> {
    let mut other =
        AutoCommit::load(document).map_err(|e| GenesisError::NotASpace(e.to_string()))?;
    let roots: Vec<automerge::Change> = other
        .get_changes(&[])
        .into_iter()
        .filter(|c| c.deps().is_empty())
        .collect();
    let [genesis] = roots.as_slice() else {
        return Err(GenesisError::WrongGenesis);
    };
    if space_id_for(&genesis.hash()) != space {
        return Err(GenesisError::WrongGenesis);
    }
    let mut start = AutoCommit::new();
    start
        .apply_changes([genesis.clone()])
        .map_err(|e| GenesisError::NotASpace(e.to_string()))?;
    let mut doc = SpaceDoc::from_automerge(start)?;
    let report = import_history(&mut doc, &mut other, space, attestations);
    Ok((doc, report))
}
