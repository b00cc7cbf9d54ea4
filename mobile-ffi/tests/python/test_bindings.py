"""The generated Python bindings, over the real library.

Proves the mapping (objects, records, enums, bytes, optionals, defaults,
errors as exceptions) by walking two devices through what an app does:
profiles, a space, an invite and a join by files (package, request,
welcome and bundle), invites followed and withdrawn, a session, a sign-up
recorded by the lead from a bundle, the journal, backups, and errors
crossing the boundary. Core's own rules are tested in core.

Run by mobile-ffi/scripts/test-bindings.sh, which generates the module and
puts it on PYTHONPATH next to the library.
"""

import tempfile
import unittest
from datetime import datetime, timedelta, timezone

from safespaces_ffi import (
    BlockedReason,
    SeriesRule,
    SessionStatus,
    TimeZoneInfo,
    InviteState,
    JournalEdit,
    JournalFormat,
    KeystoreChange,
    LeadState,
    MyPlace,
    PassphraseWork,
    PendingJoin,
    Place,
    ProfileOptions,
    Resource,
    ResourceCategory,
    Role,
    SafeSpaces,
    SafeSpacesError,
    SessionDraft,
    SessionEdit,
    SessionKind,
    SignUpState,
    TrainingModule,
    UnlockSecret,
    generate_keystore_secret,
    profile_exists,
)

NOW = 1_767_000_000  # seconds since the Unix epoch
DAY = 86_400


def at(seconds):
    """The instant `seconds` after the epoch: times cross as aware datetimes."""
    return datetime.fromtimestamp(seconds, timezone.utc)


# Test-only scrypt cost: production unlocks take about a second each.
FAST = ProfileOptions(passphrase_work=PassphraseWork.INSECURE_TEST_ONLY(log_n=4))
AGE_HEADER = b"age-encryption.org/v1\n"


