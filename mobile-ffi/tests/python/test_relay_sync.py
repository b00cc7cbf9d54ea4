"""The async sync calls and listeners through the generated Python bindings,
against the real relay binary.

Proves async methods (awaited under asyncio.run), the relay join (asked
with join_via_relay, admitted by the inviter's sync, completed by the
joiner's sync), linking a device (begun, confirmed only with the new
device's fingerprint, or declined), foreign-trait listeners
(a space listener, a sync-status listener and a sync-progress listener
called from Rust threads), the
foreign logger (records arrive, carry no content, stop with their handle),
and relay errors crossing the boundary as their exceptions. Core's sync
rules are tested in core.

The relay binary is $SAFESPACES_RELAY_BIN, or target/debug/safespaces-relay
(test-bindings.sh builds it if it is missing).
"""

import asyncio
import os
import subprocess
import tempfile
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone

from safespaces_ffi import (
    AccessToken,
    InviteState,
    Logger,
    LogLevel,
    LogRecord,
    MyPlace,
    PassphraseWork,
    Place,
    ProfileOptions,
    RelayClient,
    RelaySettings,
    RelayTrust,
    Role,
    SafeSpaces,
    SafeSpacesError,
    SequenceStatus,
    SessionDraft,
    SessionKind,
    SignUpState,
    SpaceListener,
    SyncProgress,
    SyncProgressListener,
    SyncStatus,
    SyncStatusListener,
    TrainingModule,
    UnlockSecret,
    install_logger,
)

