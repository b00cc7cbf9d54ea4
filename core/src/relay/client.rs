//! The relay client: every endpoint of the relay's HTTP API, signed with the
//! mailbox's key, over pooled HTTP/1.1 keep-alive connections, with retries.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use safespaces_wire::auth::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign_now};
use safespaces_wire::dropbox::{DropboxStored, put_query, vouch_body};
use safespaces_wire::mailbox::{
    Appended, CompactRequest, Compacted, CreateMailbox, MailboxCreated, MailboxDeleted, ReadPage,
    ReadRequest,
};
use safespaces_wire::{DropboxId, ErrorBody, ErrorCode, Operation};

use super::config::RelayConfig;
use super::connection::Connector;
use super::credential::MailboxCredential;
use super::error::RelayError;
use super::status::{StatusBoard, StatusWatch};
use super::subscription::Subscription;

/// Responses larger than this are refused: a read page is at most 8 MiB of
/// blobs (about 11 MiB as base64), so this only stops a hostile server from
/// filling the phone's memory.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Idle keep-alive connections kept for reuse.
const MAX_IDLE_CONNECTIONS: usize = 4;

/// A client of one relay. Cheap to clone (all clones share connections and
/// status), `Send + Sync`, and usable from many tasks at once.
///
/// Every method retries transient failures (see [`RelayError::is_transient`])
/// with the configured [`super::RetryPolicy`], signing each attempt afresh
/// (a new timestamp and nonce: the relay refuses a nonce it has seen). Which
/// failures are retried depends on whether repeating the request is safe;
/// each method says so, and `docs/sync.md` has the table.
#[derive(Clone, Debug)]
pub struct RelayTransport {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    status: StatusBoard,
    rng: Mutex<StdRng>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayTransport")
            .field("config", self.connector.config())
            .finish_non_exhaustive()
    }
}

/// When a failed attempt may be repeated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Repeating is harmless even if the first attempt was applied.
    Always,
    /// Only if the relay certainly did not apply it.
    IfNotApplied,
}

/// One request, re-signed for every attempt.
struct Call<'a> {
    /// The endpoint's name for logs; the path is never logged, because it
    /// holds the mailbox or drop-box id.
    what: &'static str,
    method: Method,
    path: String,
    body: Bytes,
    signed: Option<(&'a MailboxCredential, Operation)>,
    /// What the signature covers when it is not the body (a vouch signs
    /// [`safespaces_wire::dropbox::vouch_body`]).
    signs: Option<Bytes>,
    token: bool,
    repeat: Repeat,
}

/// A successful answer.
struct Answer {
    body: Bytes,
}

impl RelayTransport {
    /// A client for the relay `config` describes. Does not connect yet.
    pub fn new(config: RelayConfig) -> Result<Self, RelayError> {
        Ok(Self {
            inner: Arc::new(Inner {
                connector: Connector::new(config)?,
                idle: Mutex::new(Vec::new()),
                status: StatusBoard::new(),
                rng: Mutex::new(StdRng::from_entropy()),
            }),
        })
    }

    /// The sync status, updated by every request and the live subscription.
    pub fn status(&self) -> StatusWatch {
        self.inner.status.watch()
    }

    /// Checks that the relay answers (`GET /healthz`). Retried.
    pub async fn health(&self) -> Result<(), RelayError> {
        self.call(Call {
            method: Method::GET,
            what: "health",
            path: "/healthz".into(),
            body: Bytes::new(),
            signed: None,
            signs: None,
            token: false,
            repeat: Repeat::Always,
        })
        .await
        .map(|_| ())
    }

