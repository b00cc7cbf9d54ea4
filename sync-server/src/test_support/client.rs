//! A small client for the relay's tests and load generator: TLS with
//! public-key (SPKI) pinning, signed requests, WebSocket subscriptions.
//!
//! Core has its own relay client built on [`safespaces_wire`]; this one
//! exists so the relay can be exercised over the real wire from its own
//! crate, and so attack tests can sign whatever they like. It checks a
//! server's certificate with the same [`PinVerifier`] core uses, against
//! the pin the relay announces ([`crate::tls::pin_of`]): both are the wire
//! crate's [`SpkiPin`], so there is one definition of the pin and of its
//! check.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use http_body_util::{BodyExt as _, Full};
use hyper::Method;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, SupportedProtocolVersion};
use safespaces_wire::auth::{
    HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign_now, subscribe_body,
};
use safespaces_wire::subscription::ClientFrame;
use safespaces_wire::{MailboxId, Operation, PinVerifier, RequestProof, SpkiPin};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// What can go wrong talking to the relay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Network failure.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// TLS configuration failure.
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    /// HTTP failure.
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// Building a request failed.
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
    /// WebSocket failure.
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    /// The pin is not 64 hex digits.
    #[error("a certificate pin is 64 hex digits")]
    BadPin,
}

/// A rustls client configuration (TLS 1.3) that trusts only certificates
/// with the pinned public key.
pub fn pinned_config(pin: &str) -> Result<Arc<ClientConfig>, ClientError> {
    pinned_config_for(pin, &[&rustls::version::TLS13])
}

