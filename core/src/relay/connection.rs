//! Opening a TLS connection to the relay, shared by requests and the live
//! subscription, with the timeout and error sorting both need.

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::config::RelayConfig;
use super::error::RelayError;

/// Connects to one relay over TCP and TLS.
#[derive(Clone)]
pub(crate) struct Connector {
    config: RelayConfig,
    tls: TlsConnector,
    server_name: ServerName<'static>,
}

impl Connector {
    pub(crate) fn new(config: RelayConfig) -> Result<Self, RelayError> {
        let tls = TlsConnector::from(config.trust.client_config()?);
        let server_name = ServerName::try_from(config.host.clone()).map_err(|_| {
            RelayError::Config(format!(
                "{:?} is neither a DNS name nor an IP address",
                config.host
            ))
        })?;
        Ok(Self {
            config,
            tls,
            server_name,
        })
    }

    pub(crate) fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// A fresh TLS connection, within the connect timeout.
    pub(crate) async fn connect(&self) -> Result<TlsStream<TcpStream>, RelayError> {
        let c = &self.config;
        let attempt = async {
            let tcp = TcpStream::connect((c.host.as_str(), c.port))
                .await
                .map_err(|e| {
                    RelayError::offline(format!("cannot connect to {}: {e}", c.authority()), false)
                })?;
            // Requests are small and latency-bound; Nagle only adds delay.
            tcp.set_nodelay(true)
                .map_err(|e| RelayError::offline(e, false))?;
            self.tls
                .connect(self.server_name.clone(), tcp)
                .await
                .map_err(RelayError::from_connect_io)
        };
        tokio::time::timeout(c.connect_timeout, attempt)
            .await
            .map_err(|_| {
                RelayError::offline(
                    format!(
                        "no TLS connection to {} within {} s",
                        c.authority(),
                        c.connect_timeout.as_secs_f32()
                    ),
                    false,
                )
            })?
    }
}
