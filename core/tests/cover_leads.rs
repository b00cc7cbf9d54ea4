//! A cover lead sees who is coming: when a cleared lead is accepted for a
//! session, an existing lead's device re-seals the sign-ups to the new set
//! of leads on its own, through the normal bundle path.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod adversary;

use adversary::{Group, now};
use safespaces_core::model::{Role, SignUpState};

#[test]
fn a_cover_lead_sees_who_is_coming_once_a_lead_device_passes_it_on() {
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Lead),
        ("Kai", Role::Lead),
        ("Blake", Role::Member),
    ]);
    for lead in ["Ash", "Kai"] {
        group.clear("Robin", lead);
    }
    group.share(0);
    let (session, _) = group.space_of("Ash").sessions().unwrap()[0].clone();
    group
        .space_of("Ash")
        .volunteer_to_lead(&session, now())
        .unwrap();
    group.person("Robin").import(&group.bundle_of("Ash"));
    group.accept("Robin", &session, "Ash");
    group.person("Ash").import(&group.bundle_of("Robin"));
    group.person("Blake").import(&group.bundle_of("Ash"));
    group
        .space_of("Blake")
        .sign_up(&session, SignUpState::Attending, now())
        .unwrap();
    group.person("Ash").import(&group.bundle_of("Blake"));
    let names = |name: &str| -> Vec<String> {
        group
            .space_of(name)
            .attendees(&session)
            .unwrap()
            .into_iter()
            .map(|a| a.holder.pseudonym)
            .collect()
    };
    assert_eq!(names("Ash"), vec!["Blake"]);

    // Kai offers to cover; she sees a place taken and no name: an offer is
    // not a lead. Ash accepts her offer, and his device re-seals.
    group.person("Kai").import(&group.bundle_of("Ash"));
    group
        .space_of("Kai")
        .volunteer_to_lead(&session, now())
        .unwrap();
    assert!(names("Kai").is_empty());
    assert_eq!(group.space_of("Kai").roster(&session).unwrap().attending, 1);
    group.person("Ash").import(&group.bundle_of("Kai"));
    group.person("Kai").import(&group.bundle_of("Ash"));
    assert!(names("Kai").is_empty(), "an offer alone shows no names");
    group.accept("Ash", &session, "Kai");
    group.person("Kai").import(&group.bundle_of("Ash"));
    assert_eq!(names("Kai"), vec!["Blake"]);
    // Nobody else learns the name from it.
    group.person("Robin").import(&group.bundle_of("Ash"));
    assert!(names("Robin").is_empty());
}