/// Like [`pinned_config`], offering only the given TLS versions: tests use
/// it to play a client the relay must refuse (TLS 1.2 only; the relay ends
/// that handshake at version negotiation, before any certificate, and the
/// verifier would refuse TLS 1.2 signatures anyway).
pub fn pinned_config_for(
    pin: &str,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>, ClientError> {
    let pin = SpkiPin::from_hex(pin).map_err(|_| ClientError::BadPin)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinVerifier::new(vec![pin], provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Opens a pinned TLS connection.
pub async fn connect_tls(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").map_err(|_| ClientError::BadPin)?;
    Ok(TlsConnector::from(config).connect(name, tcp).await?)
}

/// A relay response: status and raw body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The `content-type` header, if any.
    pub content_type: Option<String>,
    /// Raw body.
    pub body: Bytes,
}

impl Reply {
    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

fn content_type<B>(resp: &hyper::Response<B>) -> Option<String> {
    resp.headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One HTTP/1.1 keep-alive connection to the relay.
#[derive(Debug)]
pub struct TestRelayClient {
    sender: SendRequest<Full<Bytes>>,
}

/// Headers carrying a request proof.
pub fn proof_headers(proof: &RequestProof) -> Vec<(&'static str, String)> {
    vec![
        (HEADER_TIMESTAMP, proof.timestamp.to_string()),
        (HEADER_NONCE, proof.nonce_hex()),
        (HEADER_SIGNATURE, proof.signature_hex()),
    ]
}

impl TestRelayClient {
    /// Connects with the given TLS configuration.
    pub async fn connect(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<Self, ClientError> {
        let tls = connect_tls(addr, config).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { sender })
    }

    /// Sends any request and collects the response.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, ClientError> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "localhost");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req.body(Full::new(body.into()))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let content_type = content_type(&resp);
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }

    /// Sends a request signed for `op` on `mailbox`.
    pub async fn signed(
        &mut self,
        method: Method,
        path: &str,
        key: &SigningKey,
        op: Operation,
        mailbox: &MailboxId,
        body: impl Into<Bytes>,
    ) -> Result<Reply, ClientError> {
        let body = body.into();
        let proof = sign_now(key, HOST, op, mailbox, &body);
        self.send(method, path, &proof_headers(&proof), body).await
    }

    /// `POST /v1/mailboxes/{id}` with `key` as the member key and
    /// [`admin_key_for`] it as the admin key (`mailbox` must be
    /// [`mailbox_for`] `key` for the relay to accept it).
    pub async fn create_mailbox(
        &mut self,
        key: &SigningKey,
        mailbox: &MailboxId,
    ) -> Result<Reply, ClientError> {
        let admin = admin_key_for(key);
        let body = serde_json::json!({
            "verifying_key": hex::encode(key.verifying_key().as_bytes()),
            "admin_key": hex::encode(admin.verifying_key().as_bytes()),
        })
        .to_string();
        let path = format!("/v1/mailboxes/{}", mailbox.to_hex());
        self.signed(Method::POST, &path, key, Operation::Create, mailbox, body)
            .await
    }

    /// `POST /v1/mailboxes/{id}/blobs`.
    pub async fn append(
        &mut self,
        key: &SigningKey,
        mailbox: &MailboxId,
        data: impl Into<Bytes>,
    ) -> Result<Reply, ClientError> {
        let path = format!("/v1/mailboxes/{}/blobs", mailbox.to_hex());
        self.signed(Method::POST, &path, key, Operation::Append, mailbox, data)
            .await
    }

    /// `POST /v1/mailboxes/{id}/read`.
    pub async fn read(
        &mut self,
        key: &SigningKey,
        mailbox: &MailboxId,
        after: u64,
        limit: Option<u32>,
    ) -> Result<Reply, ClientError> {
        let body = serde_json::to_string(&safespaces_wire::mailbox::ReadRequest { after, limit })
            .unwrap_or_default();
        let path = format!("/v1/mailboxes/{}/read", mailbox.to_hex());
        self.signed(Method::POST, &path, key, Operation::Read, mailbox, body)
            .await
    }
}

/// The host name this client sends (`Host: localhost`) and signs.
pub const HOST: &str = "localhost";

/// The admin key this test client pairs with a member key. Derived from it,
/// so a test or the load generator names one key and gets a valid mailbox;
/// real clients (core) hold an admin key independent of the member key.
pub fn admin_key_for(member: &SigningKey) -> SigningKey {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"safespaces-relay/test-client/admin");
    h.update(member.to_bytes());
    SigningKey::from_bytes(&h.finalize().into())
}

/// The id of the mailbox [`TestRelayClient::create_mailbox`] creates for `member`.
pub fn mailbox_for(member: &SigningKey) -> MailboxId {
    safespaces_wire::mailbox::mailbox_id_for_keys(
        member.verifying_key().as_bytes(),
        admin_key_for(member).verifying_key().as_bytes(),
    )
}

/// `GET path` over plain HTTP/1.1 on a fresh connection: for the operator
/// listener (`--metrics-listen`), which has no TLS.
pub async fn get_plain(addr: SocketAddr, path: &str) -> Result<Reply, ClientError> {
    let tcp = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let content_type = content_type(&resp);
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

/// A WebSocket to the relay's subscription endpoint.
pub type Subscription = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;

/// Opens `GET /v1/subscribe` over a pinned TLS connection.
pub async fn connect_ws(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<Subscription, ClientError> {
    let tls = connect_tls(addr, config).await?;
    let ws_config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        "wss://localhost/v1/subscribe",
        tls,
        Some(ws_config),
    )
    .await?;
    Ok(ws)
}

/// A signed `subscribe` frame as JSON text.
pub fn subscribe_frame(key: &SigningKey, mailbox: &MailboxId, after: u64) -> String {
    let proof = sign_now(
        key,
        HOST,
        Operation::Subscribe,
        mailbox,
        &subscribe_body(after),
    );
    let frame = ClientFrame::Subscribe {
        mailbox: *mailbox,
        after,
        timestamp: proof.timestamp,
        nonce: proof.nonce_hex(),
        signature: proof.signature_hex(),
    };
    serde_json::to_string(&frame).unwrap_or_default()
}
