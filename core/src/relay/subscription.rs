//! The live subscription: one WebSocket for many mailboxes, each proven by
//! its own signature, that survives disconnects without losing or repeating
//! a blob.
//!
//! A background task owns the socket. Per mailbox it remembers the last
//! sequence number it handed to the application (the *cursor*); after a
//! disconnect it reconnects with backoff and subscribes again "after" each
//! cursor. The relay sends every stored blob above a cursor exactly once and
//! in order, so resuming from the cursor loses and repeats nothing; the task
//! also drops anything at or below a cursor, so even a misbehaving relay
//! cannot make it deliver a blob twice.
//!
//! A blob counts as delivered when it is in the handle's queue, so blobs
//! already queued are not fetched again after a reconnect. Dropping the
//! [`Subscription`] stops the task and closes the socket.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use safespaces_wire::auth::{sign_now, subscribe_body};
use safespaces_wire::subscription::{ClientFrame, ServerFrame};
use safespaces_wire::{ErrorCode, MailboxId};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::connection::Connector;
use super::credential::MailboxCredential;
use super::error::RelayError;
use super::status::{Health, StatusBoard};

/// Events queued for the application; the task waits (and stops reading
/// the socket) while the queue is full, which is the backpressure.
const QUEUE: usize = 256;

/// What the subscription delivers, per mailbox in sequence order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionEvent {
    /// A stored blob; `seq` is above every earlier one of this mailbox.
    Blob {
        /// The mailbox it belongs to.
        mailbox: MailboxId,
        /// Its sequence number: the new cursor for this mailbox.
        seq: u64,
        /// The opaque bytes (a sealed envelope).
        data: Vec<u8>,
    },
    /// Blobs after the cursor, up to `compacted_through`, were compacted
    /// away before they could be delivered: the caller must start from the
    /// snapshot blob that follows instead of expecting those changes.
    Compacted {
        /// The mailbox.
        mailbox: MailboxId,
        /// Every blob up to here is gone.
        compacted_through: u64,
    },
    /// The relay refused to subscribe to this mailbox (for example
    /// `bad_signature`, which is also the answer for a mailbox the relay
    /// does not hold); it is not retried.
    Refused {
        /// The mailbox.
        mailbox: MailboxId,
        /// The refusal, with its code.
        error: RelayError,
    },
    /// The mailbox was deleted on the relay; its subscription ended.
    Ended {
        /// The mailbox.
        mailbox: MailboxId,
    },
}

enum Command {
    Add(Box<MailboxCredential>, u64),
    Remove(MailboxId),
}

/// The handle of a live subscription. Receive with [`Subscription::next`]
/// or as a `futures` `Stream`; drop it to stop.
#[derive(Debug)]
pub struct Subscription {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::Receiver<SubscriptionEvent>,
    task: JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Subscription {
    pub(crate) fn start(connector: Connector, status: StatusBoard, seed: u64) -> Self {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::channel(QUEUE);
        let task = tokio::spawn(
            Worker {
                connector,
                status,
                rng: StdRng::seed_from_u64(seed),
                mailboxes: HashMap::new(),
                problem: None,
                unsubscribing: HashMap::new(),
                commands: command_rx,
                events: event_tx,
            }
            .run(),
        );
        Self {
            commands,
            events,
            task,
        }
    }

    /// Follows `mailbox` from just after `after` (its last sequence number
    /// the caller already has; 0 for everything). Adding a mailbox that is
    /// already followed restarts it from the new cursor.
    pub fn add(&self, mailbox: MailboxCredential, after: u64) {
        // Fails only if the task is gone, which `next` then reports as the end.
        let _ = self.commands.send(Command::Add(Box::new(mailbox), after));
    }

    /// Stops following `mailbox`. Events already queued still arrive.
    pub fn remove(&self, mailbox: MailboxId) {
        let _ = self.commands.send(Command::Remove(mailbox));
    }

    /// The next event; `None` only if the background task has stopped.
    pub async fn next(&mut self) -> Option<SubscriptionEvent> {
        self.events.recv().await
    }
}

impl futures_util::Stream for Subscription {
    type Item = SubscriptionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

struct Followed {
    credential: MailboxCredential,
    /// The last sequence number delivered.
    cursor: u64,
    /// The relay's `last_seq` when the current subscription started; `None`
    /// until it confirmed it.
    target: Option<u64>,
}

type Socket = WebSocketStream<TlsStream<TcpStream>>;

/// Why a connection ended.
enum Ended {
    /// The handle was dropped.
    Stopped,
    /// The connection broke or the relay closed it; reconnect.
    Broken(RelayError),
}

struct Worker {
    connector: Connector,
    status: StatusBoard,
    rng: StdRng,
    mailboxes: HashMap<MailboxId, Followed>,
    /// A refusal that needs a person (a bad signature, a clock so wrong
    /// the relay rejects it), shown as the status until mailboxes change.
    problem: Option<String>,
    /// `unsubscribe` frames sent on this connection and not yet answered:
    /// their `unsubscribed` answers are not deletions, even if the mailbox
    /// was added again meanwhile.
    unsubscribing: HashMap<MailboxId, u32>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<SubscriptionEvent>,
}

impl Drop for Worker {
    /// Also runs when the handle aborts the task, so the status never keeps
    /// reporting a subscription that is gone.
    fn drop(&mut self) {
        self.status.subscription_stopped();
        tracing::info!("subscription stopped");
    }
}

impl Worker {
    async fn run(mut self) {
        let policy = self.connector.config().retry;
        let mut failures: u32 = 0;
        loop {
            self.status.subscription_connecting();
            let ended = match self.connect().await {
                Ok(socket) => {
                    tracing::info!(after_failures = failures, "subscription connected");
                    let started = Instant::now();
                    let ended = self.serve(socket).await;
                    // A connection that lasted a while was healthy: the next
                    // failure starts the backoff from the beginning.
                    if started.elapsed() > policy.max_delay {
                        failures = 0;
                    }
                    ended
                }
                Err(e) => Ended::Broken(e),
            };
            let Ended::Broken(error) = ended else { break };
            self.status.subscription(Health::after(Err(&error)), true);
            for followed in self.mailboxes.values_mut() {
                followed.target = None;
            }
            let delay = policy.delay(failures, &mut self.rng);
            failures = failures.saturating_add(1);
            tracing::warn!(
                kind = error.kind(),
                code = error.code().map(ErrorCode::as_str),
                attempt = failures,
                delay_ms = delay.as_millis(),
                "subscription connection failed or lost; reconnecting"
            );
            if self.wait(delay).await.is_err() {
                break;
            }
        }
    }