    /// Creates the mailbox with the credential's member and admin keys;
    /// `true` if this call created it, `false` if it already existed (so
    /// retrying is harmless, and it is retried). Any member device may: the
    /// id names both keys, so nobody can create it bound to others. Sends
    /// the access token.
    pub async fn create_mailbox(&self, mailbox: &MailboxCredential) -> Result<bool, RelayError> {
        let body = to_json(&CreateMailbox {
            verifying_key: hex::encode(mailbox.signing_key().verifying_key().as_bytes()),
            admin_key: mailbox.admin_public().to_hex(),
        })?;
        let answer = self
            .call(Call {
                method: Method::POST,
                what: "create_mailbox",
                path: format!("/v1/mailboxes/{}", mailbox.id().to_hex()),
                body,
                signed: Some((mailbox, Operation::Create)),
                signs: None,
                token: true,
                repeat: Repeat::Always,
            })
            .await?;
        Ok(parse::<MailboxCreated>(&answer.body)?.created)
    }

    /// Appends one blob and returns its sequence number; once this returns,
    /// the blob is durable on the relay.
    ///
    /// Retried even when an attempt's outcome is unknown (the connection
    /// broke after sending), so the blob can end up stored twice under two
    /// sequence numbers. That is harmless by design: the relay promises only
    /// "acknowledged means durable, refused means not stored", and the
    /// protocol makes a repeated envelope a no-op on every reader: a change
    /// automerge already holds is not applied again (protocol.md §4,
    /// "Replays change nothing").
    pub async fn append(
        &self,
        mailbox: &MailboxCredential,
        blob: Vec<u8>,
    ) -> Result<u64, RelayError> {
        let answer = self
            .call(Call {
                method: Method::POST,
                what: "append",
                path: format!("/v1/mailboxes/{}/blobs", mailbox.id().to_hex()),
                body: Bytes::from(blob),
                signed: Some((mailbox, Operation::Append)),
                signs: None,
                token: false,
                repeat: Repeat::Always,
            })
            .await?;
        Ok(parse::<Appended>(&answer.body)?.seq)
    }

    /// Reads one page of blobs with `seq > after` (at most `limit`, which
    /// the relay may cap further). Retried.
    pub async fn read(
        &self,
        mailbox: &MailboxCredential,
        after: u64,
        limit: Option<u32>,
    ) -> Result<ReadPage, RelayError> {
        let answer = self
            .call(Call {
                method: Method::POST,
                what: "read",
                path: format!("/v1/mailboxes/{}/read", mailbox.id().to_hex()),
                body: to_json(&ReadRequest { after, limit })?,
                signed: Some((mailbox, Operation::Read)),
                signs: None,
                token: false,
                repeat: Repeat::Always,
            })
            .await?;
        let page: ReadPage = parse(&answer.body)?;
        check_page(&page, after)?;
        if page.last_seq < after {
            // Sequence numbers only grow (a deleted mailbox keeps its
            // tombstone), so a relay behind this device's cursor lost
            // blobs it had acknowledged: restored from an old backup, or
            // replaced. Say so rather than read on from a place that no
            // longer means what it meant.
            return Err(RelayError::Rewound {
                cursor: after,
                last_seq: page.last_seq,
            });
        }
        Ok(page)
    }

    /// Reads every blob with `seq > after`, page by page, into one page
    /// with `more == false`.
    pub async fn read_all(
        &self,
        mailbox: &MailboxCredential,
        after: u64,
    ) -> Result<ReadPage, RelayError> {
        let mut all = self.read(mailbox, after, None).await?;
        while all.more {
            let cursor = all.blobs.last().map_or(after, |b| b.seq);
            let page = self.read(mailbox, cursor, None).await?;
            all.blobs.extend(page.blobs);
            all.more = page.more;
            all.last_seq = page.last_seq;
            all.compacted_through = page.compacted_through;
        }
        Ok(all)
    }

