//! Planned sessions without a lead cleared at their start, and clearances
//! about to lapse.

use super::*;
use crate::model::{Role, SessionDraft, SessionKind, TrainingModule};

const DAY: i64 = 86_400;

fn draft(title: &str, starts_at: i64) -> SessionDraft {
    SessionDraft {
        kind: SessionKind::SurvivorDiscussionGroup,
        title: title.into(),
        description: String::new(),
        starts_at: Timestamp(starts_at),
        duration_minutes: 90,
        location: String::new(),
        capacity: 8,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

/// Every module for `who`, valid until `until`.
fn train(doc: &mut SpaceDoc, by: &MemberId, who: &MemberId, until: i64) {
    for module in TrainingModule::ALL {
        doc.record_training(by, who, module, Timestamp(0), Timestamp(until))
            .unwrap();
    }
}

/// Robin coordinates; Ash is cleared until day 20, Kai until day 100.
fn two_leads() -> (SpaceDoc, MemberId, MemberId, MemberId) {
    let (mut doc, robin) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let ash = doc
        .add_member(&robin, "Ash", Role::Lead, Timestamp(1))
        .unwrap();
    let kai = doc
        .add_member(&robin, "Kai", Role::Lead, Timestamp(1))
        .unwrap();
    train(&mut doc, &robin, &ash, 20 * DAY);
    train(&mut doc, &robin, &kai, 100 * DAY);
    (doc, robin, ash, kai)
}

#[test]
fn a_session_is_flagged_as_soon_as_its_lead_will_have_lapsed_by_its_start() {
    let (mut doc, robin, ash, kai) = two_leads();
    let soon = doc
        .create_session(&robin, draft("Soon", 10 * DAY), Timestamp(0))
        .unwrap();
    let later = doc
        .create_session(&robin, draft("Later", 30 * DAY), Timestamp(0))
        .unwrap();
    let unled = doc
        .create_session(&robin, draft("Unled", 40 * DAY), Timestamp(0))
        .unwrap();
    let past = doc
        .create_session(&robin, draft("Past", DAY), Timestamp(0))
        .unwrap();
    for session in [&soon, &later, &past] {
        doc.volunteer_to_lead(&ash, session, Timestamp(2)).unwrap();
        doc.decide_lead(&robin, session, &ash, true, Timestamp(2))
            .unwrap();
    }
    let now = Timestamp(5 * DAY);
    let warnings = doc.clearance_warnings(now).unwrap();
    // Ash is cleared today, but not on day 30: "Later" is flagged now, as
    // is the session nobody leads; "Soon" is fine, "Past" has started.
    let flagged: Vec<(&str, bool)> = warnings
        .iter()
        .map(|w| (w.title.as_str(), w.no_cleared_lead))
        .collect();
    assert_eq!(flagged, vec![("Later", true), ("Unled", true)]);
    assert_eq!(warnings[0].uncleared.len(), 1);
    assert_eq!(warnings[0].uncleared[0].member, ash);
    assert_eq!(warnings[0].uncleared[0].clearance.missing.len(), 2);

    // Kai covers "Later": still flagged (Ash won't be cleared), but it has a
    // cleared lead.
    doc.volunteer_to_lead(&kai, &later, Timestamp(3)).unwrap();
    doc.decide_lead(&robin, &later, &kai, true, Timestamp(3))
        .unwrap();
    let warnings = doc.clearance_warnings(now).unwrap();
    assert_eq!(warnings[0].session, later);
    assert!(!warnings[0].no_cleared_lead);
    // Cancelled sessions are not flagged.
    doc.set_session_status(&robin, &unled, SessionStatus::Cancelled)
        .unwrap();
    assert_eq!(doc.clearance_warnings(now).unwrap().len(), 1);
}

#[test]
fn expiring_clearances_name_the_sessions_they_affect() {
    let (mut doc, robin, ash, _) = two_leads();
    let before = doc
        .create_session(&robin, draft("Before", 10 * DAY), Timestamp(0))
        .unwrap();
    let after = doc
        .create_session(&robin, draft("After", 30 * DAY), Timestamp(0))
        .unwrap();
    for session in [&before, &after] {
        doc.volunteer_to_lead(&ash, session, Timestamp(2)).unwrap();
        doc.decide_lead(&robin, session, &ash, true, Timestamp(2))
            .unwrap();
    }
    let now = Timestamp(5 * DAY);
    let expiring = doc.expiring_clearances(now, 30 * DAY).unwrap();
    assert_eq!(expiring.len(), 1, "{expiring:?}");
    assert_eq!(expiring[0].member, ash);
    assert_eq!(expiring[0].pseudonym, "Ash");
    assert_eq!(expiring[0].lapses_at, Timestamp(20 * DAY));
    assert_eq!(expiring[0].sessions, vec![after]);
    // Renewed: nothing lapses within 30 days any more.
    train(&mut doc, &robin, &ash, 200 * DAY);
    assert!(doc.expiring_clearances(now, 30 * DAY).unwrap().is_empty());
}
