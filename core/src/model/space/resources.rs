//! The signposting directory: listing, adding, editing and removing
//! places to find help.

use automerge::{ReadDoc, transaction::Transactable};
use autosurgeon::reconcile_prop;

use super::doc::{RESOURCES, SpaceDoc};
use super::reach::Reach;
use crate::model::document::child_map;
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{MemberId, ResourceId};
use crate::model::member::Role;
use crate::model::signposting::{Resource, ResourceCategory};

impl SpaceDoc {
    /// The signposting directory, optionally one category, crisis lines first.
    pub fn resources(
        &self,
        category: Option<ResourceCategory>,
    ) -> ModelResult<Vec<(ResourceId, Resource)>> {
        let mut resources: Vec<(ResourceId, Resource)> = self
            .hydrate_collection::<ResourceId, Resource>(RESOURCES)?
            .into_iter()
            .filter(|(_, r)| category.is_none_or(|c| r.category == c))
            .collect();
        resources.sort_by(|a, b| {
            a.1.category
                .cmp(&b.1.category)
                .then_with(|| a.1.name.cmp(&b.1.name))
                .then_with(|| a.0.cmp(&b.0))
        });
        Ok(resources)
    }

    /// Adds a resource to the signposting directory. Leads and coordinators.
    pub fn add_resource(&mut self, by: &MemberId, resource: Resource) -> ModelResult<ResourceId> {
        self.require_role(by, Role::Lead, "edit the signposting directory")?;
        resource.validate()?;
        let id = ResourceId::random();
        self.transact_within(Reach::outside_sessions(), |doc, cols| {
            reconcile_prop(doc, &cols.resources, id.as_str(), &resource)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Replaces a resource's fields; unchanged fields are not rewritten, so
    /// concurrent edits to different fields both survive.
    pub fn edit_resource(
        &mut self,
        by: &MemberId,
        id: &ResourceId,
        resource: Resource,
    ) -> ModelResult<()> {
        self.require_role(by, Role::Lead, "edit the signposting directory")?;
        resource.validate()?;
        let resources = self.collection(RESOURCES)?;
        if child_map(&self.doc, &resources, id.as_str()).is_none() {
            return Err(ModelError::UnknownResource(id.to_string()));
        }
        self.transact_within(Reach::outside_sessions(), |doc, _| {
            reconcile_prop(doc, &resources, id.as_str(), &resource)?;
            Ok(())
        })
    }

    /// Removes a resource from the directory. Leads and coordinators.
    pub fn remove_resource(&mut self, by: &MemberId, id: &ResourceId) -> ModelResult<()> {
        self.require_role(by, Role::Lead, "edit the signposting directory")?;
        let resources = self.collection(RESOURCES)?;
        if self.doc.get(&resources, id.as_str())?.is_none() {
            return Err(ModelError::UnknownResource(id.to_string()));
        }
        self.transact_within(Reach::outside_sessions(), |doc, _| {
            doc.delete(&resources, id.as_str())?;
            Ok(())
        })
    }
}
