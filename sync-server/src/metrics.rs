//! Prometheus metrics, rendered by hand in the text exposition format.
//!
//! Only counts and sizes: labels are route templates (`/v1/mailboxes/{id}`,
//! never an id), status codes and error codes. No mailbox id, drop-box id or
//! client address is ever a label.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use safespaces_wire::ErrorCode;

/// Bucket upper bounds of [`Histogram`], in seconds.
pub const DELAY_BUCKETS: [f64; 17] = [
    0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.03, 0.05, 0.1,
    0.25, 0.5, 1.0,
];

/// A Prometheus histogram of durations with fixed buckets ([`DELAY_BUCKETS`]).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; DELAY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = DELAY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in DELAY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// Request body bytes received over HTTP.
    pub request_bytes: AtomicU64,
    /// Response body bytes sent over HTTP.
    pub response_bytes: AtomicU64,
    /// Blobs appended.
    pub blobs_appended: AtomicU64,
    /// Bytes of blobs appended.
    pub blob_bytes_appended: AtomicU64,
    /// Blobs returned by reads and subscription backlogs.
    pub blobs_read: AtomicU64,
    /// Blobs deleted by compaction.
    pub blobs_compacted: AtomicU64,
    /// Drop-boxes stored.
    pub dropboxes_put: AtomicU64,
    /// Drop-boxes claimed.
    pub dropboxes_claimed: AtomicU64,
    /// Drop-box status queries that found the drop-box still waiting (like
    /// `dropboxes_claimed`, only successes; misses count as refusals). Lets
    /// an operator see how often inviters poll without logging any id.
    pub dropboxes_checked: AtomicU64,
    /// Drop-boxes expired and swept.
    pub dropboxes_expired: AtomicU64,
    /// TLS connections accepted.
    pub connections_accepted: AtomicU64,
    /// TLS connections currently open.
    pub connections_open: AtomicI64,
    /// Connections closed at once because the relay held its maximum.
    pub connections_refused: AtomicU64,
    /// Connections cut off because the peer sent or read too slowly
    /// ([`crate::pacing`]), and TLS handshakes that did not finish in time.
    pub slow_peers_cut: AtomicU64,
    /// Signed requests refused because the replay memory was at its limit.
    pub nonces_refused: AtomicU64,
    /// WebSocket connections currently open.
    pub websockets_open: AtomicI64,
    /// Subscriptions currently active.
    pub subscriptions_active: AtomicI64,
    /// WebSocket frames received.
    pub ws_frames_in: AtomicU64,
    /// WebSocket frames sent.
    pub ws_frames_out: AtomicU64,
    /// Bytes of WebSocket frames sent.
    pub ws_bytes_out: AtomicU64,
    /// Delay from a blob's commit to its live frame being written to a
    /// subscriber's socket (live path only; catch-up reads are not timed).
    pub fanout_delay: Histogram,
}

impl Metrics {
    /// Counts one HTTP request by route template and status.
    pub fn request(&self, route: &str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *m.entry((route.to_owned(), status)).or_default() += 1;
    }

    /// Counts one refusal by error code.
    pub fn refusal(&self, code: ErrorCode) {
        let mut m = self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        *m.entry(code.as_str()).or_default() += 1;
    }

    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Moves a gauge.
    pub fn gauge(gauge: &AtomicI64, delta: i64) {
        gauge.fetch_add(delta, Ordering::Relaxed);
    }

    /// The text exposition. `extra` adds gauges owned elsewhere.
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP relay_http_requests_total HTTP requests by route template and status.\n# TYPE relay_http_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "relay_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP relay_refusals_total Refused requests and frames by error code.\n# TYPE relay_refusals_total counter\n");
        for (code, n) in self
            .refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(out, "relay_refusals_total{{code=\"{code}\"}} {n}");
        }
        let counters: [(&str, &str, &AtomicU64); 17] = [
            (
                "relay_http_request_bytes_total",
                "HTTP request body bytes received.",
                &self.request_bytes,
            ),
            (
                "relay_http_response_bytes_total",
                "HTTP response body bytes sent.",
                &self.response_bytes,
            ),
            (
                "relay_blobs_appended_total",
                "Blobs appended.",
                &self.blobs_appended,
            ),
            (
                "relay_blob_bytes_appended_total",
                "Bytes of blobs appended.",
                &self.blob_bytes_appended,
            ),
            (
                "relay_blobs_read_total",
                "Blobs returned by reads and subscription backlogs.",
                &self.blobs_read,
            ),
            (
                "relay_blobs_compacted_total",
                "Blobs deleted by compaction.",
                &self.blobs_compacted,
            ),
            (
                "relay_dropboxes_put_total",
                "Drop-boxes stored.",
                &self.dropboxes_put,
            ),
            (
                "relay_dropboxes_claimed_total",
                "Drop-boxes claimed.",
                &self.dropboxes_claimed,
            ),
            (
                "relay_dropboxes_checked_total",
                "Drop-box status queries that found it still waiting.",
                &self.dropboxes_checked,
            ),
            (
                "relay_dropboxes_expired_total",
                "Drop-boxes expired and swept.",
                &self.dropboxes_expired,
            ),
            (
                "relay_connections_accepted_total",
                "TLS connections accepted.",
                &self.connections_accepted,
            ),
            (
                "relay_connections_refused_total",
                "Connections closed at once: the relay held its maximum.",
                &self.connections_refused,
            ),
            (
                "relay_slow_peers_cut_total",
                "Connections cut off: too slow to send a body, to read, or to finish the TLS handshake.",
                &self.slow_peers_cut,
            ),
            (
                "relay_nonces_refused_total",
                "Signed requests refused because the replay memory was at its limit.",
                &self.nonces_refused,
            ),
            (
                "relay_ws_frames_in_total",
                "WebSocket frames received.",
                &self.ws_frames_in,
            ),
            (
                "relay_ws_frames_out_total",
                "WebSocket frames sent.",
                &self.ws_frames_out,
            ),
            (
                "relay_ws_bytes_out_total",
                "WebSocket frame bytes sent.",
                &self.ws_bytes_out,
            ),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let gauges: [(&str, &str, &AtomicI64); 4] = [
            (
                "relay_connections_open",
                "TLS connections open.",
                &self.connections_open,
            ),
            (
                "relay_websockets_open",
                "WebSocket connections open.",
                &self.websockets_open,
            ),
            (
                "relay_subscriptions_active",
                "Active mailbox subscriptions.",
                &self.subscriptions_active,
            ),
            ("relay_up", "Always 1 while serving.", &AtomicI64::new(1)),
        ];
        for (name, help, g) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                g.load(Ordering::Relaxed)
            );
        }
        self.fanout_delay.render(
            &mut out,
            "relay_fanout_delay_seconds",
            "Commit to live frame written to a subscriber's socket.",
        );
        for (name, help, v) in extra {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}
