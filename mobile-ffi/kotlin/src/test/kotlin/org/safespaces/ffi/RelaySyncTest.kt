package org.safespaces.ffi

import java.nio.file.Path
import java.time.Instant
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/**
 * The async sync calls and listeners through the generated Kotlin bindings,
 * against the real relay binary ($SAFESPACES_RELAY_BIN, or the workspace's
 * target/debug/safespaces-relay).
 *
 * Proves `suspend` calls (inside runBlocking), the relay join (asked with
 * joinViaRelay, admitted by the inviter's sync, completed by the joiner's
 * sync, listed in pendingJoins meanwhile), linking a device (begun,
 * confirmed only with the new device's fingerprint, or declined),
 * foreign-interface listeners
 * called from Rust threads (space, status and sync-progress listeners),
 * handles that stop them when closed, the foreign
 * logger (records arrive without content and stop when its handle is
 * closed), and relay errors arriving as their exceptions. Core's sync rules
 * are tested in core.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RelaySyncTest {
    companion object {
        const val NOW = 1_767_000_000L // seconds since the Unix epoch
        const val DAY = 86_400L

        /** The instant [seconds] after the epoch: times cross as [Instant]s. */
        fun at(seconds: Long): Instant = Instant.ofEpochSecond(seconds)
        val FAST = ProfileOptions(PassphraseWork.InsecureTestOnly(logN = 4u))
    }

    private lateinit var relay: DevRelay
    private val url: String get() = relay.url
    private val pin: String get() = relay.pin

    @TempDir lateinit var tmp: Path

    private fun dir(name: String): String = tmp.resolve(name).toString()

    @BeforeAll
    fun startRelay() {
        relay = DevRelay()
    }

    @AfterAll
    fun stopRelay() = relay.close()

    @Test
    fun `invite, join, sign up and sync through the relay, with listeners`() {
        val client = RelayClient.pinned(url, pin)
        val statuses = CopyOnWriteArrayList<SyncStatus>()
        val watching = client.watchStatus(object : SyncStatusListener {
            override fun statusChanged(status: SyncStatus) {
                statuses.add(status)
            }
        })

        val ash = SafeSpaces.create(dir("ash"), UnlockSecret.passphrase("ash"), FAST)
        val ashSpace = ash.createSpace("Tuesday circle", "Ash", "Europe/London", at(NOW))
        val me = ashSpace.myMemberId()
        for (module in listOf(TrainingModule.SIGNPOSTING, TrainingModule.TRAUMA_INFORMED)) {
            ashSpace.recordTraining(me, module, at(NOW - DAY), at(NOW + 365 * DAY))
        }
        val session = ashSpace.createSession(
            SessionDraft(
                kind = SessionKind.SURVIVOR_DISCUSSION_GROUP,
                title = "Evening circle",
                startsAt = at(NOW + 2 * DAY),
                durationMinutes = 90u,
                capacity = 8u,
            ), at(NOW)
        )
        ashSpace.volunteerToLead(session, at(NOW))
        val invitation = ashSpace.invite(Role.MEMBER, at(NOW))
        val birch = SafeSpaces.create(dir("birch"), UnlockSecret.passphrase("birch"), FAST)

        // Asking claims the package and leaves a request; the space comes
        // only after Ash's device admits it (Ash's sync) and Birch syncs.
        val pending = runBlocking {
            ash.sync(client, at(NOW))
            ashSpace.publishInvite(client, invitation, at(NOW))
            birch.joinViaRelay(client, invitation.code, "Birch", at(NOW))
        }
        assertEquals(PendingJoin(ashSpace.id(), "Tuesday circle", Role.MEMBER, at(NOW + 7 * DAY)), pending)
        assertEquals(listOf(pending), birch.pendingJoins())
        assertEquals(emptyList<String>(), runBlocking { birch.sync(client, at(NOW)) }.joined)
        assertThrows<SafeSpacesException.NotFound> { birch.space(ashSpace.id()) }

        assertEquals(1uL, runBlocking { ash.sync(client, at(NOW)) }.admitted)
        assertEquals(InviteState.USED, ashSpace.invites(at(NOW)).single().state)
        val joined = runBlocking { birch.sync(client, at(NOW)) }.joined
        assertEquals(listOf(ashSpace.id()), joined)
        assertEquals(emptyList<PendingJoin>(), birch.pendingJoins())
        val birchSpace = birch.space(joined.single())
        assertEquals("Tuesday circle", birchSpace.name())
        assertEquals(birchSpace.myMemberId(), ashSpace.invites(at(NOW)).single().usedBy)

        // Ash's device goes live; Birch's sign-up reaches it through the relay.
        val changed = CountDownLatch(1)
        val changedSpaces = CopyOnWriteArrayList<String>()
        val live = ash.live(client, object : SpaceListener {
            override fun spaceChanged(spaceId: String) {
                changedSpaces.add(spaceId)
                changed.countDown()
            }

            override fun journalChanged() {}
        })
        assertEquals(
            MyPlace.Requested(SignUpState.ATTENDING),
            birchSpace.signUp(session, SignUpState.ATTENDING, at(NOW)),
        )
        val report = runBlocking { birch.sync(client, at(NOW)) }
        assertTrue(report.pushed > 0u)
        assertTrue(changed.await(20, TimeUnit.SECONDS), "the space listener was not called")
        assertTrue(ashSpace.id() in changedSpaces)
        live.close()

        repeat(40) {
            if (ashSpace.attendees(session).isEmpty()) runBlocking { ash.sync(client, at(NOW)) }
        }
        assertEquals(
            listOf("Birch" to Place.Attending),
            ashSpace.attendees(session).map { it.pseudonym to it.place },
        )
        runBlocking {
            ash.sync(client, at(NOW))
            birch.sync(client, at(NOW))
        }
        assertEquals(MyPlace.Recorded(Place.Attending), birchSpace.myPlace(session, at(NOW)))

        assertTrue(statuses.isNotEmpty(), "the status listener was not called")
        watching.close()

        // A claimed invite: the relay refuses, with its stable code.
        val carey = SafeSpaces.create(dir("carey"), UnlockSecret.passphrase("carey"), FAST)
        val refused = assertThrows<SafeSpacesException.RelayRefused> {
            runBlocking { carey.joinViaRelay(client, invitation.code, "Carey", at(NOW)) }
        }
        assertEquals("dropbox_not_found", refused.code)
    }

    @Test
    fun `a claimed but unused invite shows and can be revoked`() {
        val client = RelayClient.pinned(url, pin)
        val ash = SafeSpaces.create(dir("ash-claimed"), UnlockSecret.passphrase("ash"), FAST)
        val ashSpace = ash.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        val invitation = ashSpace.invite(Role.MEMBER, at(NOW))
        runBlocking {
            ash.sync(client, at(NOW))
            ashSpace.publishInvite(client, invitation, at(NOW))
        }

        // Someone with the code takes the package and asks nothing (here: a
        // device whose clock is past the expiry, so it refuses the package
        // it claimed and leaves no request).
        val eve = SafeSpaces.create(dir("eve"), UnlockSecret.passphrase("eve"), FAST)
        assertThrows<SafeSpacesException.InviteUnusable> {
            runBlocking { eve.joinViaRelay(client, invitation.code, "Eve", invitation.expiresAt.plusSeconds(1)) }
        }
        assertFalse(ashSpace.invites(at(NOW)).single().claimed)
        assertEquals(0uL, runBlocking { ash.sync(client, at(NOW)) }.admitted)
        val claimed = ashSpace.invites(at(NOW)).single()
        assertEquals(InviteState.OPEN to true, claimed.state to claimed.claimed)

        ashSpace.revokeInvite(invitation.inviteId, at(NOW))
        val revoked = ashSpace.invites(at(NOW)).single()
        assertEquals(InviteState.REVOKED to false, revoked.state to revoked.claimed)
    }

    @Test
    fun `a link is confirmed by the new device's fingerprint`() {
        val client = RelayClient.pinned(url, pin)
        val phone = SafeSpaces.create(dir("phone-link"), UnlockSecret.passphrase("phone"), FAST)
        val laptop = SafeSpaces.create(dir("laptop-link"), UnlockSecret.passphrase("laptop"), FAST)
        val space = phone.createSpace("Group", "Robin", "Europe/London", at(NOW))
        runBlocking { phone.sync(client, at(NOW)) }

        val offer = runBlocking { laptop.offerLink(client) }
        val pending = runBlocking { phone.beginLink(client, offer.code()) }
        assertEquals(offer.fingerprint(), pending.fingerprint())
        // Another fingerprint: refused, nothing sent, the link still waits.
        assertThrows<SafeSpacesException.NotAllowed> {
            runBlocking { phone.confirmLink(client, pending, "0000 0000 0000 0000", at(NOW)) }
        }
        val typed = offer.fingerprint().replace(" ", "").uppercase()
        val (linked, confirmed) = runBlocking {
            val waiting = async { laptop.completeLink(client, offer, 20u, at(NOW)) }
            val confirmed = phone.confirmLink(client, pending, typed, at(NOW))
            waiting.await() to confirmed
        }
        assertEquals(1uL to 1uL, linked to confirmed)
        assertEquals(space.myMemberId(), laptop.space(space.id()).myMemberId())
        // Answered once; the code's request is gone.
        assertThrows<SafeSpacesException.NotAllowed> { phone.declineLink(pending) }
        assertThrows<SafeSpacesException.InviteUnusable> {
            runBlocking { phone.beginLink(client, offer.code()) }
        }

        // Declined: the new device gets nothing and says so.
        val tablet = SafeSpaces.create(dir("tablet-link"), UnlockSecret.passphrase("tablet"), FAST)
        val tabletOffer = runBlocking { tablet.offerLink(client) }
        phone.declineLink(runBlocking { phone.beginLink(client, tabletOffer.code()) })
        assertThrows<SafeSpacesException.InviteUnusable> {
            runBlocking { tablet.completeLink(client, tabletOffer, 1u, at(NOW)) }
        }
        assertEquals(2, phone.devices().size)

        // The laptop is lost: removed from the space (one), listed as removed.
        assertEquals(1u, phone.removeDevice(laptop.deviceId(), at(NOW + 60)))
        assertEquals(at(NOW + 60), phone.devices().single { it.id == laptop.deviceId() }.removedAt)
        runBlocking { phone.sync(client, at(NOW + 60)) }
    }

    /** Keeps every record; called from the library's logging thread. */
    private class Records : Logger {
        val records = CopyOnWriteArrayList<LogRecord>()

        override fun log(record: LogRecord) {
            records.add(record)
        }

        fun awaitMessage(message: String, since: Int = 0): Boolean {
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
            while (System.nanoTime() < deadline) {
                if (records.drop(since).any { it.message == message }) return true
                Thread.sleep(50)
            }
            return false
        }
    }

    @Test
    fun `a logger gets records without content until its handle is closed`() {
        val client = RelayClient.pinned(url, pin)
        val app = SafeSpaces.create(dir("logged"), UnlockSecret.passphrase("p"), FAST)

        // A logger that throws loses its records and breaks nothing.
        var thrown = 0
        val broken = installLogger(object : Logger {
            override fun log(record: LogRecord) {
                thrown++
                throw IllegalStateException("a broken logger")
            }
        }, LogLevel.DEBUG)
        val space = app.createSpace("CANARY space name", "CANARY pseudonym", "Europe/London", at(NOW))
        space.createSession(SessionDraft(SessionKind.OTHER, "CANARY session title", at(NOW + DAY), 60u, 4u), at(NOW))
        app.journal().add("CANARY journal text", null, listOf("CANARY-tag"), at(NOW))
        app.journal().setSync(true)
        runBlocking { app.sync(client, at(NOW)) }
        assertTrue(thrown > 0, "the throwing logger was called")

        // Installing again replaces it: only our crates' records, none with
        // content, ids, the relay's address or its pin.
        val records = Records()
        val handle = installLogger(records, LogLevel.DEBUG)
        broken.close() // replaced already: stops nothing
        app.journal().add("CANARY more journal text", 3u, listOf(), at(NOW))
        runBlocking { app.sync(client, at(NOW)) }
        assertTrue(records.awaitMessage("sync finished"), "no sync record: ${records.records}")
        assertTrue(records.records.all { it.target.startsWith("safespaces") })
        assertTrue(records.records.any { it.level == LogLevel.DEBUG && it.message == "space sync pass" })
        val text = records.records.joinToString("\n") { "${it.target} ${it.message} ${it.fields}" }
        for (never in listOf("CANARY", space.id(), app.deviceId(), url.removePrefix("https://"), pin)) {
            assertTrue(never !in text, "the log carries $never:\n$text")
        }

        // Closing the handle stops delivery.
        handle.close()
        val stoppedAt = records.records.size
        runBlocking { app.sync(client, at(NOW)) }
        Thread.sleep(300)
        assertEquals(stoppedAt, records.records.size)
    }

    @Test
    fun `progress reaches the total until its handle is closed`() {
        val client = RelayClient.pinned(url, pin)
        val ash = SafeSpaces.create(dir("ash-progress"), UnlockSecret.passphrase("ash"), FAST)
        val ashSpace = ash.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        val invitation = ashSpace.invite(Role.MEMBER, at(NOW))
        val birch = SafeSpaces.create(dir("birch-progress"), UnlockSecret.passphrase("birch"), FAST)
        val spaceId = runBlocking {
            ash.sync(client, at(NOW))
            ashSpace.publishInvite(client, invitation, at(NOW))
            val pending = birch.joinViaRelay(client, invitation.code, "Birch", at(NOW))
            ash.sync(client, at(NOW)) // admits
            assertEquals(listOf(pending.space), birch.sync(client, at(NOW)).joined)
            pending.space
        }

        // One sync seals one change batch, so each round is one blob.
        fun ashWrites(sessions: Int) = repeat(sessions) {
            ashSpace.createSession(SessionDraft(SessionKind.WELLBEING_EVENT, "Walk $it", at(NOW + DAY), 60u, 4u), at(NOW))
            runBlocking { ash.sync(client, at(NOW)) }
        }

        // A listener that throws is called and breaks nothing.
        var thrown = 0
        val broken = birch.watchProgress(object : SyncProgressListener {
            override fun onProgress(progress: SyncProgress) {
                thrown++
                throw IllegalStateException("a broken progress bar")
            }
        })
        ashWrites(2)
        assertTrue(runBlocking { birch.sync(client, at(NOW)) }.pulled > 0u)
        assertTrue(thrown > 0, "the throwing listener was called")

        // Watching again replaces it.
        val seen = CopyOnWriteArrayList<SyncProgress>()
        val handle = birch.watchProgress(object : SyncProgressListener {
            override fun onProgress(progress: SyncProgress) {
                seen.add(progress)
            }
        })
        val thrownBefore = thrown
        broken.close() // replaced already: stops nothing
        ashWrites(3)
        runBlocking { birch.sync(client, at(NOW)) }
        val forSpace = seen.filter { it.spaceId == spaceId }
        assertTrue(forSpace.isNotEmpty(), "no progress for the space: $seen")
        assertTrue(forSpace.all { it.received <= it.total }, "received past total: $forSpace")
        assertTrue(forSpace.last().total >= 3u)
        assertEquals(forSpace.last().total, forSpace.last().received)
        assertEquals(thrownBefore, thrown)

        // Closing the handle stops delivery.
        handle.close()
        val stoppedAt = seen.size
        ashWrites(1)
        assertTrue(runBlocking { birch.sync(client, at(NOW)) }.pulled > 0u)
        assertEquals(stoppedAt, seen.size)
    }

    @Test
    fun `relay errors arrive as their exceptions`() {
        val app = SafeSpaces.create(dir("app"), UnlockSecret.passphrase("p"), FAST)
        app.createSpace("Circle", "Ash", "Europe/London", at(NOW))

        val wrongPin = RelayClient.pinned(url, "00".repeat(32))
        assertThrows<SafeSpacesException.PinMismatch> { runBlocking { app.sync(wrongPin, at(NOW)) } }

        val nobody = RelayClient.pinned("https://127.0.0.1:1", pin)
        assertThrows<SafeSpacesException.Offline> { runBlocking { app.sync(nobody, at(NOW)) } }

        assertThrows<SafeSpacesException.InvalidInput> { RelayClient.pinned("http://no-tls", pin) }
    }
}
