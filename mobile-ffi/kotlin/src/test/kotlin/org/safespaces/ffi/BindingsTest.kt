package org.safespaces.ffi

import java.nio.file.Path
import java.time.Duration
import java.time.Instant
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/**
 * The generated Kotlin bindings over the real library, loaded by JNA.
 *
 * Proves the mapping as an Android app sees it (companion constructors,
 * data classes with defaults, sealed classes, unsigned numbers, ByteArray,
 * nullable arguments, typed exceptions, AutoCloseable handles) through two
 * devices meeting by files: an invite's package, the join request, the
 * welcome and bundles; and invites followed and withdrawn. Core's own rules
 * are tested in core.
 */
class BindingsTest {
    companion object {
        const val NOW = 1_767_000_000L // seconds since the Unix epoch
        const val DAY = 86_400L

        /** The instant [seconds] after the epoch: times cross as [Instant]s. */
        fun at(seconds: Long): Instant = Instant.ofEpochSecond(seconds)

        /** Test-only scrypt cost: production unlocks take about a second each. */
        val FAST = ProfileOptions(PassphraseWork.InsecureTestOnly(logN = 4u))
        val AGE_HEADER = "age-encryption.org/v1\n".toByteArray()
    }

    @TempDir lateinit var tmp: Path

    private fun dir(name: String): String = tmp.resolve(name).toString()

    private fun ByteArray.startsWith(prefix: ByteArray) =
        size >= prefix.size && prefix.indices.all { this[it] == prefix[it] }

    @Test
    fun `a weekly series keeps London time across the clock change`() {
        val ash = SafeSpaces.create(dir("series"), UnlockSecret.passphrase("ash pass"), FAST)
        assertThrows<SafeSpacesException.InvalidInput> {
            ash.createSpace("Circle", "Ash", "Mars/Base", at(NOW))
        }
        val space = ash.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        assertEquals(TimeZoneInfo("Europe/London", true), space.timeZone())
        val plan = space.createSeries(
            SessionDraft(
                kind = SessionKind.SURVIVOR_DISCUSSION_GROUP,
                title = "Tuesday circle",
                startsAt = space.parseLocalTime("2030-03-05 18:00"),
                durationMinutes = 90u,
                capacity = 8u,
            ),
            SeriesRule(everyWeeks = 1u, count = null, until = "2030-05-07"),
            at(NOW),
        )
        assertEquals(10, plan.sessionIds.size)
        val sessions = space.upcomingSessions(at(NOW))
        assertEquals(plan.sessionIds, sessions.map { it.id })
        assertEquals("Tue 26 Mar 2030 18:00 GMT", space.showTime(sessions[3].startsAt))
        assertEquals("Tue 2 Apr 2030 18:00 BST", space.showTime(sessions[4].startsAt))
        assertEquals(plan.sessionIds.drop(8), space.cancelSeriesFrom(plan.sessionIds[8]))
        assertEquals(
            MyPlace.Blocked(SignUpState.ATTENDING, BlockedReason.CANCELLED),
            space.signUp(plan.sessionIds[1], SignUpState.ATTENDING, at(NOW)).let {
                space.cancelSession(plan.sessionIds[1])
                space.myPlace(plan.sessionIds[1], at(NOW))
            },
        )
        space.close()
        ash.close()
    }

