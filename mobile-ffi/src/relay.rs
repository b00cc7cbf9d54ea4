//! The relay client (where the relay is, how to trust it, its access
//! token) and its sync status, and the one tokio runtime the FFI keeps for
//! what runs in the background (live updates, status listeners).

use std::sync::{Arc, OnceLock};

use safespaces_core::relay;
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::SafeSpacesError;

/// The process-wide runtime for background tasks. Async methods run on
/// uniffi's tokio support instead; this one only hosts what outlives a call.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("safespaces-ffi")
            .enable_all()
            .build()
            .expect("the FFI's tokio runtime starts")
    })
}

/// What the UI should say about syncing with the relay.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStatus {
    /// The relay cannot be reached (or has not been tried yet); work is
    /// kept on the device and goes out later.
    Offline {
        /// Why, for a status line.
        reason: String,
    },
    /// Talking to the relay.
    Syncing,
    /// Nothing in flight and nothing known to be missing.
    UpToDate,
    /// Syncing cannot work until someone changes something.
    Error {
        /// What is wrong and what to do.
        reason: String,
    },
}

impl From<relay::SyncStatus> for SyncStatus {
    fn from(s: relay::SyncStatus) -> Self {
        match s {
            relay::SyncStatus::Offline { reason } => SyncStatus::Offline { reason },
            relay::SyncStatus::Syncing => SyncStatus::Syncing,
            relay::SyncStatus::UpToDate => SyncStatus::UpToDate,
            relay::SyncStatus::Error { reason } => SyncStatus::Error { reason },
            other => SyncStatus::Error {
                reason: format!("{other:?}"),
            },
        }
    }
}

/// Told when a relay client's sync status changes.
#[uniffi::export(with_foreign)]
pub trait SyncStatusListener: Send + Sync {
    /// The status is now `status`.
    fn status_changed(&self, status: SyncStatus) -> Result<(), SafeSpacesError>;
}

/// A running status subscription; destroying (or dropping) it stops it.
#[derive(uniffi::Object)]
pub struct StatusSubscription {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StatusSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How the app decides it is talking to the right relay.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum RelayTrust {
    /// Accept a certificate whose public key has one of these pins: 64 hex
    /// digits each, the SHA-256 of the certificate's SubjectPublicKeyInfo,
    /// as `safespaces-relay pin --cert FILE` prints it. Renewals on the
    /// same key keep the pin; list the next key's pin too before the
    /// operator changes keys. At least one.
    Pins {
        /// The accepted pins.
        pins: Vec<String>,
    },
    /// Verify the certificate chain and host name against these CA
    /// certificates (the contents of a PEM file).
    CaCertificates {
        /// One or more `BEGIN CERTIFICATE` blocks.
        pem: String,
    },
    /// Verify the chain and host name against the public web PKI
    /// (Mozilla's roots, built into the library; CAs installed on the
    /// device are not trusted). For a relay with a Let's Encrypt or other
    /// public certificate.
    WebPki,
}

impl TryFrom<RelayTrust> for relay::Trust {
    type Error = SafeSpacesError;

    fn try_from(trust: RelayTrust) -> Result<Self, Self::Error> {
        Ok(match trust {
            RelayTrust::Pins { pins } => relay::Trust::pins_from_hex(&pins)?,
            RelayTrust::CaCertificates { pem } => relay::Trust::roots_from_pem(pem.as_bytes())?,
            RelayTrust::WebPki => relay::Trust::WebPki,
        })
    }
}

/// The relay operator's access token, sent when creating a space's
/// mailbox and an invite's drop-box. An opaque object rather than a string
/// in [`RelaySettings`] on purpose: generated records print their fields
/// (`toString`, `repr`), and a credential must never end up in a log.
#[derive(uniffi::Object)]
pub struct AccessToken {
    token: SecretString,
}

#[uniffi::export]
impl AccessToken {
    /// Wraps the token the operator handed out (printable ASCII, no
    /// spaces; checked when the client is built).
    #[uniffi::constructor]
    pub fn new(token: String) -> Self {
        AccessToken {
            token: SecretString::from(token),
        }
    }
}

/// Everything a [`RelayClient`] needs to reach its relay.
#[derive(uniffi::Record)]
pub struct RelaySettings {
    /// `https://host[:port]` (port 443 if absent).
    pub url: String,
    /// How to trust it.
    pub trust: RelayTrust,
    /// The operator's access token, if the relay asks for one.
    #[uniffi(default = None)]
    pub access_token: Option<Arc<AccessToken>>,
}

/// A connection to one relay, shared by every call that talks to it.
#[derive(uniffi::Object)]
pub struct RelayClient {
    pub(crate) inner: relay::RelayTransport,
}

#[uniffi::export]
impl RelayClient {
    /// A client for the relay `settings` describe. Connects only when used.
    #[uniffi::constructor]
    pub fn new(settings: RelaySettings) -> Result<Self, SafeSpacesError> {
        let mut config = relay::RelayConfig::new(&settings.url, settings.trust.try_into()?)?;
        if let Some(token) = settings.access_token {
            config = config.with_access_token(token.token.expose_secret())?;
        }
        Ok(RelayClient {
            inner: relay::RelayTransport::new(config)?,
        })
    }

    /// A client for the relay at `url` (`https://host:port`) whose
    /// certificate's public key has the pin `pin_hex`, without an access
    /// token: shorthand for [`RelayClient::new`] with one pin.
    #[uniffi::constructor]
    pub fn pinned(url: String, pin_hex: String) -> Result<Self, SafeSpacesError> {
        Self::new(RelaySettings {
            url,
            trust: RelayTrust::Pins {
                pins: vec![pin_hex],
            },
            access_token: None,
        })
    }

    /// The sync status now.
    pub fn status(&self) -> SyncStatus {
        self.inner.status().get().into()
    }

    /// Calls `listener` on every status change until the returned handle
    /// is destroyed.
    pub fn watch_status(&self, listener: Arc<dyn SyncStatusListener>) -> Arc<StatusSubscription> {
        let mut watch = self.inner.status();
        let task = runtime().spawn(async move {
            while let Some(status) = watch.changed().await {
                // A listener that throws keeps being told: the next change
                // may succeed, and the app has no one else to report to.
                let _ = listener.status_changed(status.into());
            }
        });
        Arc::new(StatusSubscription { task })
    }
}