    /// Sleeps before reconnecting, still taking commands; `Err` if stopped.
    async fn wait(&mut self, delay: Duration) -> Result<(), ()> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Ok(()),
                () = self.events.closed() => return Err(()),
                command = self.commands.recv() => match command {
                    None => return Err(()),
                    Some(Command::Add(credential, after)) => self.follow(*credential, after),
                    Some(Command::Remove(id)) => { self.unfollow(id); }
                },
            }
        }
    }

    fn follow(&mut self, credential: MailboxCredential, after: u64) {
        self.problem = None;
        self.mailboxes.insert(
            credential.id(),
            Followed {
                credential,
                cursor: after,
                target: None,
            },
        );
    }

    /// Forgets a mailbox; `true` if it was followed.
    fn unfollow(&mut self, id: MailboxId) -> bool {
        self.problem = None;
        self.mailboxes.remove(&id).is_some()
    }

    async fn connect(&self) -> Result<Socket, RelayError> {
        let config = self.connector.config();
        let tls = self.connector.connect().await?;
        // Small buffers: a phone keeps this socket open all day.
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0);
        let url = format!("wss://{}/v1/subscribe", config.authority());
        let handshake = tokio_tungstenite::client_async_with_config(url, tls, Some(ws_config));
        let (socket, _) = tokio::time::timeout(config.connect_timeout, handshake)
            .await
            .map_err(|_| RelayError::offline("the WebSocket upgrade timed out", false))?
            .map_err(|e| RelayError::offline(format!("WebSocket upgrade failed: {e}"), false))?;
        Ok(socket)
    }

    /// Runs one connection until it breaks or the handle is dropped.
    async fn serve(&mut self, mut socket: Socket) -> Ended {
        self.unsubscribing.clear();
        let ids: Vec<MailboxId> = self.mailboxes.keys().copied().collect();
        for id in ids {
            if let Err(e) = self.send_subscribe(&mut socket, id).await {
                return Ended::Broken(e);
            }
        }
        self.report();
        let ping_every = self.connector.config().ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                () = self.events.closed() => return Ended::Stopped,
                command = self.commands.recv() => match command {
                    None => return Ended::Stopped,
                    Some(Command::Add(credential, after)) => {
                        let id = credential.id();
                        self.follow(*credential, after);
                        if let Err(e) = self.send_subscribe(&mut socket, id).await {
                            return Ended::Broken(e);
                        }
                        self.report();
                    }
                    Some(Command::Remove(id)) => {
                        if self.unfollow(id) {
                            *self.unsubscribing.entry(id).or_default() += 1;
                            let frame = ClientFrame::Unsubscribe { mailbox: id };
                            if let Err(e) = send(&mut socket, &frame).await {
                                return Ended::Broken(e);
                            }
                        }
                        self.report();
                    }
                },
                _ = ping.tick() => {
                    // Two silent intervals: the path is dead even if TCP has
                    // not noticed (a phone that changed networks).
                    if last_heard.elapsed() >= ping_every * 2 {
                        return Ended::Broken(RelayError::offline("the relay stopped answering", false));
                    }
                    if let Err(e) = send(&mut socket, &ClientFrame::Ping).await {
                        return Ended::Broken(e);
                    }
                }
                message = socket.next() => {
                    last_heard = Instant::now();
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame.map_or_else(|| "no reason".to_owned(), |f| f.reason.to_string());
                            return Ended::Broken(RelayError::offline(format!("the relay closed the connection: {why}"), false));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Ended::Broken(RelayError::offline(format!("connection lost: {e}"), false)),
                        None => return Ended::Broken(RelayError::offline("connection closed", false)),
                    };
                    let frame = match serde_json::from_str::<ServerFrame>(text.as_str()) {
                        Ok(frame) => frame,
                        Err(e) => return Ended::Broken(RelayError::Malformed(format!("unexpected WebSocket frame: {e}"))),
                    };
                    match self.handle(frame).await {
                        Ok(()) => self.report(),
                        Err(ended) => return ended,
                    }
                    // Time spent waiting for a full queue to drain is the
                    // application's, not a silent relay's.
                    last_heard = Instant::now();
                }
            }
        }
    }

    async fn handle(&mut self, frame: ServerFrame) -> Result<(), Ended> {
        match frame {
            ServerFrame::Subscribed {
                mailbox,
                last_seq,
                compacted_through,
            } => {
                let Some(followed) = self.mailboxes.get_mut(&mailbox) else {
                    return Ok(());
                };
                followed.target = Some(last_seq);
                if compacted_through > followed.cursor {
                    tracing::debug!(
                        skipped = compacted_through - followed.cursor,
                        "subscription resumes past compacted blobs"
                    );
                    followed.cursor = compacted_through;
                    self.emit(SubscriptionEvent::Compacted {
                        mailbox,
                        compacted_through,
                    })
                    .await?;
                }
            }
            ServerFrame::Blob { mailbox, seq, data } => {
                let Some(followed) = self.mailboxes.get_mut(&mailbox) else {
                    return Ok(());
                };
                // Until the relay confirms the current subscription, blobs
                // belong to one it replaced (re-added with another cursor);
                // taking them could move the cursor past blobs still to come.
                if followed.target.is_none() || seq <= followed.cursor {
                    return Ok(());
                }
                followed.cursor = seq;
                self.emit(SubscriptionEvent::Blob { mailbox, seq, data })
                    .await?;
            }
            ServerFrame::Unsubscribed { mailbox } => {
                if let Some(pending) = self.unsubscribing.get_mut(&mailbox) {
                    *pending -= 1;
                    if *pending == 0 {
                        self.unsubscribing.remove(&mailbox);
                    }
                    return Ok(());
                }
                // Not an answer to our own unsubscribe: the mailbox was
                // deleted on the relay.
                let was_followed = self.mailboxes.remove(&mailbox).is_some();
                if was_followed {
                    tracing::info!("a followed mailbox was deleted on the relay");
                    self.emit(SubscriptionEvent::Ended { mailbox }).await?;
                }
            }
            ServerFrame::Pong => {}
            ServerFrame::Error {
                mailbox,
                code,
                message,
            } => {
                let error = RelayError::Refused {
                    code,
                    status: 0,
                    message,
                };
                match mailbox {
                    // Busy relay: back off and resubscribe everything.
                    _ if error.is_transient() => return Err(Ended::Broken(error)),
                    Some(mailbox) => {
                        if let Health::Error(reason) = Health::after(Err(&error)) {
                            self.problem = Some(reason);
                        }
                        if self.mailboxes.remove(&mailbox).is_some() {
                            tracing::warn!(
                                code = error.code().map(ErrorCode::as_str),
                                "the relay refused to subscribe a mailbox"
                            );
                            self.emit(SubscriptionEvent::Refused { mailbox, error })
                                .await?;
                        }
                    }
                    None => return Err(Ended::Broken(error)),
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn emit(&self, event: SubscriptionEvent) -> Result<(), Ended> {
        self.events.send(event).await.map_err(|_| Ended::Stopped)
    }

    async fn send_subscribe(&self, socket: &mut Socket, id: MailboxId) -> Result<(), RelayError> {
        let Some(followed) = self.mailboxes.get(&id) else {
            return Ok(());
        };
        let after = followed.cursor;
        let proof = sign_now(
            followed.credential.signing_key(),
            &self.connector.config().host,
            safespaces_wire::Operation::Subscribe,
            &id,
            &subscribe_body(after),
        );
        let frame = ClientFrame::Subscribe {
            mailbox: id,
            after,
            timestamp: proof.timestamp,
            nonce: proof.nonce_hex(),
            signature: proof.signature_hex(),
        };
        send(socket, &frame).await
    }

    /// Tells the status board whether any mailbox is still catching up.
    fn report(&self) {
        let behind = self
            .mailboxes
            .values()
            .any(|f| f.target.is_none_or(|target| f.cursor < target));
        let health = self
            .problem
            .clone()
            .map_or(Health::Reachable, Health::Error);
        self.status.subscription(health, behind);
    }
}

async fn send(socket: &mut Socket, frame: &ClientFrame) -> Result<(), RelayError> {
    let text = serde_json::to_string(frame)
        .map_err(|e| RelayError::Config(format!("cannot encode a frame: {e}")))?;
    socket
        .send(Message::text(text))
        .await
        .map_err(|e| RelayError::offline(format!("connection lost: {e}"), false))
}