class BindingsTest(unittest.TestCase):
    def setUp(self):
        self._dirs = []

    def tearDown(self):
        for d in self._dirs:
            d.cleanup()

    def new_dir(self):
        d = tempfile.TemporaryDirectory()
        self._dirs.append(d)
        return d.name + "/profile"

    def cleared_lead_space(self):
        """Ash's profile with a space where Ash is a cleared lead of one session."""
        ash = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("ash pass"), FAST)
        space = ash.create_space("Tuesday circle", "Ash", "Europe/London", at(NOW))
        me = space.my_member_id()
        for module in (TrainingModule.SIGNPOSTING, TrainingModule.TRAUMA_INFORMED):
            space.record_training(me, module, at(NOW - DAY), at(NOW + 365 * DAY))
        session = space.create_session(
            SessionDraft(
                kind=SessionKind.SURVIVOR_DISCUSSION_GROUP,
                title="Evening circle",
                starts_at=at(NOW + 2 * DAY),
                duration_minutes=90,
                capacity=8,
                content_notes=["discussion of assault"],
            ), at(NOW)
        )
        # Planned with nobody to lead it: flagged at once.
        warnings = space.clearance_warnings(at(NOW))
        self.assertEqual([(w.session, w.no_cleared_lead) for w in warnings], [(session, True)])
        space.volunteer_to_lead(session, at(NOW))
        # The creator coordinates: her own offer is accepted at once.
        self.assertEqual([l.state for l in space.session_leads(session, at(NOW))], [LeadState.ACCEPTED])
        # Standing down and being named again as cover lead.
        space.withdraw_lead(session, me)
        self.assertEqual(space.session_leads(session, at(NOW)), [])
        space.name_lead(session, me, at(NOW))
        self.assertEqual([l.state for l in space.session_leads(session, at(NOW))], [LeadState.ACCEPTED])
        self.assertEqual(space.clearance_warnings(at(NOW)), [])
        # Cleared for a year: nothing lapses within 30 days, but within 400.
        self.assertEqual(space.expiring_clearances(at(NOW), 30), [])
        lapsing = space.expiring_clearances(at(NOW), 400)
        self.assertEqual([(e.pseudonym, e.lapses_at) for e in lapsing], [("Ash", at(NOW + 365 * DAY))])
        return ash, space, session

    def test_two_devices_join_sign_up_and_converge_through_bundles(self):
        ash, ash_space, session = self.cleared_lead_space()
        self.assertTrue(ash_space.clearance(ash_space.my_member_id(), at(NOW)).cleared)

        # Birch's device unlocks with a keystore secret.
        birch_dir = self.new_dir()
        birch = SafeSpaces.create(birch_dir, UnlockSecret.keystore(generate_keystore_secret()), FAST)
        self.assertTrue(profile_exists(birch_dir))

        invitation = ash_space.invite(Role.MEMBER, at(NOW))  # expires_at left out
        self.assertEqual(invitation.expires_at, at(NOW + 7 * DAY))
        self.assertTrue(invitation.code.startswith("ss2-"), invitation.code)
        self.assertIsInstance(invitation.sealed_package, bytes)
        [listed] = ash_space.invites(at(NOW))
        self.assertEqual(
            (listed.invite_id, listed.state, listed.role, listed.created_by, listed.used_by),
            (invitation.invite_id, InviteState.OPEN, Role.MEMBER, ash_space.my_member_id(), None),
        )

        # Birch opens the package and asks; nothing of the space is on
        # Birch's device yet, only the pending join.
        asked = birch.request_join(invitation.code, invitation.sealed_package, "Birch", at(NOW))
        self.assertEqual((asked.space_name, asked.role), ("Tuesday circle", Role.MEMBER))
        self.assertIsInstance(asked.request, bytes)
        self.assertEqual(
            birch.pending_joins(),
            [PendingJoin(space=ash_space.id(), space_name="Tuesday circle", role=Role.MEMBER,
                         expires_at=at(NOW + 7 * DAY))],
        )
        self.assertEqual(birch.spaces(), [])
        # The package holds no key: a bundle of the space opens for nobody
        # who holds only the package.
        early = ash_space.export_bundle()
        with self.assertRaises(SafeSpacesError.RefusedInput):
            birch.import_bundle(early, at(NOW))

        # Ash admits the request; the welcome goes back with a bundle made
        # after the admission (one from before it does not show it).
        welcome = ash_space.admit(asked.request, at(NOW))
        self.assertIsInstance(welcome, bytes)
        # Admitting the same request again (a lost welcome) answers again,
        # sealed afresh, and admits nobody new.
        welcome = ash_space.admit(asked.request, at(NOW))
        with self.assertRaises(SafeSpacesError.InviteUnusable):
            birch.join(welcome, early, at(NOW))
        birch_space = birch.join(welcome, ash_space.export_bundle(), at(NOW))
        self.assertEqual(birch.pending_joins(), [])
        self.assertEqual(birch_space.id(), ash_space.id())
        [used] = ash_space.invites(at(NOW))
        self.assertEqual((used.state, used.used_by), (InviteState.USED, birch_space.my_member_id()))
        self.assertEqual(birch_space.name(), "Tuesday circle")
        self.assertEqual([s.name for s in birch.spaces()], ["Tuesday circle"])

        # Birch is not a lead: the sign-up waits for a lead to record it.
        requested = birch_space.sign_up(session, SignUpState.ATTENDING, at(NOW))
        self.assertEqual(requested, MyPlace.REQUESTED(state=SignUpState.ATTENDING))
        self.assertTrue(requested.is_requested())

        report = ash.import_bundle(birch_space.export_bundle(), at(NOW))
        self.assertEqual(report.space, ash_space.id())
        self.assertEqual(report.requests_recorded, 1)
        attendees = ash_space.attendees(session)
        self.assertEqual(
            [(a.pseudonym, a.place, a.verified) for a in attendees], [("Birch", Place.ATTENDING(), True)]
        )
        members = {m.pseudonym: m for m in ash_space.members()}
        self.assertEqual(members["Birch"].role, Role.MEMBER)
        self.assertEqual(members["Ash"].role, Role.COORDINATOR)
        self.assertIsNone(members["Birch"].removed_at)

        birch.import_bundle(ash_space.export_bundle(), at(NOW))
        self.assertEqual(birch_space.my_place(session, at(NOW)), MyPlace.RECORDED(place=Place.ATTENDING()))
        roster = birch_space.roster(session)
        self.assertEqual((roster.attending, roster.waitlisted, roster.capacity), (1, 0, 8))
        # Only leads see names.
        self.assertEqual(birch_space.attendees(session), [])
        got = birch_space.session(session)
        self.assertEqual(got.kind, SessionKind.SURVIVOR_DISCUSSION_GROUP)
        self.assertEqual(got.content_notes, ["discussion of assault"])
        self.assertEqual(got.leads, [ash_space.my_member_id()])
        leads = birch_space.session_leads(session, at(NOW))
        self.assertEqual([(l.pseudonym, l.clearance.cleared) for l in leads], [("Ash", True)])

        # A member may not plan sessions: the model's refusal arrives typed.
        with self.assertRaises(SafeSpacesError.NotAllowed):
            birch_space.create_session(
                SessionDraft(
                    kind=SessionKind.OTHER, title="x", starts_at=at(NOW), duration_minutes=60, capacity=1
                ), at(NOW)
            )

    def test_a_revoked_invite_admits_nobody(self):
        ash = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("ash"), FAST)
        space = ash.create_space("Circle", "Ash", "Europe/London", at(NOW))
        fresh = space.invite(Role.LEAD, at(NOW), at(NOW + DAY))
        kept = space.invite(Role.MEMBER, at(NOW))
        space.revoke_invite(fresh.invite_id, at(NOW))
        states = {i.invite_id: (i.state, i.role, i.expires_at) for i in space.invites(at(NOW))}
        self.assertEqual(
            states,
            {
                fresh.invite_id: (InviteState.REVOKED, Role.LEAD, at(NOW + DAY)),
                kept.invite_id: (InviteState.OPEN, Role.MEMBER, at(NOW + 7 * DAY)),
            },
        )
        # Latest expiry first.
        self.assertEqual([i.invite_id for i in space.invites(at(NOW))], [kept.invite_id, fresh.invite_id])
        # Past its expiry an unused invite shows as expired.
        later = {i.invite_id: i.state for i in space.invites(at(NOW + 8 * DAY))}
        self.assertEqual(later[kept.invite_id], InviteState.EXPIRED)

        # Whoever holds the withdrawn code can still ask (the package opens
        # offline), but the inviter's device no longer admits with it.
        carey = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("carey"), FAST)
        asked = carey.request_join(fresh.code, fresh.sealed_package, "Carey", at(NOW))
        with self.assertRaises(SafeSpacesError.InviteUnusable):
            space.admit(asked.request, at(NOW))
        self.assertEqual(carey.spaces(), [])
        # Withdrawing twice changes nothing; an unknown id is refused.
        space.revoke_invite(fresh.invite_id, at(NOW))
        with self.assertRaises(SafeSpacesError.InvalidInput):
            space.revoke_invite("0" * 16, at(NOW))

    def test_a_space_left_shows_as_left_and_is_forgotten(self):
        ash = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("ash"), FAST)
        space = ash.create_space("Circle", "Ash", "Europe/London", at(NOW))
        birch = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("birch"), FAST)
        invitation = space.invite(Role.MEMBER, at(NOW))
        asked = birch.request_join(invitation.code, invitation.sealed_package, "Birch", at(NOW))
        welcome = space.admit(asked.request, at(NOW))
        birch_space = birch.join(welcome, space.export_bundle(), at(NOW))
        # Still in it: another invite cannot be used from her device.
        again = space.invite(Role.MEMBER, at(NOW))
        with self.assertRaises(SafeSpacesError.InviteUnusable):
            birch.request_join(again.code, again.sealed_package, "Birch", at(NOW))
        birch_space.leave(at(NOW))
        [listed] = birch.spaces()
        self.assertEqual((listed.id, listed.left), (space.id(), True))
        self.assertFalse(ash.spaces()[0].left)
        with self.assertRaises(SafeSpacesError.NotAllowed):
            ash.forget_space(space.id())
        birch.forget_space(space.id())
        self.assertEqual(birch.spaces(), [])

    def test_sessions_edits_and_signposting_cross_the_boundary(self):
        _, space, session = self.cleared_lead_space()
        space.edit_session(session, SessionEdit(title="Evening circle (moved)", capacity=10))
        edited = space.session(session)
        self.assertEqual((edited.title, edited.capacity), ("Evening circle (moved)", 10))
        self.assertEqual(space.session_conflicts(session), [])
        self.assertEqual([s.id for s in space.sessions()], [session])

        crisis = space.add_resource(
            Resource(category=ResourceCategory.CRISIS_LINE, name="Rape Crisis", contact="0808 500 2222")
        )
        space.add_resource(Resource(category=ResourceCategory.LEGAL, name="Advice line", contact="x"))
        only_crisis = space.resources(ResourceCategory.CRISIS_LINE)
        self.assertEqual([(r.id, r.resource.hours) for r in only_crisis], [(crisis, "")])
        self.assertEqual(len(space.resources()), 2)
        self.assertEqual(len(space.training_records()), 2)

        space.cancel_session(session)
        self.assertEqual(space.session(session).status.name, "CANCELLED")
        with self.assertRaises(SafeSpacesError.NotFound):
            space.session("0000000000000000")
        with self.assertRaises(SafeSpacesError.InvalidInput):
            space.session("not an id")

    def test_a_weekly_series_in_london_time_and_a_session_life(self):
        ash = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("ash pass"), FAST)
        with self.assertRaises(SafeSpacesError.InvalidInput):
            ash.create_space("Circle", "Ash", "Mars/Base", at(NOW))
        space = ash.create_space("Circle", "Ash", "Europe/London", at(NOW))
        self.assertEqual(space.time_zone(), TimeZoneInfo(name="Europe/London", known=True))
        first = space.parse_local_time("2030-03-05 18:00")
        plan = space.create_series(
            SessionDraft(
                kind=SessionKind.SURVIVOR_DISCUSSION_GROUP,
                title="Tuesday circle",
                starts_at=first,
                duration_minutes=90,
                capacity=8,
            ),
            SeriesRule(every_weeks=1, count=10, until=None),
            at(NOW),
        )
        self.assertEqual(len(plan.session_ids), 10)
        # A coordinator leads the whole term in one call (her own offers
        # are accepted at once).
        self.assertEqual(space.volunteer_to_lead_from(plan.session_ids[0], at(NOW)), plan.session_ids)
        sessions = space.upcoming_sessions(at(NOW))
        self.assertEqual([s.id for s in sessions], plan.session_ids)
        self.assertEqual([s.occurrence for s in sessions], list(range(10)))
        self.assertTrue(all(s.series_id == plan.series_id for s in sessions))
        # 18:00 local on both sides of the clock change (31 March 2030).
        self.assertEqual(space.show_time(sessions[3].starts_at), "Tue 26 Mar 2030 18:00 GMT")
        self.assertEqual(space.show_time(sessions[4].starts_at), "Tue 2 Apr 2030 18:00 BST")
        self.assertEqual(space.local_time(sessions[4].starts_at), "2030-04-02T18:00:00+01:00[Europe/London]")
        moved = space.edit_series_from(
            plan.session_ids[6], SessionEdit(starts_at=space.parse_local_time("2030-04-17 18:30"))
        )
        self.assertEqual(moved, plan.session_ids[6:])
        self.assertEqual(
            space.show_time(space.session(plan.session_ids[9]).starts_at), "Wed 8 May 2030 18:30 BST"
        )
        self.assertEqual(space.cancel_series_from(plan.session_ids[8]), plan.session_ids[8:])
        space.reinstate_session(plan.session_ids[9])
        self.assertEqual(space.session(plan.session_ids[9]).status, SessionStatus.PLANNED)
        # A request with no cleared lead says why it waits; after the end,
        # the session is past and completed without anyone marking it.
        self.assertEqual(
            space.sign_up(plan.session_ids[0], SignUpState.ATTENDING, at(NOW)),
            MyPlace.BLOCKED(state=SignUpState.ATTENDING, reason=BlockedReason.NO_CLEARED_LEAD),
        )
        after = sessions[0].ends_at
        past = space.past_sessions(after)
        self.assertEqual([(s.id, s.status) for s in past], [(plan.session_ids[0], SessionStatus.COMPLETED)])
        with self.assertRaises(SafeSpacesError.NotAllowed):
            space.sign_up(plan.session_ids[0], SignUpState.ATTENDING, after)

    def test_times_are_refused_before_1970_and_round_trip_to_the_second(self):
        app = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("pass"), FAST)
        # Before the epoch: the typed refusal, not a crash, and nothing made.
        with self.assertRaises(SafeSpacesError.InvalidInput) as before:
            app.create_space("Circle", "Ash", "Europe/London", at(-1))
        self.assertIn("1970", str(before.exception))
        self.assertEqual(app.spaces(), [])
        space = app.create_space("Circle", "Ash", "Europe/London", at(NOW))
        draft = SessionDraft(
            kind=SessionKind.OTHER, title="Walk", starts_at=at(-DAY), duration_minutes=60, capacity=4
        )
        with self.assertRaises(SafeSpacesError.InvalidInput):
            space.create_session(draft, at(NOW))
        # The start comes back as given, to the second (core keeps no
        # finer time), as an aware datetime.
        starts = at(NOW + DAY)
        draft.starts_at = starts + timedelta(milliseconds=750)
        got = space.session(space.create_session(draft, at(NOW)))
        self.assertEqual((got.starts_at, got.ends_at), (starts, starts + timedelta(minutes=60)))
        self.assertEqual(got.starts_at.utcoffset(), timedelta(0))
        # Milliseconds as a bare number, the mistake typed times rule out,
        # and a naive datetime, which names no instant: both refused by the
        # bindings before the call reaches Rust.
        with self.assertRaises(TypeError):
            space.show_time(NOW * 1000)
        with self.assertRaises(TypeError):
            space.show_time(datetime(2030, 1, 1, 12, 0))

    def test_sign_ups_close_the_set_time_before_the_start(self):
        app = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("pass"), FAST)
        space = app.create_space("Circle", "Ash", "Europe/London", at(NOW))
        starts = at(NOW + DAY)
        draft = SessionDraft(
            kind=SessionKind.OTHER, title="Walk", starts_at=starts, duration_minutes=60,
            capacity=4, signups_close_before_minutes=120,
        )
        session = space.create_session(draft, at(NOW))
        self.assertEqual(space.session(session).signups_close_at, starts - timedelta(hours=2))
        # An hour before the start is too late: refused, nothing kept.
        with self.assertRaises(SafeSpacesError.NotAllowed):
            space.sign_up(session, SignUpState.ATTENDING, starts - timedelta(hours=1))
        space.edit_session(session, SessionEdit(signups_close_before_minutes=0))
        self.assertEqual(space.session(session).signups_close_at, starts)

    def test_journal_add_edit_delete_and_export(self):
        app = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("pass"), FAST)
        journal = app.journal()
        first = journal.add("a hard day", 2, ["sleep"], at(NOW))
        second = journal.add("a better one", None, [], at(NOW + 60))
        self.assertEqual([e.id for e in journal.entries()], [second, first])
        self.assertEqual([e.id for e in journal.with_tag("sleep")], [first])
        self.assertIsNone(journal.entries()[0].mood)

        journal.edit(first, JournalEdit(clear_mood=True, tags=["sleep", "work"]), at(NOW + 120))
        edited = [e for e in journal.entries() if e.id == first][0]
        self.assertEqual((edited.mood, edited.tags, edited.edited_at), (None, ["sleep", "work"], at(NOW + 120)))

        journal.delete(second)
        self.assertEqual([e.id for e in journal.entries()], [first])
        with self.assertRaises(SafeSpacesError.NotFound):
            journal.delete(second)

        exported = journal.export(JournalFormat.MARKDOWN, "export pass")
        self.assertIsInstance(exported, bytes)
        self.assertTrue(exported.startswith(AGE_HEADER))

    def test_devices_are_listed_named_and_this_one_cannot_be_removed(self):
        app = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("pass"), FAST)
        [me] = app.devices()
        self.assertEqual(me.id, app.device_id())
        self.assertTrue(me.this_device)
        self.assertRegex(me.fingerprint, r"^[0-9a-f]{4}( [0-9a-f]{4}){3}$")
        self.assertIsNone(me.last_seen)
        self.assertIsNone(me.removed_at)
        app.name_device(me.id, "my phone")
        self.assertEqual(app.devices()[0].name, "my phone")
        app.name_device(me.id, None)
        self.assertIsNone(app.devices()[0].name)
        with self.assertRaises(SafeSpacesError.InvalidInput):
            app.remove_device(me.id, at(NOW))
        with self.assertRaises(SafeSpacesError.InvalidInput):
            app.remove_device("00000000000000ff", at(NOW))

    def test_lock_and_wrong_secret_arrive_as_their_exceptions(self):
        d = self.new_dir()
        app = SafeSpaces.create(d, UnlockSecret.passphrase("right"), FAST)
        space = app.create_space("Circle", "Ash", "Europe/London", at(NOW))
        journal = app.journal()

        app.lock()
        self.assertTrue(app.is_locked())
        with self.assertRaises(SafeSpacesError.Locked):
            space.name()
        with self.assertRaises(SafeSpacesError.Locked):
            journal.entries()
        with self.assertRaises(SafeSpacesError.WrongSecret) as wrong:
            app.unlock(UnlockSecret.passphrase("wrong"))
        self.assertIsInstance(wrong.exception, SafeSpacesError)

        # Handles kept across the lock work again after unlocking.
        app.unlock(UnlockSecret.passphrase("right"))
        self.assertEqual(space.name(), "Circle")

        # Reopening from disk.
        again = SafeSpaces.open(d, FAST)
        self.assertTrue(again.is_locked())
        again.unlock(UnlockSecret.passphrase("right"))
        self.assertEqual([s.name for s in again.spaces()], ["Circle"])

        with self.assertRaises(SafeSpacesError.InvalidInput) as short:
            UnlockSecret.keystore(b"too short")
        self.assertIn("32 bytes", str(short.exception))

    def test_keys_backup_duress_and_attempt_limit(self):
        app = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("old"), FAST)
        app.create_space("Circle", "Ash", "Europe/London", at(NOW))
        app.set_passphrase("new")
        secret = generate_keystore_secret()
        self.assertEqual(len(secret), 32)
        with self.assertRaises(SafeSpacesError.WrongSecret):
            app.set_keystore_secret(secret, "not the passphrase")
        app.set_keystore_secret(secret, "new")
        app.lock()
        app.unlock(UnlockSecret.keystore(secret))
        app.unlock(UnlockSecret.passphrase("new"))
        device = app.device_id()

        backup = app.export_backup("backup pass")
        self.assertTrue(backup.startswith(AGE_HEADER))
        with self.assertRaises(SafeSpacesError.WrongSecret):
            SafeSpaces.restore_backup(backup, "not it", self.new_dir(), UnlockSecret.passphrase("x"), FAST)
        restored = SafeSpaces.restore_backup(
            backup, "backup pass", self.new_dir(), UnlockSecret.passphrase("restored"), FAST
        )
        self.assertFalse(restored.is_locked())
        self.assertEqual([s.name for s in restored.spaces()], ["Circle"])
        self.assertEqual(restored.device_id(), device)

        # Duress: the duress passphrase opens an empty profile.
        restored.set_duress_passphrase("duress")
        restored.lock()
        restored.unlock(UnlockSecret.passphrase("duress"))
        self.assertEqual(restored.spaces(), [])

        # Attempt limit: one failure wipes it, and says so at once (the app
        # deletes its keystore item); from then on, no profile.
        restored.set_attempt_limit(1)
        with self.assertRaises(SafeSpacesError.NoProfile):
            restored.unlock(UnlockSecret.passphrase("guess"))
        with self.assertRaises(SafeSpacesError.NoProfile):
            restored.unlock(UnlockSecret.passphrase("duress"))

        app.wipe()
        with self.assertRaises(SafeSpacesError.NoProfile):
            app.unlock(UnlockSecret.passphrase("new"))

    def test_keystore_actions_tell_the_app_what_to_do_with_its_item(self):
        first = generate_keystore_secret()
        app = SafeSpaces.create(self.new_dir(), UnlockSecret.keystore(first), FAST)
        # A keystore-only profile replaces its secret without a passphrase;
        # the old item opens nothing afterwards.
        second = generate_keystore_secret()
        self.assertEqual(app.set_keystore_secret(second, None).change(), KeystoreChange.KEEP)
        with self.assertRaises(SafeSpacesError.WrongSecret):
            app.unlock(UnlockSecret.keystore(first))
        self.assertEqual(app.unlock(UnlockSecret.keystore(second)).change(), KeystoreChange.KEEP)
        # A rotation hands out a new secret to store in place of the old.
        action = app.set_passphrase("pass")
        self.assertEqual(action.change(), KeystoreChange.REPLACE)
        new = action.new_secret()
        self.assertEqual(len(new), 32)
        self.assertNotIn(new.hex(), repr(action))
        self.assertEqual(app.unlock(UnlockSecret.keystore(new)).change(), KeystoreChange.KEEP)

        # Passphrase only: delete the item; the keystore opens nothing now.
        self.assertFalse(app.requires_passphrase())
        with self.assertRaises(SafeSpacesError.WrongSecret):
            app.set_require_passphrase("not it", True)
        action = app.set_require_passphrase("pass", True)
        self.assertEqual(action.change(), KeystoreChange.DELETE)
        self.assertIsNone(action.new_secret())
        self.assertTrue(app.requires_passphrase())
        with self.assertRaises(SafeSpacesError.WrongSecret):
            app.unlock(UnlockSecret.keystore(new))
        self.assertEqual(app.unlock(UnlockSecret.passphrase("pass")).change(), KeystoreChange.DELETE)
        with self.assertRaises(SafeSpacesError.InvalidInput):
            app.set_keystore_secret(generate_keystore_secret(), "pass")

        # Duress and wipe: delete the item.
        self.assertEqual(app.set_duress_passphrase("duress").change(), KeystoreChange.KEEP)
        self.assertEqual(app.unlock(UnlockSecret.passphrase("duress")).change(), KeystoreChange.DELETE)
        self.assertEqual(app.wipe().change(), KeystoreChange.DELETE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