    /// Deletes every blob with `seq <= through_seq`, which the snapshot blob
    /// at `snapshot_seq` (already appended) covers. Repeating is harmless
    /// (`deleted: 0`), so it is retried. Signed with the admin key: a
    /// credential without one is refused here, before anything is sent.
    pub async fn compact(
        &self,
        mailbox: &MailboxCredential,
        snapshot_seq: u64,
        through_seq: u64,
    ) -> Result<Compacted, RelayError> {
        need_admin(mailbox)?;
        let answer = self
            .call(Call {
                method: Method::POST,
                what: "compact",
                path: format!("/v1/mailboxes/{}/compact", mailbox.id().to_hex()),
                body: to_json(&CompactRequest {
                    snapshot_seq,
                    through_seq,
                })?,
                signed: Some((mailbox, Operation::Compact)),
                signs: None,
                token: false,
                repeat: Repeat::Always,
            })
            .await?;
        let compacted: Compacted = parse(&answer.body)?;
        tracing::debug!(deleted = compacted.deleted, "relay compacted a mailbox");
        Ok(compacted)
    }

    /// Deletes every blob of the mailbox; the relay keeps its tombstone, so
    /// the id is never used again. Retried; a retry that finds the mailbox
    /// already gone (`mailbox_deleted`; or `bad_signature`, the relay's
    /// answer for an id it does not hold) after an attempt with an unknown
    /// outcome counts as success, because that attempt is what deleted it.
    /// Signed with the admin key, as for [`RelayTransport::compact`].
    pub async fn delete_mailbox(&self, mailbox: &MailboxCredential) -> Result<(), RelayError> {
        need_admin(mailbox)?;
        let call = Call {
            method: Method::DELETE,
            what: "delete_mailbox",
            path: format!("/v1/mailboxes/{}", mailbox.id().to_hex()),
            body: Bytes::new(),
            signed: Some((mailbox, Operation::Delete)),
            signs: None,
            token: false,
            repeat: Repeat::Always,
        };
        let (result, maybe_applied) = self.call_tracking(call).await;
        match result {
            Ok(answer) => parse::<MailboxDeleted>(&answer.body).map(|_| ()),
            // After our own attempt that may have deleted it, a tombstone
            // (or the answer for an id the relay does not hold, which looks
            // like a wrong key so that nobody can probe ids) means it is gone.
            Err(e)
                if maybe_applied
                    && matches!(
                        e.code(),
                        Some(ErrorCode::MailboxDeleted | ErrorCode::BadSignature)
                    ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Puts a one-time drop-box holding `blob`, claimable until it expires
    /// after `ttl` (the relay's maximum if `None`); returns the expiry in
    /// Unix seconds. Sends the access token. Retried only when the relay
    /// certainly stored nothing: a blind retry could hit our own drop-box
    /// and be refused as `dropbox_exists`.
    pub async fn put_dropbox(
        &self,
        id: &DropboxId,
        blob: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<u64, RelayError> {
        let query = ttl.map_or_else(String::new, |t| format!("?ttl_secs={}", t.as_secs()));
        let answer = self
            .call(Call {
                method: Method::PUT,
                what: "put_dropbox",
                path: format!("/v1/dropboxes/{}{query}", id.to_hex()),
                body: Bytes::from(blob),
                signed: None,
                signs: None,
                token: true,
                repeat: Repeat::IfNotApplied,
            })
            .await?;
        Ok(parse::<DropboxStored>(&answer.body)?.expires_at)
    }

    /// Puts a drop-box like [`RelayTransport::put_dropbox`], vouched for by
    /// `vouch` (a mailbox this device holds the key of): the relay charges
    /// it to that mailbox instead of its shared pool of anonymous drop-boxes,
    /// which a stranger can fill. With `reserve`, a second id is held for one
    /// later anonymous put at a time (the invitee's answer) under the same
    /// vouch and expiry. Retried like `put_dropbox`.
    pub async fn put_dropbox_vouched(
        &self,
        id: &DropboxId,
        blob: Vec<u8>,
        ttl: Option<Duration>,
        vouch: &MailboxCredential,
        reserve: Option<&DropboxId>,
    ) -> Result<u64, RelayError> {
        let ttl_secs = ttl.map(|t| t.as_secs());
        let signs = vouch_body(id, reserve, ttl_secs, &blob);
        let query = put_query(ttl_secs, Some(&vouch.id()), reserve);
        let answer = self
            .call(Call {
                method: Method::PUT,
                what: "put_dropbox_vouched",
                path: format!("/v1/dropboxes/{}{query}", id.to_hex()),
                body: Bytes::from(blob),
                signed: Some((vouch, Operation::Vouch)),
                signs: Some(Bytes::from(signs)),
                token: true,
                repeat: Repeat::IfNotApplied,
            })
            .await?;
        Ok(parse::<DropboxStored>(&answer.body)?.expires_at)
    }

    /// Claims a drop-box: returns its blob, which the relay deletes. Retried
    /// only when the relay certainly did not hand it out, since a claim whose
    /// answer was lost cannot be repeated (the blob is gone); the inviter
    /// then has to send a new invite.
    pub async fn claim_dropbox(&self, id: &DropboxId) -> Result<Vec<u8>, RelayError> {
        let answer = self
            .call(Call {
                method: Method::POST,
                what: "claim_dropbox",
                path: format!("/v1/dropboxes/{}/claim", id.to_hex()),
                body: Bytes::new(),
                signed: None,
                signs: None,
                token: false,
                repeat: Repeat::IfNotApplied,
            })
            .await?;
        Ok(answer.body.to_vec())
    }

    /// Whether the drop-box still waits to be claimed: `Some(expires_at)`
    /// (Unix seconds) if it holds its blob, `None` if it does not (never put,
    /// already claimed, or expired; the relay does not say which). Lets an
    /// inviter's device learn that its invite package was claimed, and so
    /// that the invitee has it, without taking the package itself: the
    /// relay's answer changes nothing, so it is retried like other reads.
    pub async fn dropbox_waiting(&self, id: &DropboxId) -> Result<Option<u64>, RelayError> {
        let result = self
            .call(Call {
                method: Method::GET,
                what: "dropbox_waiting",
                path: format!("/v1/dropboxes/{}", id.to_hex()),
                body: Bytes::new(),
                signed: None,
                signs: None,
                token: false,
                repeat: Repeat::Always,
            })
            .await;
        match result {
            Ok(answer) => Ok(Some(parse::<DropboxStored>(&answer.body)?.expires_at)),
            Err(e) if e.code() == Some(ErrorCode::DropboxNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts the live subscription: one WebSocket for many mailboxes, kept
    /// up until the returned handle is dropped. See [`Subscription`].
    ///
    /// Spawns its task on the current tokio runtime, so it must be called
    /// from within one (as every async method here runs in one anyway).
    pub fn subscribe(&self) -> Subscription {
        Subscription::start(
            self.inner.connector.clone(),
            self.inner.status.clone(),
            self.next_seed(),
        )
    }

    fn next_seed(&self) -> u64 {
        use rand::RngCore as _;
        self.inner
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64()
    }

    async fn call(&self, call: Call<'_>) -> Result<Answer, RelayError> {
        self.call_tracking(call).await.0
    }

    /// Runs a call with retries; also says whether an earlier attempt may
    /// have been applied.
    async fn call_tracking(&self, call: Call<'_>) -> (Result<Answer, RelayError>, bool) {
        let policy = self.inner.connector.config().retry;
        let status = &self.inner.status;
        let mut in_flight = InFlight::start(status);
        let mut maybe_applied = false;
        let mut attempt = 1;
        let started = std::time::Instant::now();
        let result = loop {
            match self.attempt(&call).await {
                Ok(answer) => break Ok(answer),
                Err(e) => {
                    let repeatable =
                        e.is_transient() && (call.repeat == Repeat::Always || !e.outcome_unknown());
                    if !repeatable || !policy.may_retry(attempt) {
                        tracing::warn!(
                            operation = call.what,
                            kind = e.kind(),
                            code = e.code().map(ErrorCode::as_str),
                            attempts = attempt,
                            outcome_unknown = maybe_applied || e.outcome_unknown(),
                            "relay request failed"
                        );
                        break Err(match e {
                            // The last attempt never got its request out, but
                            // an earlier one did: the outcome is still unknown.
                            RelayError::Offline { detail, .. } if maybe_applied => {
                                RelayError::Offline {
                                    detail,
                                    request_sent: true,
                                }
                            }
                            other => other,
                        });
                    }
                    maybe_applied |= e.outcome_unknown();
                    status.attempt_failed(&e);
                    let delay = {
                        let mut rng = self
                            .inner
                            .rng
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner);
                        policy.delay(attempt - 1, &mut *rng)
                    };
                    tracing::warn!(
                        operation = call.what,
                        kind = e.kind(),
                        code = e.code().map(ErrorCode::as_str),
                        attempt,
                        delay_ms = delay.as_millis(),
                        "relay request failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        };
        in_flight.finish(result.as_ref().map(|_| ()));
        if result.is_ok() {
            tracing::debug!(
                operation = call.what,
                attempts = attempt,
                elapsed_ms = started.elapsed().as_millis(),
                "relay request done"
            );
        }
        (result, maybe_applied)
    }

    /// One attempt: a pooled or new connection, one request, one answer.
    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, RelayError> {
        let config = self.inner.connector.config();
        let mut sender = match self.pooled() {
            Some(sender) => sender,
            None => self.open().await?,
        };
        let mut request = hyper::Request::builder()
            .method(call.method.clone())
            .uri(&call.path)
            .header(hyper::header::HOST, config.authority());
        if let Some((mailbox, op)) = call.signed {
            // Compaction and deletion carry the admin key (checked by the
            // caller); everything else the member key.
            let key = match mailbox.admin_key() {
                Some(admin) if op.needs_admin_key() => admin,
                _ => mailbox.signing_key(),
            };
            let covered = call.signs.as_ref().unwrap_or(&call.body);
            // Signed for this relay's host: useless at any other relay.
            let proof = sign_now(key, &config.host, op, &mailbox.id(), covered);
            request = request
                .header(HEADER_TIMESTAMP, proof.timestamp.to_string())
                .header(HEADER_NONCE, proof.nonce_hex())
                .header(HEADER_SIGNATURE, proof.signature_hex());
        }
        if call.token {
            if let Some(token) = &config.access_token {
                request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
            }
        }
        if !call.body.is_empty()
            && call
                .signed
                .is_some_and(|(_, op)| op != Operation::Append && op != Operation::Vouch)
        {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(call.body.clone()))
            .map_err(|e| RelayError::Config(format!("cannot build the request: {e}")))?;

        let exchange = async {
            // A pooled connection the relay closed while idle fails here,
            // before anything was sent.
            sender
                .ready()
                .await
                .map_err(|e| RelayError::offline(format!("connection lost: {e}"), false))?;
            let response = sender.send_request(request).await.map_err(|e| {
                if e.is_parse() {
                    RelayError::Malformed(format!("not an HTTP response: {e}"))
                } else {
                    RelayError::offline(format!("connection lost: {e}"), true)
                }
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| RelayError::offline(format!("answer cut off: {e}"), true))?
                .to_bytes();
            Ok::<_, RelayError>((status, body))
        };
        let (status, body) = tokio::time::timeout(config.request_timeout, exchange)
            .await
            .map_err(|_| {
                RelayError::offline(
                    format!(
                        "no answer within {} s",
                        config.request_timeout.as_secs_f32()
                    ),
                    true,
                )
            })??;
        self.return_to_pool(sender);
        if status.is_success() {
            Ok(Answer { body })
        } else {
            Err(refusal(status, &body))
        }
    }

    fn pooled(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn return_to_pool(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(sender);
        }
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, RelayError> {
        let tls = self.inner.connector.connect().await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| RelayError::offline(format!("HTTP handshake failed: {e}"), false))?;
        // The connection task ends when the relay closes the connection or
        // the last sender is dropped; its error is seen by the request.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// Counts a request as in flight until it finishes, or until its future is
/// dropped (a cancelled call must not leave the status at "syncing").
struct InFlight<'a> {
    board: &'a StatusBoard,
    finished: bool,
}

impl<'a> InFlight<'a> {
    fn start(board: &'a StatusBoard) -> Self {
        board.request_started();
        Self {
            board,
            finished: false,
        }
    }

    fn finish(&mut self, result: Result<(), &RelayError>) {
        self.finished = true;
        self.board.request_finished(result);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.board.request_abandoned();
        }
    }
}

/// Turns a non-success answer into a refusal with the relay's code.
fn refusal(status: StatusCode, body: &[u8]) -> RelayError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(err) => RelayError::Refused {
            code: err.code,
            status: status.as_u16(),
            message: err.message,
        },
        Err(_) => {
            // A code added by a newer relay still deserves to be shown.
            let code = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("code")?.as_str().map(str::to_owned));
            RelayError::Malformed(match code {
                Some(code) => {
                    format!("HTTP {status} with an error code this client does not know: {code}")
                }
                None => format!("HTTP {status} without a relay error body"),
            })
        }
    }
}

/// Compaction and deletion need the admin key, which only some devices hold.
fn need_admin(mailbox: &MailboxCredential) -> Result<(), RelayError> {
    if mailbox.admin_key().is_some() {
        Ok(())
    } else {
        Err(RelayError::NotAdmin)
    }
}

/// A page must hold what was asked for, in order: a relay that breaks this
/// would make the caller's cursor skip or repeat blobs.
fn check_page(page: &ReadPage, after: u64) -> Result<(), RelayError> {
    let mut previous = after;
    for blob in &page.blobs {
        if blob.seq <= previous || blob.seq > page.last_seq {
            return Err(RelayError::Malformed(format!(
                "read page out of order: seq {} after {previous} (last_seq {})",
                blob.seq, page.last_seq
            )));
        }
        previous = blob.seq;
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Bytes, RelayError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| RelayError::Config(format!("cannot encode the request: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RelayError> {
    serde_json::from_slice(body).map_err(|e| {
        RelayError::Malformed(format!(
            "expected a {} JSON body: {e}",
            std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("relay")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use safespaces_wire::mailbox::Blob;

    #[test]
    fn relay_error_bodies_become_refusals_with_their_code() {
        let err = refusal(
            StatusCode::UNAUTHORIZED,
            br#"{"code":"replayed_nonce","message":"seen"}"#,
        );
        assert_eq!(err.code(), Some(ErrorCode::ReplayedNonce));
        assert!(matches!(err, RelayError::Refused { status: 401, .. }));
    }

    #[test]
    fn unknown_codes_and_non_json_are_malformed() {
        let err = refusal(
            StatusCode::BAD_REQUEST,
            br#"{"code":"brand_new","message":""}"#,
        );
        assert!(matches!(&err, RelayError::Malformed(m) if m.contains("brand_new")));
        assert!(matches!(
            refusal(StatusCode::BAD_GATEWAY, b"<html>"),
            RelayError::Malformed(_)
        ));
    }

    #[test]
    fn pages_out_of_order_are_refused() {
        let blob = |seq| Blob { seq, data: vec![] };
        let page = |blobs| ReadPage {
            blobs,
            last_seq: 5,
            compacted_through: 0,
            more: false,
        };
        assert!(check_page(&page(vec![blob(3), blob(4)]), 2).is_ok());
        assert!(check_page(&page(vec![blob(2)]), 2).is_err());
        assert!(check_page(&page(vec![blob(4), blob(3)]), 0).is_err());
        assert!(check_page(&page(vec![blob(6)]), 0).is_err());
    }
}