NOW = 1_767_000_000  # seconds since the Unix epoch
DAY = 86_400
FAST = ProfileOptions(passphrase_work=PassphraseWork.INSECURE_TEST_ONLY(log_n=4))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def at(seconds):
    """The instant `seconds` after the epoch: times cross as aware datetimes."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def relay_bin():
    return os.environ.get("SAFESPACES_RELAY_BIN") or os.path.join(
        ROOT, "target", "debug", "safespaces-relay"
    )


class Relay:
    """The real relay on a free local port, with a throwaway data dir."""

    def __init__(self, extra=()):
        self.dir = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen(
            [relay_bin(), "--dev", "--data-dir", self.dir.name, "--listen", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.addr = self.pin = None
        while self.addr is None or self.pin is None:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the relay exited before announcing its address and pin")
            if "listening on " in line:
                self.addr = line.split("listening on ", 1)[1].strip()
            elif "pin: " in line:
                self.pin = line.split("pin: ", 1)[1].strip()
        self.url = "https://" + self.addr

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        self.dir.cleanup()


class Changes(SpaceListener):
    def __init__(self):
        self.spaces = []
        self.event = threading.Event()
        self.journal = threading.Event()

    def space_changed(self, space_id):
        self.spaces.append(space_id)
        self.event.set()

    def journal_changed(self):
        self.journal.set()


class Statuses(SyncStatusListener):
    def __init__(self):
        self.seen = []

    def status_changed(self, status):
        self.seen.append(status)


class Records(Logger):
    """Keeps every record; called from the library's logging thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []

    def log(self, record):
        with self.lock:
            self.records.append(record)

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def wait_for(self, message, since=0, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(r.message == message for r in self.snapshot()[since:]):
                return True
            time.sleep(0.05)
        return False


class Progresses(SyncProgressListener):
    """Keeps every progress report; called on the thread running the sync."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []

    def on_progress(self, progress):
        with self.lock:
            self.seen.append(progress)

    def snapshot(self):
        with self.lock:
            return list(self.seen)


class ThrowingProgress(SyncProgressListener):
    def __init__(self):
        self.calls = 0

    def on_progress(self, progress):
        self.calls += 1
        raise RuntimeError("a broken progress bar")


class Throwing(Logger):
    def __init__(self):
        self.calls = 0

    def log(self, record):
        self.calls += 1
        raise RuntimeError("a broken logger")


class RelaySyncTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay()

    @classmethod
    def tearDownClass(cls):
        cls.relay.stop()

    def setUp(self):
        self._dirs = []

    def tearDown(self):
        for d in self._dirs:
            d.cleanup()

    def new_dir(self):
        d = tempfile.TemporaryDirectory()
        self._dirs.append(d)
        return d.name + "/profile"

    def client(self):
        return RelayClient.pinned(self.relay.url, self.relay.pin)

    def test_invite_join_sign_up_sync_and_a_listener_through_the_relay(self):
        client = self.client()
        self.assertIsInstance(client.status(), SyncStatus)
        statuses = Statuses()
        watching = client.watch_status(statuses)

        ash = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("ash"), FAST)
        ash_space = ash.create_space("Tuesday circle", "Ash", "Europe/London", at(NOW))
        me = ash_space.my_member_id()
        for module in (TrainingModule.SIGNPOSTING, TrainingModule.TRAUMA_INFORMED):
            ash_space.record_training(me, module, at(NOW - DAY), at(NOW + 365 * DAY))
        session = ash_space.create_session(
            SessionDraft(
                kind=SessionKind.SURVIVOR_DISCUSSION_GROUP,
                title="Evening circle",
                starts_at=at(NOW + 2 * DAY),
                duration_minutes=90,
                capacity=8,
            ), at(NOW)
        )
        ash_space.volunteer_to_lead(session, at(NOW))
        invitation = ash_space.invite(Role.MEMBER, at(NOW))

        birch = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("birch"), FAST)

        async def invite_and_ask():
            await ash.sync(client, at(NOW))
            await ash_space.publish_invite(client, invitation, at(NOW))
            return await birch.join_via_relay(client, invitation.code, "Birch", at(NOW))

        # Asking only claims the package and leaves a request: the space is
        # not on Birch's device yet, and syncing alone does not bring it.
        pending = asyncio.run(invite_and_ask())
        self.assertEqual(
            (pending.space, pending.space_name, pending.role, pending.expires_at),
            (ash_space.id(), "Tuesday circle", Role.MEMBER, at(NOW + 7 * DAY)),
        )
        self.assertEqual(birch.pending_joins(), [pending])
        self.assertEqual(birch.spaces(), [])
        self.assertEqual(asyncio.run(birch.sync(client, at(NOW))).joined, [])
        with self.assertRaises(SafeSpacesError.NotFound):
            birch.space(ash_space.id())

        # Ash's device admits the request in its sync; Birch's next sync
        # takes the welcome and the space.
        report = asyncio.run(ash.sync(client, at(NOW)))
        self.assertEqual(report.admitted, 1)
        # Nothing failed: no space listed, the journal fine, no envelope
        # missing or its number reused.
        self.assertEqual((report.failed, report.journal_failed), ([], None))
        self.assertEqual(report.sequence_alerts, [])
        self.assertEqual(
            ash_space.sequence_status(),
            SequenceStatus(missing=0, missing_noticed=0, reused=0),
        )
        [used] = ash_space.invites(at(NOW))
        self.assertEqual((used.invite_id, used.state), (invitation.invite_id, InviteState.USED))
        report = asyncio.run(birch.sync(client, at(NOW)))
        self.assertEqual(report.joined, [ash_space.id()])
        self.assertEqual(birch.pending_joins(), [])
        birch_space = birch.space(report.joined[0])
        self.assertEqual(birch_space.name(), "Tuesday circle")
        self.assertEqual(used.used_by, birch_space.my_member_id())
        self.assertEqual(asyncio.run(ash.sync(client, at(NOW))).admitted, 0)

        # Ash's device goes live; Birch's sign-up request reaches it through
        # the relay and the listener is told which space changed.
        changes = Changes()
        live = ash.live(client, changes)
        requested = birch_space.sign_up(session, SignUpState.ATTENDING, at(NOW))
        self.assertEqual(requested, MyPlace.REQUESTED(state=SignUpState.ATTENDING))
        report = asyncio.run(birch.sync(client, at(NOW)))
        self.assertGreater(report.pushed, 0)
        self.assertTrue(changes.event.wait(20), "the space listener was not called")
        self.assertIn(ash_space.id(), changes.spaces)
        del live  # stops live updates

        # Ash's device recorded the sign-up as the lead; Birch sees it recorded.
        for _ in range(40):
            if ash_space.attendees(session):
                break
            asyncio.run(ash.sync(client, at(NOW)))
        self.assertEqual(
            [(a.pseudonym, a.place) for a in ash_space.attendees(session)],
            [("Birch", Place.ATTENDING())],
        )
        asyncio.run(ash.sync(client, at(NOW)))
        asyncio.run(birch.sync(client, at(NOW)))
        self.assertEqual(birch_space.my_place(session, at(NOW)), MyPlace.RECORDED(place=Place.ATTENDING()))

        self.assertTrue(statuses.seen, "the status listener was not called")
        del watching

        # A claimed invite: the relay refuses, with its stable code.
        carey = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("carey"), FAST)
        with self.assertRaises(SafeSpacesError.RelayRefused) as used:
            asyncio.run(carey.join_via_relay(client, invitation.code, "Carey", at(NOW)))
        self.assertEqual(used.exception.code, "dropbox_not_found")

    def test_a_claimed_but_unused_invite_shows_and_can_be_revoked(self):
        client = self.client()
        ash = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("ash"), FAST)
        ash_space = ash.create_space("Circle", "Ash", "Europe/London", at(NOW))
        invitation = ash_space.invite(Role.MEMBER, at(NOW))
        asyncio.run(ash.sync(client, at(NOW)))
        asyncio.run(ash_space.publish_invite(client, invitation, at(NOW)))

        # Someone with the code takes the package and asks nothing (here: a
        # device whose clock is past the expiry, so it refuses the package
        # it claimed and leaves no request).
        eve = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("eve"), FAST)
        with self.assertRaises(SafeSpacesError.InviteUnusable):
            asyncio.run(eve.join_via_relay(client, invitation.code, "Eve", invitation.expires_at + timedelta(seconds=1)))
        self.assertEqual(eve.pending_joins(), [])

        # Ash's sync notices the package is gone with nobody admitted.
        [before] = ash_space.invites(at(NOW))
        self.assertEqual((before.state, before.claimed), (InviteState.OPEN, False))
        report = asyncio.run(ash.sync(client, at(NOW)))
        self.assertEqual(report.admitted, 0)
        [claimed] = ash_space.invites(at(NOW))
        self.assertEqual((claimed.state, claimed.claimed), (InviteState.OPEN, True))

        # Withdrawn, it admits nobody and is no longer shown as claimed.
        ash_space.revoke_invite(invitation.invite_id, at(NOW))
        [revoked] = ash_space.invites(at(NOW))
        self.assertEqual((revoked.state, revoked.claimed, revoked.used_by), (InviteState.REVOKED, False, None))
        self.assertEqual(asyncio.run(ash.sync(client, at(NOW))).admitted, 0)

    def test_a_link_is_confirmed_by_the_new_devices_fingerprint(self):
        client = self.client()
        phone = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("phone"), FAST)
        laptop = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("laptop"), FAST)
        space = phone.create_space("Group", "Robin", "Europe/London", at(NOW))

        async def link():
            await phone.sync(client, at(NOW))
            offer = await laptop.offer_link(client)
            pending = await phone.begin_link(client, offer.code())
            self.assertEqual(pending.fingerprint(), offer.fingerprint())
            # Another fingerprint: refused, nothing sent, still pending.
            with self.assertRaises(SafeSpacesError.NotAllowed):
                await phone.confirm_link(client, pending, "0000 0000 0000 0000", at(NOW))
            typed = offer.fingerprint().replace(" ", "").upper()
            linked, confirmed = await asyncio.gather(
                laptop.complete_link(client, offer, 20, at(NOW)),
                phone.confirm_link(client, pending, typed, at(NOW)),
            )
            self.assertEqual((linked, confirmed), (1, 1))
            # Answered: neither a second confirmation nor a decline.
            with self.assertRaises(SafeSpacesError.NotAllowed):
                phone.decline_link(pending)
            # The request was claimed: the code has nothing left.
            with self.assertRaises(SafeSpacesError.InviteUnusable):
                await phone.begin_link(client, offer.code())

        asyncio.run(link())
        self.assertEqual(laptop.space(space.id()).my_member_id(), space.my_member_id())

        async def declined():
            tablet = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("tablet"), FAST)
            offer = await tablet.offer_link(client)
            pending = await phone.begin_link(client, offer.code())
            phone.decline_link(pending)
            with self.assertRaises(SafeSpacesError.InviteUnusable):
                await tablet.complete_link(client, offer, 1, at(NOW))

        asyncio.run(declined())
        self.assertEqual(len(phone.devices()), 2)

        # The laptop is lost: removed from the space (one), listed as removed.
        self.assertEqual(phone.remove_device(laptop.device_id(), at(NOW + 60)), 1)
        [gone] = [d for d in phone.devices() if d.id == laptop.device_id()]
        self.assertEqual(gone.removed_at, at(NOW + 60))
        asyncio.run(phone.sync(client, at(NOW + 60)))

    def test_a_journal_entry_reaches_the_persons_other_device_live(self):
        client = self.client()
        phone = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("phone"), FAST)
        laptop = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("laptop"), FAST)
        phone.create_space("Group", "Robin", "Europe/London", at(NOW))

        async def link_and_settle():
            await phone.sync(client, at(NOW))
            offer = await laptop.offer_link(client)
            pending = await phone.begin_link(client, offer.code())
            await asyncio.gather(
                laptop.complete_link(client, offer, 20, at(NOW)),
                phone.confirm_link(client, pending, offer.fingerprint(), at(NOW)),
            )
            phone.journal().set_sync(True)
            laptop.journal().set_sync(True)
            for _ in range(2):
                await phone.sync(client, at(NOW))
                await laptop.sync(client, at(NOW))

        asyncio.run(link_and_settle())
        # Both are live; neither calls sync again.
        phone_live = phone.live(client, Changes())
        changes = Changes()
        laptop_live = laptop.live(client, changes)
        phone.journal().add("a thought from the phone", None, [], at(NOW))
        self.assertTrue(changes.journal.wait(20), "journal_changed was not called")
        for _ in range(100):
            if any(e.text == "a thought from the phone" for e in laptop.journal().entries()):
                break
            time.sleep(0.1)
        self.assertIn(
            "a thought from the phone", [e.text for e in laptop.journal().entries()]
        )
        del phone_live, laptop_live

    def test_a_logger_gets_records_without_content_until_its_handle_is_dropped(self):
        client = self.client()
        app = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("p"), FAST)

        # A logger that throws loses its records and breaks nothing.
        throwing = Throwing()
        broken = install_logger(throwing, LogLevel.DEBUG)
        space = app.create_space("CANARY space name", "CANARY pseudonym", "Europe/London", at(NOW))
        space.create_session(
            SessionDraft(
                kind=SessionKind.WELLBEING_EVENT,
                title="CANARY session title",
                starts_at=at(NOW + DAY),
                duration_minutes=60,
                capacity=4,
            ), at(NOW)
        )
        app.journal().add("CANARY journal text", None, ["CANARY-tag"], at(NOW))
        app.journal().set_sync(True)
        asyncio.run(app.sync(client, at(NOW)))
        self.assertGreater(throwing.calls, 0)

        # Installing again replaces the logger; only our crates' records, at
        # the level asked for, none with content, ids, the address or pin.
        records = Records()
        handle = install_logger(records, LogLevel.DEBUG)
        del broken  # the replaced logger's handle stops nothing now
        app.journal().add("CANARY more journal text", 3, [], at(NOW))
        asyncio.run(app.sync(client, at(NOW)))
        self.assertTrue(records.wait_for("sync finished"), records.snapshot())
        seen = records.snapshot()
        self.assertTrue(all(isinstance(r, LogRecord) for r in seen))
        self.assertTrue(all(r.target.startswith("safespaces") for r in seen), seen)
        self.assertIn(LogLevel.DEBUG, {r.level for r in seen})
        passes = [r for r in seen if r.message == "space sync pass"]
        self.assertTrue(passes and "pushed=" in passes[0].fields, seen)
        text = "\n".join(f"{r.target} {r.message} {r.fields}" for r in seen)
        for never in ("CANARY", space.id(), app.device_id(), self.relay.addr, self.relay.pin):
            self.assertNotIn(never, text)

        # At INFO, no DEBUG records.
        handle = install_logger(records, LogLevel.INFO)
        before = len(records.snapshot())
        asyncio.run(app.sync(client, at(NOW)))
        self.assertTrue(records.wait_for("sync finished", since=before))
        later = records.snapshot()[before:]
        self.assertTrue(later)
        self.assertNotIn(LogLevel.DEBUG, {r.level for r in later})

        # Dropping the handle stops delivery.
        del handle
        stopped_at = len(records.snapshot())
        asyncio.run(app.sync(client, at(NOW)))
        time.sleep(0.3)
        self.assertEqual(len(records.snapshot()), stopped_at)

    def test_progress_reaches_the_total_until_its_handle_is_dropped(self):
        client = self.client()
        ash = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("ash"), FAST)
        ash_space = ash.create_space("Circle", "Ash", "Europe/London", at(NOW))
        invitation = ash_space.invite(Role.MEMBER, at(NOW))
        birch = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("birch"), FAST)

        async def join():
            await ash.sync(client, at(NOW))
            await ash_space.publish_invite(client, invitation, at(NOW))
            pending = await birch.join_via_relay(client, invitation.code, "Birch", at(NOW))
            await ash.sync(client, at(NOW))  # admits
            self.assertEqual((await birch.sync(client, at(NOW))).joined, [pending.space])
            return pending.space

        space_id = asyncio.run(join())

        def ash_writes(sessions):
            # One sync seals one change batch, so each round is one blob.
            for i in range(sessions):
                ash_space.create_session(
                    SessionDraft(
                        kind=SessionKind.WELLBEING_EVENT,
                        title=f"Walk {i}",
                        starts_at=at(NOW + DAY),
                        duration_minutes=60,
                        capacity=4,
                    ), at(NOW)
                )
                asyncio.run(ash.sync(client, at(NOW)))

        # A listener that throws is called and breaks nothing.
        throwing = ThrowingProgress()
        broken = birch.watch_progress(throwing)
        ash_writes(2)
        report = asyncio.run(birch.sync(client, at(NOW)))
        self.assertGreater(report.pulled, 0)
        self.assertGreater(throwing.calls, 0)

        # Watching again replaces the listener.
        progresses = Progresses()
        handle = birch.watch_progress(progresses)
        thrown = throwing.calls
        del broken  # the replaced listener's handle stops nothing now
        ash_writes(3)
        report = asyncio.run(birch.sync(client, at(NOW)))
        seen = [p for p in progresses.snapshot() if p.space_id == space_id]
        self.assertTrue(seen, progresses.snapshot())
        self.assertTrue(all(isinstance(p, SyncProgress) for p in seen))
        self.assertTrue(all(p.received <= p.total for p in seen), seen)
        self.assertGreaterEqual(seen[-1].total, 3)
        self.assertEqual(seen[-1].received, seen[-1].total)
        self.assertEqual(throwing.calls, thrown)

        # Dropping the handle stops delivery.
        del handle
        stopped_at = len(progresses.snapshot())
        ash_writes(1)
        report = asyncio.run(birch.sync(client, at(NOW)))
        self.assertGreater(report.pulled, 0)
        self.assertEqual(len(progresses.snapshot()), stopped_at)

        # So does stop(), without waiting for the handle to be collected.
        later = Progresses()
        stopping = birch.watch_progress(later)
        stopping.stop()
        ash_writes(1)
        asyncio.run(birch.sync(client, at(NOW)))
        self.assertEqual(later.snapshot(), [])

    def test_relay_errors_arrive_as_their_exceptions(self):
        app = SafeSpaces.create(self.new_dir(), UnlockSecret.passphrase("p"), FAST)
        app.create_space("Circle", "Ash", "Europe/London", at(NOW))

        wrong_pin = RelayClient.pinned(self.relay.url, "00" * 32)
        with self.assertRaises(SafeSpacesError.PinMismatch):
            asyncio.run(app.sync(wrong_pin, at(NOW)))

        # Nothing listens on port 1.
        nobody = RelayClient.pinned("https://127.0.0.1:1", self.relay.pin)
        with self.assertRaises(SafeSpacesError.Offline):
            asyncio.run(app.sync(nobody, at(NOW)))

        with self.assertRaises(SafeSpacesError.InvalidInput):
            RelayClient.pinned("http://no-tls", self.relay.pin)


class RelayTrustTest(unittest.TestCase):
    """RelaySettings, RelayTrust and AccessToken reach core's trust
    settings and token: each variant is taken (not only the pin), and the
    token is sent (core's handling of them is tested in core)."""

    TOKEN = "society-token-7c1e"

    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(extra=["--access-token", cls.TOKEN])

    @classmethod
    def tearDownClass(cls):
        cls.relay.stop()

    def settings(self, trust, token=True):
        return RelaySettings(
            url=self.relay.url,
            trust=trust,
            access_token=AccessToken(self.TOKEN) if token else None,
        )

    def test_pins_ca_certificates_web_pki_and_the_access_token(self):
        with tempfile.TemporaryDirectory() as d:
            app = SafeSpaces.create(d + "/p", UnlockSecret.passphrase("p"), FAST)
            app.create_space("Circle", "Ash", "Europe/London", at(NOW))
            right, wrong = self.relay.pin, "00" * 32

            # Without the token the relay refuses to host the space.
            no_token = RelayClient(self.settings(RelayTrust.PINS(pins=[right]), token=False))
            with self.assertRaises(SafeSpacesError.RelayRefused) as refused:
                asyncio.run(app.sync(no_token, at(NOW)))
            self.assertEqual(refused.exception.code, "forbidden")

            # Two pins, the relay's second: accepted, and the token is sent.
            both = RelayClient(self.settings(RelayTrust.PINS(pins=[wrong, right])))
            asyncio.run(app.sync(both, at(NOW)))
            only_wrong = RelayClient(self.settings(RelayTrust.PINS(pins=[wrong])))
            with self.assertRaises(SafeSpacesError.PinMismatch) as mismatch:
                asyncio.run(app.sync(only_wrong, at(NOW)))
            self.assertIn(right, str(mismatch.exception))

            # The development certificate is its own CA.
            with open(os.path.join(self.relay.dir.name, "dev-cert.pem")) as f:
                pem = f.read()
            by_ca = RelayClient(self.settings(RelayTrust.CA_CERTIFICATES(pem=pem)))
            asyncio.run(app.sync(by_ca, at(NOW)))

            # The web PKI does not vouch for a self-signed relay.
            web = RelayClient(self.settings(RelayTrust.WEB_PKI()))
            with self.assertRaises(SafeSpacesError.Offline) as tls:
                asyncio.run(app.sync(web, at(NOW)))
            self.assertIn("TLS", str(tls.exception))

            # Settings core refuses arrive as InvalidInput.
            for bad in (
                self.settings(RelayTrust.PINS(pins=[])),
                self.settings(RelayTrust.CA_CERTIFICATES(pem="no certificate")),
                RelaySettings(
                    url=self.relay.url,
                    trust=RelayTrust.WEB_PKI(),
                    access_token=AccessToken("two words"),
                ),
            ):
                with self.assertRaises(SafeSpacesError.InvalidInput):
                    RelayClient(bad)

            # The token is an object: printing the settings never shows it.
            shown = self.settings(RelayTrust.WEB_PKI())
            self.assertNotIn(self.TOKEN, repr(shown))
            self.assertNotIn(self.TOKEN, str(shown))


if __name__ == "__main__":
    unittest.main()
