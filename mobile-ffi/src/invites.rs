//! Invites and what importing a bundle did.

use safespaces_core::app;

/// An invite, ready to hand over. The invitee needs the code and the
/// package (today handed over with a bundle; the relay's drop-box later).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Invitation {
    /// The code to give the invitee (QR code, aloud, another messenger).
    pub code: String,
    /// The relay drop-box the package goes in, hex.
    pub dropbox_id: String,
    /// The sealed package (the invite's space key and name, readable only
    /// with the code).
    pub sealed_package: Vec<u8>,
    /// When it stops working (seconds since the Unix epoch).
    pub expires_at: i64,
}

impl From<app::Invitation> for Invitation {
    fn from(i: app::Invitation) -> Self {
        Invitation {
            code: i.code,
            dropbox_id: i.dropbox_id,
            sealed_package: i.package,
            expires_at: i.expires_at.0,
        }
    }
}

impl From<Invitation> for app::Invitation {
    fn from(i: Invitation) -> Self {
        app::Invitation {
            code: i.code,
            dropbox_id: i.dropbox_id,
            package: i.sealed_package,
            expires_at: safespaces_core::model::Timestamp(i.expires_at),
        }
    }
}

/// What importing a bundle did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct BundleReport {
    /// The space it was for.
    pub space: String,
    /// Changes applied.
    pub applied: u64,
    /// Changes refused (not their author's to make).
    pub refused: u64,
    /// Sign-up requests this device recorded as a lead.
    pub requests_recorded: u64,
    /// Envelopes of an epoch this device has moved on from, left unapplied:
    /// the bundle's author has not caught up with a removal yet; ask them
    /// to import a newer bundle first.
    pub stale: u64,
}

impl From<app::BundleReport> for BundleReport {
    fn from(r: app::BundleReport) -> Self {
        BundleReport {
            space: r.space,
            applied: r.applied as u64,
            refused: r.refused as u64,
            requests_recorded: r.requests_recorded as u64,
            stale: r.stale as u64,
        }
    }
}
