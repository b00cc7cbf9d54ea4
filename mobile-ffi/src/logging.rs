//! Logging: core's `tracing` events, forwarded to a logger the app
//! provides.
//!
//! The app calls [`install_logger`] with its [`Logger`] and the most
//! verbose [`LogLevel`] it wants; records arrive until the returned
//! [`LoggerHandle`] is destroyed (or [`LoggerHandle::stop`] is called).
//! What is logged is content-free by construction (core's rule, crate docs
//! of `safespaces-core`, "Logging"): counts, kinds, relay error codes,
//! durations, attempt and epoch numbers, never names, text, codes, keys,
//! ids, URLs or error messages. Only events whose target is one of this
//! project's crates (`safespaces…`) are forwarded, so a dependency that
//! logs more (rustls, hyper, automerge) cannot leak anything either.
//!
//! # How records travel
//! A `tracing-subscriber` layer, installed once as the process's global
//! subscriber, renders each enabled event into a [`LogRecord`] and queues
//! it; one thread of its own (`safespaces-log`) calls the app's logger.
//! So the logger never runs inside the library's locks or on a sync's
//! thread: a slow logger slows nothing, and a logger that calls back into
//! the library cannot deadlock it. Events raised on that thread (by the
//! logger's own calls into the library) are dropped, so a logger cannot
//! feed itself. A logger that throws or panics loses that one record.
//! When the queue is full (the logger cannot keep up) records are dropped
//! and the next delivered record is preceded by a count of them.

use std::cell::Cell;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

use crate::error::SafeSpacesError;

/// Targets of events that are forwarded: this project's crates.
const OUR_TARGETS: &str = "safespaces";
/// Records waiting for the logger before new ones are dropped.
const QUEUE: usize = 1024;

/// How severe a record is, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed and was not retried.
    Error,
    /// A failure or refusal: a request that failed or will be retried, an
    /// envelope refused, a subscription lost.
    Warn,
    /// A state change: a sync finished, the sync status changed, live
    /// updates started or stopped, a handover adopted, a link completed.
    Info,
    /// Per-pass and per-request detail.
    Debug,
    /// Finer detail than debug (core emits none today).
    Trace,
}

impl From<&Level> for LogLevel {
    fn from(level: &Level) -> Self {
        if *level == Level::ERROR {
            LogLevel::Error
        } else if *level == Level::WARN {
            LogLevel::Warn
        } else if *level == Level::INFO {
            LogLevel::Info
        } else if *level == Level::DEBUG {
            LogLevel::Debug
        } else {
            LogLevel::Trace
        }
    }
}

/// One log record, free of content by construction.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    /// How severe it is.
    pub level: LogLevel,
    /// Where it comes from: a Rust module path such as
    /// `safespaces_core::app::relay_sync`.
    pub target: String,
    /// What happened, e.g. `space sync pass`.
    pub message: String,
    /// The event's fields as `key=value` pairs separated by spaces, e.g.
    /// `epoch=0 pushed=1 pulled=3`; empty if it has none.
    pub fields: String,
}

/// The app's logger: told every record at or above the level it was
/// installed with.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    /// Handle one record. Called from the library's own logging thread, one
    /// record at a time, in order; return promptly. Throwing loses only
    /// this record.
    fn log(&self, record: LogRecord) -> Result<(), SafeSpacesError>;
}

/// Forwarding to an installed logger; destroying (or dropping) it, or
/// calling [`LoggerHandle::stop`], stops it.
#[derive(uniffi::Object)]
pub struct LoggerHandle {
    generation: u64,
}

#[uniffi::export]
impl LoggerHandle {
    /// Stops forwarding to this handle's logger now, for languages where
    /// destroying an object waits for a garbage collector. Once it returns
    /// the logger is not called again (unless called from inside the
    /// logger, whose current call then finishes). Does nothing if a later
    /// `installLogger` already replaced this logger.
    pub fn stop(&self) {
        if let Some(forwarder) = FORWARDER.get().and_then(Option::as_ref) {
            forwarder.stop(self.generation);
        }
    }
}

impl Drop for LoggerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Forwards the library's log records at `max_level` and more severe to
/// `logger` until the returned handle is destroyed. Installing again
/// replaces the logger (and the level); the earlier handle then does
/// nothing. Throws `Internal` if the process already has another global
/// `tracing` subscriber, which only another Rust library in the same app
/// could have installed.
#[uniffi::export]
pub fn install_logger(
    logger: Arc<dyn Logger>,
    max_level: LogLevel,
) -> Result<Arc<LoggerHandle>, SafeSpacesError> {
    let forwarder = FORWARDER
        .get_or_init(Forwarder::start)
        .as_ref()
        .ok_or_else(|| SafeSpacesError::Internal {
            reason: "cannot forward logs: another tracing subscriber is installed, \
                     or the logging thread could not start"
                .into(),
        })?;
    Ok(Arc::new(LoggerHandle {
        generation: forwarder.install(logger, max_level),
    }))
}

/// The one forwarder of the process, `None` if it could not start.
static FORWARDER: OnceLock<Option<Arc<Forwarder>>> = OnceLock::new();

thread_local! {
    /// Set on the logging thread: events there come from the app's logger.
    static ON_LOG_THREAD: Cell<bool> = const { Cell::new(false) };
}

struct Installed {
    generation: u64,
    logger: Arc<dyn Logger>,
}

