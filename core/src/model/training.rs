//! Training records and the clearance to lead derived from them.
//!
//! A member is *cleared* to lead only while they hold a current record for
//! every [`TrainingModule`]. Clearance is a function of the records and a
//! point in time, computed on demand, never stored: a stored "cleared" flag
//! would be one replica's decision and would silently outlive an expiry.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::error::{ModelError, ModelResult};
use super::ids::MemberId;
use super::time::Timestamp;

/// The training a lead needs, all of it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Reconcile,
    Hydrate,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TrainingModule {
    /// Signposting: knowing where to refer people and how.
    #[autosurgeon(rename = "signposting")]
    Signposting,
    /// Trauma-informed care and communication.
    #[autosurgeon(rename = "trauma_informed")]
    TraumaInformed,
}

impl TrainingModule {
    /// Every module a lead must hold.
    pub const ALL: [TrainingModule; 2] =
        [TrainingModule::Signposting, TrainingModule::TraumaInformed];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainingModule::Signposting => "signposting",
            TrainingModule::TraumaInformed => "trauma_informed",
        }
    }

    /// Parses the stable name (accepting `-` for `_`).
    pub fn parse(text: &str) -> ModelResult<Self> {
        match text.trim().replace('-', "_").to_ascii_lowercase().as_str() {
            "signposting" => Ok(TrainingModule::Signposting),
            "trauma_informed" | "trauma_informed_care" => Ok(TrainingModule::TraumaInformed),
            _ => Err(ModelError::InvalidInput {
                field: "training module",
                reason: "expected signposting or trauma_informed".into(),
            }),
        }
    }
}

/// One completed training, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct TrainingRecord {
    /// Who was trained.
    pub member: MemberId,
    /// Which module.
    pub module: TrainingModule,
    /// When they completed it.
    pub completed_at: Timestamp,
    /// When it stops counting (exclusive).
    pub expires_at: Timestamp,
    /// The coordinator who recorded it.
    pub recorded_by: MemberId,
}

impl TrainingRecord {
    /// Whether the record counts at `at`: completed, and not yet expired.
    pub fn is_current(&self, at: Timestamp) -> bool {
        self.completed_at <= at && at < self.expires_at
    }
}

/// Whether a member may lead at a given time, and why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clearance {
    /// True only when every module has a current record.
    pub cleared: bool,
    /// Modules with no current record, so an app can say what is missing.
    pub missing: Vec<TrainingModule>,
    /// When clearance lapses if nothing new is recorded: the earliest, over
    /// modules, of the latest expiry among current records. `None` when not
    /// cleared.
    pub valid_until: Option<Timestamp>,
}

/// Derives a member's clearance at `at` from all training records.
pub fn clearance<'a>(
    member: &MemberId,
    records: impl IntoIterator<Item = &'a TrainingRecord> + Clone,
    at: Timestamp,
) -> Clearance {
    let mut missing = Vec::new();
    let mut valid_until: Option<Timestamp> = None;
    for module in TrainingModule::ALL {
        let best = records
            .clone()
            .into_iter()
            .filter(|r| &r.member == member && r.module == module && r.is_current(at))
            .map(|r| r.expires_at)
            .max();
        match best {
            Some(expiry) => {
                valid_until = Some(valid_until.map_or(expiry, |v| v.min(expiry)));
            }
            None => missing.push(module),
        }
    }
    let cleared = missing.is_empty();
    Clearance {
        cleared,
        missing,
        valid_until: if cleared { valid_until } else { None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(member: &MemberId, module: TrainingModule, from: i64, to: i64) -> TrainingRecord {
        TrainingRecord {
            member: member.clone(),
            module,
            completed_at: Timestamp(from),
            expires_at: Timestamp(to),
            recorded_by: member.clone(),
        }
    }

    #[test]
    fn cleared_only_with_both_modules_current() {
        let m = MemberId::random();
        let one = [record(&m, TrainingModule::Signposting, 0, 100)];
        let c = clearance(&m, &one, Timestamp(50));
        assert!(!c.cleared);
        assert_eq!(c.missing, vec![TrainingModule::TraumaInformed]);

        let both = [
            record(&m, TrainingModule::Signposting, 0, 100),
            record(&m, TrainingModule::TraumaInformed, 10, 80),
        ];
        let c = clearance(&m, &both, Timestamp(50));
        assert!(c.cleared);
        assert_eq!(c.valid_until, Some(Timestamp(80)));
    }

    #[test]
    fn expired_training_means_not_cleared() {
        let m = MemberId::random();
        let both = [
            record(&m, TrainingModule::Signposting, 0, 100),
            record(&m, TrainingModule::TraumaInformed, 0, 80),
        ];
        assert!(!clearance(&m, &both, Timestamp(80)).cleared);
        assert!(!clearance(&m, &both, Timestamp(500)).cleared);
    }

    #[test]
    fn training_completed_in_the_future_does_not_count_yet() {
        let m = MemberId::random();
        let both = [
            record(&m, TrainingModule::Signposting, 100, 200),
            record(&m, TrainingModule::TraumaInformed, 100, 200),
        ];
        assert!(!clearance(&m, &both, Timestamp(50)).cleared);
        assert!(clearance(&m, &both, Timestamp(150)).cleared);
    }

    #[test]
    fn someone_elses_records_do_not_clear_you() {
        let m = MemberId::random();
        let other = MemberId::random();
        let both = [
            record(&other, TrainingModule::Signposting, 0, 100),
            record(&other, TrainingModule::TraumaInformed, 0, 100),
        ];
        assert!(!clearance(&m, &both, Timestamp(50)).cleared);
    }

    #[test]
    fn renewal_extends_clearance() {
        let m = MemberId::random();
        let records = [
            record(&m, TrainingModule::Signposting, 0, 100),
            record(&m, TrainingModule::Signposting, 90, 300),
            record(&m, TrainingModule::TraumaInformed, 0, 250),
        ];
        let c = clearance(&m, &records, Timestamp(95));
        assert_eq!(c.valid_until, Some(Timestamp(250)));
        assert!(clearance(&m, &records, Timestamp(150)).cleared);
    }
}
