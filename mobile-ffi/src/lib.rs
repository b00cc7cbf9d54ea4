//! The uniffi layer over `safespaces-core`. Not built yet: see the mobile-ffi
//! issue. It will stay a thin wrapper; every rule lives in core.
#![forbid(unsafe_code)]