    @Test
    fun `two devices join, sign up and converge through bundles`() {
        val ash = SafeSpaces.create(dir("ash"), UnlockSecret.passphrase("ash pass"), FAST)
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
                contentNotes = listOf("discussion of assault"),
            ), at(NOW)
        )
        // Planned with nobody to lead it: flagged at once.
        assertEquals(
            listOf(session to true),
            ashSpace.clearanceWarnings(at(NOW)).map { it.session to it.noClearedLead },
        )
        ashSpace.volunteerToLead(session, at(NOW))
        // The creator coordinates: her own offer is accepted at once.
        assertEquals(listOf(LeadState.ACCEPTED), ashSpace.sessionLeads(session, at(NOW)).map { it.state })
        ashSpace.withdrawLead(session, me)
        assertEquals(emptyList<LeadStatus>(), ashSpace.sessionLeads(session, at(NOW)))
        ashSpace.nameLead(session, me, at(NOW))
        assertEquals(listOf(LeadState.ACCEPTED), ashSpace.sessionLeads(session, at(NOW)).map { it.state })
        assertTrue(ashSpace.clearance(me, at(NOW)).cleared)
        assertEquals(emptyList<ClearanceWarning>(), ashSpace.clearanceWarnings(at(NOW)))
        assertEquals(
            listOf("Ash"),
            ashSpace.expiringClearances(at(NOW), 400u).map { it.pseudonym },
        )

        // Birch's device unlocks with a keystore secret.
        val birchDir = dir("birch")
        val birch = SafeSpaces.create(birchDir, UnlockSecret.keystore(generateKeystoreSecret()), FAST)
        assertTrue(profileExists(birchDir))

        val invitation = ashSpace.invite(Role.MEMBER, at(NOW)) // expiresAt left out
        assertEquals(at(NOW + 7 * DAY), invitation.expiresAt)
        assertTrue(invitation.code.startsWith("ss2-"), invitation.code)
        assertEquals(
            listOf(invitation.inviteId to InviteState.OPEN),
            ashSpace.invites(at(NOW)).map { it.inviteId to it.state },
        )

        // Birch asks with the package; the space is not on Birch's device
        // until Ash's device admits the request.
        val asked = birch.requestJoin(invitation.code, invitation.sealedPackage, "Birch", at(NOW))
        assertEquals("Tuesday circle" to Role.MEMBER, asked.spaceName to asked.role)
        assertEquals(
            listOf(PendingJoin(ashSpace.id(), "Tuesday circle", Role.MEMBER, at(NOW + 7 * DAY))),
            birch.pendingJoins(),
        )
        assertEquals(emptyList<SpaceSummary>(), birch.spaces())
        val early = ashSpace.exportBundle()
        // The package holds no key: the space's bundle opens for nobody yet.
        assertThrows<SafeSpacesException.RefusedInput> { birch.importBundle(early, at(NOW)) }

        val welcome = ashSpace.admit(asked.request, at(NOW))
        // A bundle from before the admission does not show it.
        assertThrows<SafeSpacesException.InviteUnusable> { birch.join(welcome, early, at(NOW)) }
        val birchSpace = birch.join(welcome, ashSpace.exportBundle(), at(NOW))
        assertEquals(ashSpace.id(), birchSpace.id())
        assertEquals(listOf("Tuesday circle"), birch.spaces().map { it.name })
        assertEquals(emptyList<PendingJoin>(), birch.pendingJoins())
        val used = ashSpace.invites(at(NOW)).single()
        assertEquals(InviteState.USED, used.state)
        assertEquals(birchSpace.myMemberId(), used.usedBy)
        assertEquals(me, used.createdBy)

        // Birch is not a lead: the sign-up waits until a lead records it.
        assertEquals(
            MyPlace.Requested(SignUpState.ATTENDING),
            birchSpace.signUp(session, SignUpState.ATTENDING, at(NOW)),
        )
        val report = ash.importBundle(birchSpace.exportBundle(), at(NOW))
        assertEquals(1uL, report.requestsRecorded)
        assertEquals(
            listOf(Triple("Birch", Place.Attending, true)),
            ashSpace.attendees(session).map { Triple(it.pseudonym, it.place, it.verified) },
        )
        val roles = ashSpace.members().associate { it.pseudonym to it.role }
        assertEquals(mapOf("Ash" to Role.COORDINATOR, "Birch" to Role.MEMBER), roles)

        birch.importBundle(ashSpace.exportBundle(), at(NOW))
        assertEquals(MyPlace.Recorded(Place.Attending), birchSpace.myPlace(session, at(NOW)))
        assertEquals(RosterView(attending = 1u, waitlisted = 0u, capacity = 8u), birchSpace.roster(session))
        assertEquals(emptyList<Attendee>(), birchSpace.attendees(session))
        assertEquals(listOf(me), birchSpace.session(session).leads)

        // A member may not plan sessions: the refusal arrives typed.
        assertThrows<SafeSpacesException.NotAllowed> {
            birchSpace.createSession(
                SessionDraft(SessionKind.OTHER, "x", at(NOW), 60u, 1u), at(NOW)
            )
        }

        // Edits with defaults, and the signposting directory.
        ashSpace.editSession(session, SessionEdit(capacity = 10u))
        assertEquals(10u, ashSpace.session(session).capacity)
        ashSpace.addResource(Resource(ResourceCategory.CRISIS_LINE, "Rape Crisis", "0808 500 2222"))
        assertEquals(listOf("Rape Crisis"), ashSpace.resources(ResourceCategory.CRISIS_LINE).map { it.resource.name })
        assertEquals(emptyList<FieldConflict>(), ashSpace.sessionConflicts(session))

        listOf(birchSpace, birch, ashSpace, ash).forEach { it.close() }
    }

    @Test
    fun `a revoked invite admits nobody`() {
        val ash = SafeSpaces.create(dir("revoke-ash"), UnlockSecret.passphrase("ash"), FAST)
        val space = ash.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        val fresh = space.invite(Role.LEAD, at(NOW), at(NOW + DAY))
        space.revokeInvite(fresh.inviteId, at(NOW))
        val status = space.invites(at(NOW)).single()
        assertEquals(fresh.inviteId, status.inviteId)
        assertEquals(InviteState.REVOKED, status.state)
        assertEquals(Role.LEAD, status.role)
        assertNull(status.usedBy)
        assertFalse(status.claimed)

        // Whoever holds the withdrawn code can still ask, but is not admitted.
        val carey = SafeSpaces.create(dir("revoke-carey"), UnlockSecret.passphrase("carey"), FAST)
        val asked = carey.requestJoin(fresh.code, fresh.sealedPackage, "Carey", at(NOW))
        assertThrows<SafeSpacesException.InviteUnusable> { space.admit(asked.request, at(NOW)) }
        assertEquals(emptyList<SpaceSummary>(), carey.spaces())
        listOf(space, ash, carey).forEach { it.close() }
    }

    @Test
    fun `times are refused before 1970 and round-trip to the second`() {
        val app = SafeSpaces.create(dir("times"), UnlockSecret.passphrase("pass"), FAST)
        // Before the epoch: the typed refusal, not a crash, and nothing made.
        val before = assertThrows<SafeSpacesException.InvalidInput> {
            app.createSpace("Circle", "Ash", "Europe/London", Instant.parse("1969-12-31T23:59:59Z"))
        }
        assertTrue(before.reason.contains("1970"), before.reason)
        assertEquals(emptyList<SpaceSummary>(), app.spaces())
        val space = app.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        assertThrows<SafeSpacesException.InvalidInput> {
            space.createSession(SessionDraft(SessionKind.OTHER, "Walk", at(-DAY), 60u, 4u), at(NOW))
        }
        // The start comes back as given, to the second (core keeps no finer time).
        val starts = at(NOW + DAY)
        val id = space.createSession(SessionDraft(SessionKind.OTHER, "Walk", starts.plusMillis(750), 60u, 4u), at(NOW))
        val session = space.session(id)
        assertEquals(starts, session.startsAt)
        assertEquals(starts.plus(Duration.ofMinutes(60)), session.endsAt)
        listOf(space, app).forEach { it.close() }
    }

    @Test
    fun `journal add, edit, delete and export`() {
        SafeSpaces.create(dir("j"), UnlockSecret.passphrase("pass"), FAST).use { app ->
            val journal = app.journal()
            val first = journal.add("a hard day", 2u, listOf("sleep"), at(NOW))
            val second = journal.add("a better one", null, emptyList(), at(NOW + 60))
            assertEquals(listOf(second, first), journal.entries().map { it.id })
            assertEquals(listOf(first), journal.withTag("sleep").map { it.id })
            assertEquals(2.toUByte(), journal.entries().last().mood)

            journal.edit(first, JournalEdit(clearMood = true), at(NOW + 120))
            assertNull(journal.entries().first { it.id == first }.mood)

            journal.delete(second)
            assertEquals(listOf(first), journal.entries().map { it.id })
            assertThrows<SafeSpacesException.NotFound> { journal.delete(second) }

            assertTrue(journal.export(JournalFormat.JSON, "export pass").startsWith(AGE_HEADER))
        }
    }

    @Test
    fun `a space left shows as left, is forgotten, and a new keystore secret needs the passphrase`() {
        val ash = SafeSpaces.create(dir("la"), UnlockSecret.passphrase("ash"), FAST)
        val birch = SafeSpaces.create(dir("lb"), UnlockSecret.passphrase("birch"), FAST)
        val space = ash.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        val invitation = space.invite(Role.MEMBER, at(NOW))
        val asked = birch.requestJoin(invitation.code, invitation.sealedPackage, "Birch", at(NOW))
        val birchSpace = birch.join(space.admit(asked.request, at(NOW)), space.exportBundle(), at(NOW))
        birchSpace.leave(at(NOW))
        val listed = birch.spaces().single()
        assertEquals(space.id(), listed.id)
        assertTrue(listed.left)
        assertFalse(ash.spaces().single().left)
        assertThrows<SafeSpacesException.NotAllowed> { ash.forgetSpace(space.id()) }
        birch.forgetSpace(space.id())
        assertEquals(emptyList<SpaceSummary>(), birch.spaces())

        val secret = generateKeystoreSecret()
        assertThrows<SafeSpacesException.WrongSecret> { birch.setKeystoreSecret(secret, null) }
        assertEquals(KeystoreChange.KEEP, birch.setKeystoreSecret(secret, "birch").change())
        assertEquals(KeystoreChange.KEEP, birch.unlock(UnlockSecret.keystore(secret)).change())
        ash.close()
        birch.close()
    }

    @Test
    fun `devices are listed, named, and this one cannot be removed`() {
        SafeSpaces.create(dir("d"), UnlockSecret.passphrase("pass"), FAST).use { app ->
            val me = app.devices().single()
            assertEquals(app.deviceId(), me.id)
            assertTrue(me.thisDevice)
            assertTrue(Regex("^[0-9a-f]{4}( [0-9a-f]{4}){3}$").matches(me.fingerprint))
            assertNull(me.lastSeen)
            assertNull(me.removedAt)
            app.nameDevice(me.id, "my phone")
            assertEquals("my phone", app.devices().single().name)
            assertThrows<SafeSpacesException.InvalidInput> { app.removeDevice(me.id, at(NOW)) }
        }
    }

    @Test
    fun `locked and wrong secret arrive as their exceptions`() {
        val app = SafeSpaces.create(dir("l"), UnlockSecret.passphrase("right"), FAST)
        val space = app.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        app.lock()
        assertTrue(app.isLocked())
        assertThrows<SafeSpacesException.Locked> { space.name() }
        val wrong = assertThrows<SafeSpacesException.WrongSecret> {
            app.unlock(UnlockSecret.passphrase("wrong"))
        }
        assertTrue(wrong is SafeSpacesException)
        app.unlock(UnlockSecret.passphrase("right"))
        assertEquals("Circle", space.name())

        val short = assertThrows<SafeSpacesException.InvalidInput> { UnlockSecret.keystore(ByteArray(3)) }
        assertTrue(short.reason.contains("32 bytes"))
        assertThrows<SafeSpacesException.NoProfile> { SafeSpaces.open(dir("nothing"), FAST) }
    }

    @Test
    fun `backup restores elsewhere and duress opens an empty profile`() {
        val app = SafeSpaces.create(dir("b"), UnlockSecret.passphrase("pass"), FAST)
        app.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        val backup = app.exportBackup("backup pass")
        assertTrue(backup.startsWith(AGE_HEADER))

        val secret = generateKeystoreSecret()
        val restored = SafeSpaces.restoreBackup(backup, "backup pass", dir("r"), UnlockSecret.keystore(secret), FAST)
        assertFalse(restored.isLocked())
        assertEquals(listOf("Circle"), restored.spaces().map { it.name })
        assertEquals(app.deviceId(), restored.deviceId())

        // The restored profile unlocks with the keystore: a rotation hands
        // the app a new secret for its keychain item.
        val rotated = restored.setPassphrase("restored")
        assertEquals(KeystoreChange.REPLACE, rotated.change())
        val newSecret = rotated.newSecret()!!
        assertEquals(32, newSecret.size)
        assertEquals(KeystoreChange.KEEP, restored.unlock(UnlockSecret.keystore(newSecret)).change())
        assertThrows<SafeSpacesException.WrongSecret> {
            restored.unlock(UnlockSecret.keystore(secret))
        }
        // A failed unlock leaves it locked; the passphrase opens it.
        assertEquals(KeystoreChange.KEEP, restored.unlock(UnlockSecret.passphrase("restored")).change())

        // Passphrase only: the app deletes its item.
        assertFalse(restored.requiresPassphrase())
        val passphraseOnly = restored.setRequirePassphrase("restored", true)
        assertEquals(KeystoreChange.DELETE, passphraseOnly.change())
        assertNull(passphraseOnly.newSecret())
        assertTrue(restored.requiresPassphrase())

        assertEquals(KeystoreChange.KEEP, restored.setDuressPassphrase("duress").change())
        restored.setAttemptLimit(5u)
        restored.lock()
        assertEquals(KeystoreChange.DELETE, restored.unlock(UnlockSecret.passphrase("duress")).change())
        assertEquals(emptyList<SpaceSummary>(), restored.spaces())

        assertEquals(KeystoreChange.DELETE, app.wipe().change())
        assertFalse(profileExists(dir("b")))
    }
}
