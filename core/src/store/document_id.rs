//! The identifier of a stored document.

use std::fmt;

use rand::RngCore;
use rand::rngs::OsRng;

/// A document's 16-byte random id, as chosen by the model layer. It never
/// appears on disk in clear: file names are random and the id lives only
/// inside sealed manifests and chunks.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentId(pub [u8; 16]);

impl DocumentId {
    /// A fresh random id.
    pub fn random() -> Self {
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        Self(id)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({})", hex::encode(self.0))
    }
}
