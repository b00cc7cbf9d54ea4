//! End-to-end test harness. The tests arrive with the sync-engine issue.
#![forbid(unsafe_code)]
