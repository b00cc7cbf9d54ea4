//! What can go wrong talking to the relay, split the way the UI and the
//! retry logic must tell cases apart.

use safespaces_wire::ErrorCode;
use safespaces_wire::pin::{PinMismatch, SpkiPin, describe_pins};

/// A failed relay operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The relay could not be reached or the connection broke: no network,
    /// the relay is down, or it did not answer in time. Transient.
    #[error(
        "the relay is unreachable ({detail}){}; the device stays offline-capable and can retry later",
        if *.request_sent { "; the request may or may not have been applied" } else { "" }
    )]
    Offline {
        /// What failed, for logs and the status line.
        detail: String,
        /// `true` if the request had been sent when the connection broke,
        /// so the relay may have applied it (see `docs/sync.md`).
        request_sent: bool,
    },
    /// The server's certificate carries a public key that is not pinned:
    /// possibly an attacker in the middle, possibly a relay whose operator
    /// changed the key without shipping its pin first.
    #[error(
        "the relay's certificate key does not match the pin: expected {}, presented {presented}; \
         if the operator changed the relay's key, add its new pin",
        describe_pins(expected)
    )]
    PinMismatch {
        /// The pins configured on this device.
        expected: Vec<SpkiPin>,
        /// The pin of the public key in the certificate the server presented.
        presented: SpkiPin,
    },
    /// The TLS handshake failed for another reason (an untrusted chain, a
    /// wrong host name, no common protocol version).
    #[error("TLS with the relay failed: {0}")]
    Tls(String),
    /// The relay understood the request and refused it; nothing was stored.
    #[error("the relay refused the request: {code} (HTTP {status}): {message}", code = .code.as_str())]
    Refused {
        /// The stable code to branch on.
        code: ErrorCode,
        /// The HTTP status, or 0 for a refusal on the WebSocket.
        status: u16,
        /// The relay's human-readable explanation; may change between versions.
        message: String,
    },
    /// The relay answered something this client does not understand: a
    /// version mismatch or something that is not a Safe Spaces relay.
    #[error("the relay's response is malformed: {0}")]
    Malformed(String),
    /// The relay's mailbox is behind what this device already read from it:
    /// its last sequence number is below this device's cursor. A relay
    /// restored from an old backup, or replaced, lost acknowledged blobs;
    /// nothing is read on until someone looks.
    #[error(
        "the relay's mailbox went back to sequence {last_seq}, but this device had read up to {cursor}: the relay lost data it had acknowledged (restored from an old backup, or replaced)"
    )]
    Rewound {
        /// Where this device had read to.
        cursor: u64,
        /// What the relay now says is the last sequence number.
        last_seq: u64,
    },
    /// Compacting or deleting a mailbox needs its admin key, which this
    /// device does not hold (only coordinators' devices do).
    #[error("only a coordinator's device can compact or delete this mailbox")]
    NotAdmin,
    /// The client configuration is invalid (URL, pin, CA file, token).
    #[error("invalid relay configuration: {0}")]
    Config(String),
}

impl RelayError {
    /// Whether trying again later can succeed without anyone changing a
    /// setting: the network, or a relay that is busy, restarting or asking
    /// us to slow down. A refusal for a bad signature or a full quota is not.
    pub fn is_transient(&self) -> bool {
        match self {
            RelayError::Offline { .. } => true,
            RelayError::Refused { code, .. } => matches!(
                code,
                ErrorCode::RateLimited
                    | ErrorCode::ShuttingDown
                    | ErrorCode::Internal
                    | ErrorCode::RelayBusy
                    | ErrorCode::RequestTimeout
            ),
            _ => false,
        }
    }

    /// Whether the relay may have applied the request although no answer
    /// arrived. Refusals and failures before sending never applied anything.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            RelayError::Offline {
                request_sent: true,
                ..
            }
        )
    }

    /// A stable, content-free name for the kind of failure, for logs:
    /// `offline`, `pin_mismatch`, `tls`, `refused`, `malformed`, `rewound`,
    /// `not_admin`, `config`.
    /// The messages themselves may name the relay's address or the pins,
    /// which a log must never carry.
    pub fn kind(&self) -> &'static str {
        match self {
            RelayError::Offline { .. } => "offline",
            RelayError::PinMismatch { .. } => "pin_mismatch",
            RelayError::Tls(_) => "tls",
            RelayError::Refused { .. } => "refused",
            RelayError::Malformed(_) => "malformed",
            RelayError::Rewound { .. } => "rewound",
            RelayError::NotAdmin => "not_admin",
            RelayError::Config(_) => "config",
        }
    }

    /// The relay's code, if this is a refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RelayError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn offline(detail: impl std::fmt::Display, request_sent: bool) -> Self {
        RelayError::Offline {
            detail: detail.to_string(),
            request_sent,
        }
    }

    /// Sorts an I/O error from connecting or the TLS handshake: rustls hands
    /// its errors through `io::Error`, and a pin mismatch must not be
    /// reported as "offline".
    pub(crate) fn from_connect_io(err: std::io::Error) -> Self {
        if let Some(tls) = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = tls {
                if let Some(m) = other.0.downcast_ref::<PinMismatch>() {
                    return RelayError::PinMismatch {
                        expected: m.expected.clone(),
                        presented: m.presented,
                    };
                }
            }
            return RelayError::Tls(tls.to_string());
        }
        RelayError::offline(err, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_and_busy_relay_failures_are_transient() {
        assert!(RelayError::offline("reset", true).is_transient());
        let refused = |code| RelayError::Refused {
            code,
            status: 0,
            message: String::new(),
        };
        assert!(refused(ErrorCode::RateLimited).is_transient());
        assert!(refused(ErrorCode::ShuttingDown).is_transient());
        assert!(refused(ErrorCode::RelayBusy).is_transient());
        assert!(refused(ErrorCode::RequestTimeout).is_transient());
        assert!(!refused(ErrorCode::BadSignature).is_transient());
        assert!(!refused(ErrorCode::QuotaBytesExceeded).is_transient());
        assert!(!RelayError::Tls("x".into()).is_transient());
    }

    #[test]
    fn only_a_broken_sent_request_has_an_unknown_outcome() {
        assert!(RelayError::offline("reset", true).outcome_unknown());
        assert!(!RelayError::offline("refused", false).outcome_unknown());
        assert!(
            !RelayError::Refused {
                code: ErrorCode::Internal,
                status: 500,
                message: String::new()
            }
            .outcome_unknown()
        );
    }
}
