//! Training records: recording a completed module and removing one
//! entered by mistake (clearance is derived from them, in `leads`).

use automerge::{ReadDoc, transaction::Transactable};
use autosurgeon::reconcile_prop;

use super::doc::{SpaceDoc, TRAINING};
use super::reach::Reach;
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{MemberId, RecordId};
use crate::model::member::Role;
use crate::model::time::Timestamp;
use crate::model::training::{TrainingModule, TrainingRecord};

impl SpaceDoc {
    /// Every training record, oldest completion first.
    pub fn training_records(&self) -> ModelResult<Vec<(RecordId, TrainingRecord)>> {
        let mut records: Vec<(RecordId, TrainingRecord)> =
            self.hydrate_collection(TRAINING)?.into_iter().collect();
        records.sort_by(|a, b| a.1.completed_at.cmp(&b.1.completed_at).then(a.0.cmp(&b.0)));
        Ok(records)
    }

    /// Records a completed training module. Coordinators only.
    pub fn record_training(
        &mut self,
        by: &MemberId,
        member: &MemberId,
        module: TrainingModule,
        completed_at: Timestamp,
        expires_at: Timestamp,
    ) -> ModelResult<RecordId> {
        self.require_role(by, Role::Coordinator, "record training")?;
        self.require_active(member)?;
        if expires_at <= completed_at {
            return Err(ModelError::InvalidInput {
                field: "expiry",
                reason: "training must expire after it was completed".into(),
            });
        }
        let id = RecordId::random();
        let record = TrainingRecord {
            member: member.clone(),
            module,
            completed_at,
            expires_at,
            recorded_by: by.clone(),
        };
        self.transact_within(Reach::outside_sessions(), |doc, cols| {
            reconcile_prop(doc, &cols.training, id.as_str(), &record)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Deletes a training record entered by mistake. Coordinators only.
    pub fn remove_training_record(&mut self, by: &MemberId, record: &RecordId) -> ModelResult<()> {
        self.require_role(by, Role::Coordinator, "remove training records")?;
        let training = self.collection(TRAINING)?;
        if self.doc.get(&training, record.as_str())?.is_none() {
            return Err(ModelError::UnknownRecord(record.to_string()));
        }
        self.transact_within(Reach::outside_sessions(), |doc, _| {
            doc.delete(&training, record.as_str())?;
            Ok(())
        })
    }
}
