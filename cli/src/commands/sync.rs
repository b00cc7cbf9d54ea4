//! `sync`: every space and the journal with a relay, and what came of it.

use safespaces_core::app::{Progress, SafeSpaces, SyncReport};
use serde::Serialize;

use super::output::Render;
use super::relay::{block_on, client};
use crate::args::RelayArgs;
use crate::failure::Failure;
use crate::times::now;

/// `sync`: what went each way, and what failed while the rest synced.
#[derive(Serialize)]
pub struct Synced {
    pushed: usize,
    pulled: usize,
    applied: usize,
    refused: usize,
    /// Sign-ups recorded as a lead of their sessions.
    requests_recorded: usize,
    snapshots: usize,
    /// Spaces this device was removed from.
    left_out: Vec<String>,
    admitted: usize,
    /// Spaces joined in this sync.
    joined: Vec<String>,
    failed: Vec<FailedSpace>,
    /// Why the journal did not sync, or null.
    journal_failed: Option<String>,
    sequence_alerts: Vec<Alert>,
}

/// A space whose sync failed while the others went on.
#[derive(Serialize)]
struct FailedSpace {
    space: String,
    reason: String,
}

/// A space whose envelope numbers showed something wrong in this sync.
#[derive(Serialize)]
struct Alert {
    space: String,
    /// Envelopes newly found missing.
    missing: u64,
    /// Numbers newly found used twice.
    reused: u64,
}

impl From<SyncReport> for Synced {
    fn from(report: SyncReport) -> Self {
        Synced {
            pushed: report.pushed,
            pulled: report.pulled,
            applied: report.applied,
            refused: report.refused,
            requests_recorded: report.requests_recorded,
            snapshots: report.snapshots,
            left_out: report.left_out,
            admitted: report.admitted,
            joined: report.joined,
            failed: report
                .failed
                .into_iter()
                .map(|f| FailedSpace {
                    space: f.space,
                    reason: f.reason,
                })
                .collect(),
            journal_failed: report.journal_failed,
            sequence_alerts: report
                .sequence_alerts
                .into_iter()
                .map(|a| Alert {
                    space: a.space,
                    missing: a.missing,
                    reused: a.reused,
                })
                .collect(),
        }
    }
}

impl Render for Synced {
    fn human(&self) -> String {
        format!(
            "Synced: {} sent, {} received ({} changes applied, {} refused), {} sign-ups recorded{}{}{}{}.{}",
            self.pushed,
            self.pulled,
            self.applied,
            self.refused,
            self.requests_recorded,
            if self.admitted == 0 {
                String::new()
            } else {
                format!("; admitted {} joiner(s)", self.admitted)
            },
            if self.joined.is_empty() {
                String::new()
            } else {
                format!("; joined {} space(s)", self.joined.len())
            },
            if self.left_out.is_empty() {
                String::new()
            } else {
                format!("; you were removed from {} space(s)", self.left_out.len())
            },
            self.failures(),
            sequence_warnings(&self.sequence_alerts)
        )
    }
}

impl Synced {
    /// What failed while the rest synced, for the one-line summary.
    fn failures(&self) -> String {
        let mut out = String::new();
        if !self.failed.is_empty() {
            out.push_str(&format!(
                "; {} space(s) did not sync (tried again next time)",
                self.failed.len()
            ));
        }
        if self.journal_failed.is_some() {
            out.push_str("; the journal did not sync");
        }
        out
    }
}

/// One warning line per space whose envelope numbers showed something
/// wrong in this sync (reported once; `space list` keeps showing it).
fn sequence_warnings(alerts: &[Alert]) -> String {
    let mut out = String::new();
    for alert in alerts {
        if alert.missing > 0 {
            out.push_str(&format!(
                "\nWarning: space {}: {} envelope(s) its members sent did not arrive, though later ones did; the relay may be withholding them.",
                alert.space, alert.missing
            ));
        }
        if alert.reused > 0 {
            out.push_str(&format!(
                "\nWarning: space {}: a member's device signed {} pair(s) of different envelopes under one number (a modified app, or a device restored from an old backup).",
                alert.space, alert.reused
            ));
        }
    }
    out
}

/// Draws a one-line progress bar on standard error (only on a terminal).
fn progress_bar(p: Progress) {
    const WIDTH: u64 = 30;
    let total = p.total.max(p.received).max(1);
    let filled = (p.received * WIDTH / total) as usize;
    eprint!(
        "\r[{}{}] {}/{} received, {} sent ",
        "#".repeat(filled),
        ".".repeat(WIDTH as usize - filled),
        p.received,
        p.total.max(p.received),
        p.sent
    );
    if p.received >= total {
        eprintln!();
    }
}

/// Syncs every space and the journal with the relay, drawing a progress
/// bar when `progress` (people at a terminal) asks for one.
pub fn sync(app: SafeSpaces, progress: bool, relay: &RelayArgs) -> Result<Synced, Failure> {
    let app = if progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        app.with_progress(Box::new(progress_bar))
    } else {
        app
    };
    let client = client(&relay.relay, &relay.trust)?;
    let report = block_on(app.sync(&client, now()))?;
    Ok(Synced::from(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use safespaces_core::app::SequenceAlert;

    #[test]
    fn a_sync_that_noticed_missing_or_reused_envelopes_warns_once_per_kind() {
        assert_eq!(
            sequence_warnings(&Synced::from(SyncReport::default()).sequence_alerts),
            ""
        );
        let report = SyncReport {
            sequence_alerts: vec![
                SequenceAlert {
                    space: "aa".into(),
                    missing: 2,
                    reused: 0,
                },
                SequenceAlert {
                    space: "bb".into(),
                    missing: 1,
                    reused: 1,
                },
            ],
            ..SyncReport::default()
        };
        let human = Synced::from(report).human();
        let lines: Vec<&str> = human.lines().skip(1).filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 3, "{human}");
        assert!(
            lines[0].starts_with("Warning: space aa: 2 envelope(s)"),
            "{human}"
        );
        assert!(
            lines[1].starts_with("Warning: space bb: 1 envelope(s)"),
            "{human}"
        );
        assert!(lines[2].contains("under one number"), "{human}");
    }
}
