//! The relay client's configuration: where the relay is, how to trust it,
//! the operator token, and how patient to be.

use std::fmt;
use std::time::Duration;

use super::error::RelayError;
use super::retry::RetryPolicy;
use super::trust::Trust;

/// Everything a [`super::RelayTransport`] needs to know about its relay.
#[derive(Clone)]
pub struct RelayConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) trust: Trust,
    pub(crate) access_token: Option<String>,
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) ping_interval: Duration,
}

impl fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("trust", &self.trust)
            // The token is a credential: never print it.
            .field("access_token", &self.access_token.as_ref().map(|_| ".."))
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl RelayConfig {
    /// A relay at `url` (`https://host[:port]`, port 443 if absent; IPv6 in
    /// brackets), trusted as `trust` says.
    pub fn new(url: &str, trust: Trust) -> Result<Self, RelayError> {
        let (host, port) = parse_url(url)?;
        Ok(Self {
            host,
            port,
            trust,
            access_token: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            // The relay closes connections idle for 90 s by default.
            ping_interval: Duration::from_secs(30),
        })
    }

    /// A relay at `url` whose certificate's public key has this pin (64 hex
    /// digits, the SHA-256 of its SubjectPublicKeyInfo). For the current
    /// and the next key, use [`Trust::pins_from_hex`] with [`Self::new`].
    pub fn pinned(url: &str, pin: &str) -> Result<Self, RelayError> {
        Self::new(url, Trust::pins_from_hex([pin])?)
    }

    /// Sends the operator's access token (`Authorization: Bearer`) where the
    /// relay may ask for it: creating mailboxes and putting drop-boxes.
    pub fn with_access_token(mut self, token: impl Into<String>) -> Result<Self, RelayError> {
        let token = token.into();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RelayError::Config(
                "the access token must be non-empty printable ASCII without spaces".into(),
            ));
        }
        self.access_token = Some(token);
        Ok(self)
    }

    /// Replaces the retry policy of requests (and the backoff of the live
    /// subscription's reconnects).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long one attempt may take to connect (TCP and TLS), and then to
    /// get its answer, before it counts as offline.
    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// How often the live subscription pings; two silent intervals count as
    /// a dead connection. Must stay below the relay's idle timeout.
    pub fn with_ping_interval(mut self, every: Duration) -> Self {
        self.ping_interval = every;
        self
    }

    /// `host:port` as given, for messages.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn parse_url(url: &str) -> Result<(String, u16), RelayError> {
    let bad = |why: &str| RelayError::Config(format!("relay URL {url:?}: {why}"));
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| bad("must start with https://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(bad("must be https://host:port with no path, query or user"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("an IPv6 address needs its closing ]"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("the host is missing"));
    }
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_host_and_port() {
        assert_eq!(
            parse_url("https://127.0.0.1:8443").ok(),
            Some(("127.0.0.1".into(), 8443))
        );
        assert_eq!(
            parse_url("https://relay.example.org/").ok(),
            Some(("relay.example.org".into(), 443))
        );
        assert_eq!(parse_url("https://[::1]:9").ok(), Some(("::1".into(), 9)));
    }

    #[test]
    fn non_https_or_paths_are_refused() {
        for url in [
            "http://relay:80",
            "relay:80",
            "https://relay:80/v1",
            "https://:80",
            "https://relay:0",
            "https://relay:http",
            "https://u@relay",
        ] {
            assert!(parse_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn debug_hides_the_access_token() {
        let config = RelayConfig::pinned("https://127.0.0.1:1", &"00".repeat(32))
            .and_then(|c| c.with_access_token("s3cret"))
            .expect("valid");
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
