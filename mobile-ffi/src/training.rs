//! Training records and whether a lead is cleared to lead.

use std::time::SystemTime;

use safespaces_core::model;

use crate::convert::convert_all;
use crate::time::system_time;

/// A training module every lead must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum TrainingModule {
    /// Knowing where to refer people and how.
    Signposting,
    /// Trauma-informed care and communication.
    TraumaInformed,
}

impl From<model::TrainingModule> for TrainingModule {
    fn from(module: model::TrainingModule) -> Self {
        match module {
            model::TrainingModule::Signposting => TrainingModule::Signposting,
            model::TrainingModule::TraumaInformed => TrainingModule::TraumaInformed,
        }
    }
}

impl From<TrainingModule> for model::TrainingModule {
    fn from(module: TrainingModule) -> Self {
        match module {
            TrainingModule::Signposting => model::TrainingModule::Signposting,
            TrainingModule::TraumaInformed => model::TrainingModule::TraumaInformed,
        }
    }
}

/// A completed training module, recorded by a coordinator.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TrainingRecord {
    /// The record's id.
    pub id: String,
    /// Who completed it (member id).
    pub member: String,
    /// Which module.
    pub module: TrainingModule,
    /// When it was completed.
    pub completed_at: SystemTime,
    /// When it lapses.
    pub expires_at: SystemTime,
    /// The coordinator who recorded it (member id).
    pub recorded_by: String,
}

impl From<(model::RecordId, model::TrainingRecord)> for TrainingRecord {
    fn from((id, r): (model::RecordId, model::TrainingRecord)) -> Self {
        TrainingRecord {
            id: id.to_string(),
            member: r.member.to_string(),
            module: r.module.into(),
            completed_at: system_time(r.completed_at),
            expires_at: system_time(r.expires_at),
            recorded_by: r.recorded_by.to_string(),
        }
    }
}

/// Whether a member is cleared to lead at a given time.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Clearance {
    /// Cleared: every module current.
    pub cleared: bool,
    /// Modules missing or lapsed.
    pub missing: Vec<TrainingModule>,
    /// While cleared, when the first module lapses.
    pub valid_until: Option<SystemTime>,
}

impl From<model::Clearance> for Clearance {
    fn from(c: model::Clearance) -> Self {
        Clearance {
            cleared: c.cleared,
            missing: convert_all(c.missing),
            valid_until: c.valid_until.map(system_time),
        }
    }
}
