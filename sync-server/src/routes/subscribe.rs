//! The WebSocket subscription endpoint (`GET /v1/subscribe`); the protocol is
//! described in [`safespaces_wire::subscription`].
//!
//! # No gaps, no duplicates
//! For each subscription the session keeps `last`, the highest sequence
//! number sent. Subscribing first registers with the [`Hub`](crate::hub::Hub),
//! *then* reads the backlog from the store: any blob committed before the
//! read is in the backlog, any blob committed after the registration arrives
//! live, and anything arriving twice has `seq <= last` and is skipped. A live
//! blob with `seq > last + 1` (its queue overflowed, or commits raced) makes
//! the session read the missing range from the store instead. Compaction may
//! remove sequence numbers; the client sees the ones that still exist.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Extension, State};
use axum::response::Response;
use safespaces_wire::auth::subscribe_body;
use safespaces_wire::subscription::{ClientFrame, ServerFrame};
use safespaces_wire::{ErrorCode, MailboxId, Operation, RequestProof};

use crate::api_error::ApiError;
use crate::app::{AppState, ConnState};
use crate::auth;
use crate::hub::{Event, Inbox, blob_frame};
use crate::metrics::Metrics;
use crate::store::StoreError;

/// Initial read buffer of a WebSocket. Client frames are small JSON; axum's
/// 128 KiB default would dominate the memory of an idle connection.
pub const READ_BUFFER: usize = 2048;
/// Bytes per backlog page sent to a subscriber.
const BACKLOG_PAGE_BYTES: usize = 1024 * 1024;

/// `GET /v1/subscribe`: upgrade to a WebSocket.
pub async fn upgrade(
    State(app): State<AppState>,
    conn: Option<Extension<Arc<ConnState>>>,
    headers: axum::http::HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Every subscribe frame is signed for the host the socket was opened to.
    let host = auth::request_host(&headers);
    let ws = ws.map_err(|_| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            "this endpoint takes a WebSocket upgrade",
        )
    })?;
    let conn = conn.map_or_else(|| Arc::new(ConnState::new(&app.config)), |Extension(c)| c);
    // Frames up to `max_ws_frame_bytes` are processed; larger ones up to the
    // hard limit are refused with a JSON error; beyond it the connection closes.
    let hard_limit = app
        .config
        .max_ws_frame_bytes
        .saturating_mul(16)
        .max(16 * 1024);
    Ok(ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .on_upgrade(move |socket| async move {
            let inbox = app.hub.connect(app.config.max_queued_bytes_per_conn);
            Session {
                app,
                conn,
                host,
                socket,
                inbox,
                subs: HashMap::new(),
            }
            .run()
            .await;
        }))
}

struct Session {
    app: AppState,
    conn: Arc<ConnState>,
    /// The host the upgrade request named (see [`auth::request_host`]).
    host: String,
    socket: WebSocket,
    inbox: Inbox,
    /// Subscribed mailboxes and the last sequence number sent for each.
    subs: HashMap<MailboxId, u64>,
}

/// The socket failed or closed; the session ends.
struct Gone;

