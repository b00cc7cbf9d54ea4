//! One term of weekly sessions through a real relay process over TLS: a
//! coordinator plans ten Tuesdays at 18:00 in `Europe/London` across the
//! clock change, a lead joins, offers for every one and is accepted, and
//! her device, after syncing, shows every occurrence at 18:00 local and
//! flags, weeks ahead, the sessions after her training lapses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use safespaces_core::model::{
    Role, SeriesEnd, SeriesRule, SessionDraft, SessionKind, SpaceZone, Timestamp, TrainingModule,
};
use safespaces_e2e::{
    RelayProcess, assert_no_sequence_alerts, join_through_relay, test_client, test_device,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_tuesdays_stay_at_six_local_across_the_clock_change_and_a_lapse_is_flagged_ahead() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(10));
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let robin = test_device(dirs[0].path());
    let lee = test_device(dirs[1].path());
    let london = SpaceZone::parse("Europe/London").unwrap();
    let now = london.parse_local("2030-03-10 09:00").unwrap();

    let space = robin
        .create_space_in("Tuesday group", "Robin", &london, now)
        .unwrap();
    let (_, sessions) = space
        .create_series(
            SessionDraft {
                kind: SessionKind::SurvivorDiscussionGroup,
                title: "Peer circle".into(),
                description: String::new(),
                starts_at: london.parse_local("2030-03-05 18:00").unwrap(),
                duration_minutes: 90,
                location: "shared with attendees".into(),
                capacity: 8,
                content_notes: vec![],
                accessibility: String::new(),
                signups_close_before_minutes: None,
            },
            SeriesRule {
                every_weeks: 1,
                end: SeriesEnd::Count(10),
            },
            Timestamp(now.0 - 14 * 86_400),
        )
        .unwrap();
    assert_eq!(sessions.len(), 10);
    robin.sync(&net, now).await.unwrap();
    let (theirs, _, _) =
        join_through_relay(&robin, &space, &lee, Role::Lead, "Lee", &net, now).await;
    robin.sync(&net, now).await.unwrap();
    let lee_id = theirs.my_member_id().unwrap();

    // Lee's training runs out on 1 April, in the middle of the term.
    let lapses = london.parse_local("2030-04-01 00:00").unwrap();
    for module in TrainingModule::ALL {
        space
            .record_training(
                &lee_id,
                module,
                london.parse_local("2029-04-01 00:00").unwrap(),
                lapses,
            )
            .unwrap();
    }
    robin.sync(&net, now).await.unwrap();
    lee.sync(&net, now).await.unwrap();
    for session in &sessions {
        theirs.volunteer_to_lead(session, now).unwrap();
    }
    lee.sync(&net, now).await.unwrap();
    robin.sync(&net, now).await.unwrap();
    for session in &sessions {
        space.decide_lead(session, &lee_id, true, now).unwrap();
    }
    robin.sync(&net, now).await.unwrap();
    lee.sync(&net, now).await.unwrap();

    // On Lee's device: ten Tuesdays, every one at 18:00 in London, GMT
    // before 31 March and BST after.
    let zone = theirs.time_zone().unwrap();
    assert_eq!(zone.name(), "Europe/London");
    let shown: Vec<String> = sessions
        .iter()
        .map(|id| zone.show(theirs.session(id).unwrap().starts_at))
        .collect();
    assert_eq!(shown[0], "Tue 5 Mar 2030 18:00 GMT");
    assert_eq!(shown[3], "Tue 26 Mar 2030 18:00 GMT");
    assert_eq!(shown[4], "Tue 2 Apr 2030 18:00 BST");
    assert_eq!(shown[9], "Tue 7 May 2030 18:00 BST");
    for text in &shown {
        assert!(
            text.starts_with("Tue ") && text.contains(" 18:00 "),
            "{text}"
        );
    }

    // The sessions from 2 April on are flagged now, three weeks ahead, on
    // the lead's own device and the coordinator's; the ones before are not.
    for view in [&theirs, &space] {
        let warnings = view.clearance_warnings(now).unwrap();
        let flagged: Vec<_> = warnings.iter().map(|w| w.session.clone()).collect();
        assert_eq!(flagged, sessions[4..].to_vec());
        assert!(
            warnings
                .iter()
                .all(|w| w.no_cleared_lead && w.uncleared.iter().any(|l| l.member == lee_id))
        );
        let expiring = view.expiring_clearances(now, 30).unwrap();
        assert_eq!(expiring.len(), 1);
        assert_eq!(expiring[0].pseudonym, "Lee");
        assert_eq!(expiring[0].lapses_at, lapses);
        assert_eq!(expiring[0].sessions, sessions[4..].to_vec());
    }
    // Every envelope of the term arrived as its author numbered it.
    assert_no_sequence_alerts(&robin);
    assert_no_sequence_alerts(&lee);
}
