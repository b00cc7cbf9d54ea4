//! The drivers: what carries the engine's steps (`core/src/engine/`) out.
//!
//! - `space_device.rs`: the device's state of one space as the engine's
//!   [`SyncDevice`](crate::engine::SyncDevice), over the app's saved state.
//! - `relay.rs`: the relay driver behind [`SafeSpaces::sync`]: every
//!   space's full pass against the relay, invites answered around it, the
//!   journal after.
//! - `live.rs`: live updates ([`SafeSpaces::live`]): subscription events
//!   go straight to the device's receive, and a tick pushes only what is
//!   there to push, so an idle device asks the relay nothing.
//!
//! Offline bundles need no driver: they run the same receive
//! (`receive.rs`, settled by [`crate::engine::settle`]) with no push or pull.
//!
//! [`SafeSpaces::sync`]: super::SafeSpaces::sync
//! [`SafeSpaces::live`]: super::SafeSpaces::live

pub(crate) mod live;
pub(crate) mod relay;
mod space_device;
