//! The Safe Spaces relay. Not built yet: see the relay issue.
#![forbid(unsafe_code)]
