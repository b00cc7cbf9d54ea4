//! The CRDT model. Built by the core-model issue.