/// What the layer and the logging thread share.
struct Forwarder {
    /// The logger records go to; `None` when stopped.
    current: RwLock<Option<Installed>>,
    /// The most verbose level forwarded, as `LogLevel as u8 + 1`; 0 when
    /// stopped. Read on every event, so an atomic rather than the lock.
    max_level: AtomicU8,
    /// Held by the logging thread while it calls a logger, so `stop` can
    /// wait for a call in progress.
    delivering: Mutex<()>,
    queue: SyncSender<(u64, LogRecord)>,
    dropped: AtomicU64,
    generations: AtomicU64,
}

impl Forwarder {
    /// Starts the logging thread and installs the layer as the global
    /// subscriber; `None` if either fails.
    fn start() -> Option<Arc<Forwarder>> {
        let (queue, records) = sync_channel(QUEUE);
        let forwarder = Arc::new(Forwarder {
            current: RwLock::new(None),
            max_level: AtomicU8::new(0),
            delivering: Mutex::new(()),
            queue,
            dropped: AtomicU64::new(0),
            generations: AtomicU64::new(0),
        });
        let delivery = Arc::clone(&forwarder);
        std::thread::Builder::new()
            .name("safespaces-log".into())
            .spawn(move || delivery.deliver(records))
            .ok()?;
        let subscriber = tracing_subscriber::registry().with(Forward(Arc::clone(&forwarder)));
        tracing::subscriber::set_global_default(subscriber).ok()?;
        Some(forwarder)
    }

    fn install(&self, logger: Arc<dyn Logger>, max_level: LogLevel) -> u64 {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = Some(Installed { generation, logger });
        self.max_level.store(max_level as u8 + 1, Ordering::Relaxed);
        generation
    }

    fn stop(&self, generation: u64) {
        {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            if current.as_ref().is_none_or(|i| i.generation != generation) {
                return;
            }
            *current = None;
            self.max_level.store(0, Ordering::Relaxed);
        }
        // Wait out a call in progress, unless this is that call: the logger
        // stopping itself would wait for itself.
        if !ON_LOG_THREAD.get() {
            drop(
                self.delivering
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let max = self.max_level.load(Ordering::Relaxed);
        max > 0 && (LogLevel::from(metadata.level()) as u8) < max && !ON_LOG_THREAD.get()
    }

    /// The logging thread: calls the logger installed when each record was
    /// made, if it is still the installed one.
    fn deliver(&self, records: Receiver<(u64, LogRecord)>) {
        ON_LOG_THREAD.set(true);
        for (generation, record) in records {
            let _calling = self
                .delivering
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let logger = match &*self.current.read().unwrap_or_else(PoisonError::into_inner) {
                Some(i) if i.generation == generation => Arc::clone(&i.logger),
                _ => continue,
            };
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                call(
                    &*logger,
                    LogRecord {
                        level: LogLevel::Warn,
                        target: module_path!().into(),
                        message: "log records dropped: the logger did not keep up".into(),
                        fields: format!("dropped={dropped}"),
                    },
                );
            }
            call(&*logger, record);
        }
    }
}

/// Calls the app's logger; what it throws or panics with is dropped, since
/// there is no one else to report a logging failure to.
fn call(logger: &dyn Logger, record: LogRecord) {
    let _ = catch_unwind(AssertUnwindSafe(|| logger.log(record)));
}

/// The layer: filters by target and level, renders and queues.
struct Forward(Arc<Forwarder>);

impl<S: Subscriber> Layer<S> for Forward {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Cached per callsite: dependencies' events are never even built.
        // Ours are checked per event, because the level can change.
        if metadata.target().starts_with(OUR_TARGETS) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target().starts_with(OUR_TARGETS) && self.0.enabled(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let generation = match &*self
            .0
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(i) => i.generation,
            None => return,
        };
        let metadata = event.metadata();
        let mut render = Render::default();
        event.record(&mut render);
        let record = LogRecord {
            level: metadata.level().into(),
            target: metadata.target().into(),
            message: render.message,
            fields: render.fields,
        };
        if let Err(TrySendError::Full(_)) = self.0.queue.try_send((generation, record)) {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Renders an event's message and its other fields as `key=value`.
#[derive(Default)]
struct Render {
    message: String,
    fields: String,
}

impl Render {
    fn field(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
            return;
        }
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{}={value}", field.name());
    }
}

impl Visit for Render {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field, format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_from_most_severe() {
        assert!(LogLevel::Error < LogLevel::Warn);
        assert!(LogLevel::Debug < LogLevel::Trace);
        assert_eq!(LogLevel::from(&Level::INFO), LogLevel::Info);
        assert_eq!(LogLevel::from(&Level::TRACE), LogLevel::Trace);
    }

    #[test]
    fn an_event_renders_its_message_and_fields_as_key_value() {
        // A local default subscriber: this test must not claim the global one.
        let rendered = Arc::new(Mutex::new(Vec::new()));
        struct Capture(Arc<Mutex<Vec<(String, String)>>>);
        impl<S: Subscriber> Layer<S> for Capture {
            fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
                let mut render = Render::default();
                event.record(&mut render);
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((render.message, render.fields));
            }
        }
        let subscriber = tracing_subscriber::registry().with(Capture(Arc::clone(&rendered)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                epoch = 2u32,
                kind = "offline",
                code = None::<&str>,
                "space sync pass"
            );
        });
        let rendered = rendered.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(
            *rendered,
            [(
                "space sync pass".to_owned(),
                "epoch=2 kind=offline".to_owned()
            )]
        );
    }
}