impl Session {
    async fn run(mut self) {
        Metrics::gauge(&self.app.metrics.websockets_open, 1);
        let idle = self.app.config.idle_timeout();
        let mut shutdown = self.app.shutdown.clone();
        let deadline = tokio::time::sleep(idle);
        tokio::pin!(deadline);
        loop {
            if *shutdown.borrow() {
                self.close(close_code::AWAY, "shutting_down").await;
                break;
            }
            let step = tokio::select! {
                changed = shutdown.changed() => {
                    // A dropped sender means the relay is gone: close too.
                    if changed.is_err() {
                        self.close(close_code::AWAY, "shutting_down").await;
                        break;
                    }
                    continue;
                }
                msg = self.socket.recv() => match msg {
                    Some(Ok(m)) => {
                        deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                        self.on_message(m).await
                    }
                    _ => Err(Gone),
                },
                Some(ev) = self.inbox.recv() => self.on_event(ev).await,
                () = &mut deadline => {
                    self.close(close_code::POLICY, "idle_timeout").await;
                    break;
                }
            };
            if step.is_err() {
                break;
            }
            if self.inbox.overflowed.swap(false, Ordering::AcqRel)
                && self.catch_up_all().await.is_err()
            {
                break;
            }
        }
        for mailbox in self.subs.keys() {
            self.app.hub.unsubscribe(mailbox, self.inbox.conn);
        }
        Metrics::gauge(
            &self.app.metrics.subscriptions_active,
            -(self.subs.len() as i64),
        );
        Metrics::gauge(&self.app.metrics.websockets_open, -1);
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let _ = self
            .socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            })))
            .await;
    }

    async fn send_text(&mut self, text: Utf8Bytes) -> Result<(), Gone> {
        Metrics::add(&self.app.metrics.ws_frames_out, 1);
        Metrics::add(&self.app.metrics.ws_bytes_out, text.len() as u64);
        self.socket
            .send(Message::Text(text))
            .await
            .map_err(|_| Gone)
    }

    async fn send(&mut self, frame: &ServerFrame) -> Result<(), Gone> {
        let text = serde_json::to_string(frame).map_err(|_| Gone)?;
        self.send_text(text.into()).await
    }

    async fn refuse(&mut self, mailbox: Option<MailboxId>, e: ApiError) -> Result<(), Gone> {
        self.app.metrics.refusal(e.code);
        self.send(&ServerFrame::Error {
            mailbox,
            code: e.code,
            message: e.message,
        })
        .await
    }

    async fn on_message(&mut self, msg: Message) -> Result<(), Gone> {
        Metrics::add(&self.app.metrics.ws_frames_in, 1);
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(_) => return Err(Gone),
            // Control frames are answered by the WebSocket layer itself.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Binary(_) => {
                return self
                    .refuse(
                        None,
                        ApiError::new(ErrorCode::MalformedRequest, "frames are JSON text"),
                    )
                    .await;
            }
        };
        if !self.conn.limiter.try_take() {
            return self
                .refuse(
                    None,
                    ApiError::new(ErrorCode::RateLimited, "too many frames; slow down"),
                )
                .await;
        }
        if text.len() > self.app.config.max_ws_frame_bytes {
            let msg = format!(
                "frames are at most {} bytes",
                self.app.config.max_ws_frame_bytes
            );
            return self
                .refuse(None, ApiError::new(ErrorCode::PayloadTooLarge, msg))
                .await;
        }
        let frame: ClientFrame = match serde_json::from_str(text.as_str()) {
            Ok(f) => f,
            Err(e) => {
                let msg = format!("not a valid client frame: {e}");
                return self
                    .refuse(None, ApiError::new(ErrorCode::MalformedRequest, msg))
                    .await;
            }
        };
        match frame {
            ClientFrame::Ping => self.send(&ServerFrame::Pong).await,
            ClientFrame::Unsubscribe { mailbox } => {
                if self.subs.remove(&mailbox).is_some() {
                    self.app.hub.unsubscribe(&mailbox, self.inbox.conn);
                    Metrics::gauge(&self.app.metrics.subscriptions_active, -1);
                }
                self.send(&ServerFrame::Unsubscribed { mailbox }).await
            }
            ClientFrame::Subscribe {
                mailbox,
                after,
                timestamp,
                nonce,
                signature,
            } => {
                match self
                    .subscribe(mailbox, after, timestamp, &nonce, &signature)
                    .await
                {
                    Ok(r) => r,
                    Err(e) => self.refuse(Some(mailbox), e).await,
                }
            }
            _ => Ok(()),
        }
    }

    /// Outer error: refused (nothing changed); inner: the socket failed.
    async fn subscribe(
        &mut self,
        mailbox: MailboxId,
        after: u64,
        timestamp: u64,
        nonce: &str,
        signature: &str,
    ) -> Result<Result<(), Gone>, ApiError> {
        if !self.subs.contains_key(&mailbox)
            && self.subs.len() >= self.app.config.max_subscriptions_per_conn
        {
            return Err(ApiError::new(
                ErrorCode::TooManySubscriptions,
                format!(
                    "at most {} subscriptions per connection",
                    self.app.config.max_subscriptions_per_conn
                ),
            ));
        }
        let ts = timestamp.to_string();
        let proof = RequestProof::from_wire(Some(&ts), Some(nonce), Some(signature))
            .map_err(|e| ApiError::new(ErrorCode::MalformedRequest, e.to_string()))?;
        let body = subscribe_body(after);
        auth::check(
            &self.app,
            &self.host,
            Operation::Subscribe,
            &mailbox,
            &body,
            &proof,
            None,
        )
        .await?;

        // Register before reading: see the module docs.
        self.app.hub.subscribe(mailbox, &self.inbox);
        let page = match self
            .app
            .store
            .read(
                mailbox,
                after,
                self.app.config.max_page_blobs,
                BACKLOG_PAGE_BYTES,
            )
            .await
        {
            Ok(p) => p,
            Err(e) => {
                if !self.subs.contains_key(&mailbox) {
                    self.app.hub.unsubscribe(&mailbox, self.inbox.conn);
                }
                return Err(e.into());
            }
        };
        if self.subs.insert(mailbox, after).is_none() {
            Metrics::gauge(&self.app.metrics.subscriptions_active, 1);
        }
        let r = async {
            self.send(&ServerFrame::Subscribed {
                mailbox,
                last_seq: page.last_seq,
                compacted_through: page.compacted_through,
            })
            .await?;
            let more = page.more;
            self.send_page(mailbox, page.blobs).await?;
            if more {
                self.catch_up(mailbox).await?;
            }
            Ok(())
        }
        .await;
        Ok(r)
    }

    async fn send_page(
        &mut self,
        mailbox: MailboxId,
        blobs: Vec<(u64, bytes::Bytes)>,
    ) -> Result<(), Gone> {
        Metrics::add(&self.app.metrics.blobs_read, blobs.len() as u64);
        for (seq, data) in blobs {
            let last = self.subs.get(&mailbox).copied().unwrap_or(u64::MAX);
            if seq <= last {
                continue;
            }
            self.send_text(blob_frame(mailbox, seq, &data)).await?;
            self.subs.insert(mailbox, seq);
        }
        Ok(())
    }

    /// Sends everything after `last` from the store.
    async fn catch_up(&mut self, mailbox: MailboxId) -> Result<(), Gone> {
        loop {
            let Some(&last) = self.subs.get(&mailbox) else {
                return Ok(());
            };
            let page = match self
                .app
                .store
                .read(
                    mailbox,
                    last,
                    self.app.config.max_page_blobs,
                    BACKLOG_PAGE_BYTES,
                )
                .await
            {
                Ok(p) => p,
                Err(StoreError::MailboxNotFound) => return self.ended(mailbox).await,
                Err(e) => {
                    let e = ApiError::from(e);
                    return self.refuse(Some(mailbox), e).await;
                }
            };
            let more = page.more;
            self.send_page(mailbox, page.blobs).await?;
            if !more {
                return Ok(());
            }
        }
    }

    async fn catch_up_all(&mut self) -> Result<(), Gone> {
        let mailboxes: Vec<MailboxId> = self.subs.keys().copied().collect();
        for m in mailboxes {
            self.catch_up(m).await?;
        }
        Ok(())
    }

    async fn ended(&mut self, mailbox: MailboxId) -> Result<(), Gone> {
        if self.subs.remove(&mailbox).is_some() {
            self.app.hub.unsubscribe(&mailbox, self.inbox.conn);
            Metrics::gauge(&self.app.metrics.subscriptions_active, -1);
            self.send(&ServerFrame::Unsubscribed { mailbox }).await?;
        }
        Ok(())
    }

    async fn on_event(&mut self, ev: Event) -> Result<(), Gone> {
        match ev {
            Event::Blob {
                mailbox,
                seq,
                frame,
                committed_at,
            } => {
                let Some(&last) = self.subs.get(&mailbox) else {
                    return Ok(());
                };
                if seq <= last {
                    Ok(())
                } else if seq == last + 1 {
                    self.send_text(frame).await?;
                    self.app
                        .metrics
                        .fanout_delay
                        .observe(committed_at.elapsed());
                    self.subs.insert(mailbox, seq);
                    Ok(())
                } else {
                    self.catch_up(mailbox).await
                }
            }
            Event::Deleted(mailbox) => self.ended(mailbox).await,
        }
    }
}
