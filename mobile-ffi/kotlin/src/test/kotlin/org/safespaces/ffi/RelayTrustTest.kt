package org.safespaces.ffi

import java.nio.file.Path
import java.time.Instant
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
 * RelaySettings, RelayTrust and AccessToken as an Android app uses them,
 * against the real relay binary started with an access token: each trust
 * variant reaches core (two pins, a CA file, the web PKI), the token is
 * sent, and printing the settings never shows the token. Core's trust
 * rules are tested in core.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RelayTrustTest {
    companion object {
        const val NOW = 1_767_000_000L
        const val TOKEN = "society-token-51ad"
        fun at(seconds: Long): Instant = Instant.ofEpochSecond(seconds)
        val FAST = ProfileOptions(PassphraseWork.InsecureTestOnly(logN = 4u))
    }

    private lateinit var relay: DevRelay
    private val relayData: Path get() = relay.dataDir
    private val url: String get() = relay.url
    private val pin: String get() = relay.pin

    @TempDir lateinit var tmp: Path

    @BeforeAll
    fun startRelay() {
        relay = DevRelay("--access-token", TOKEN)
    }

    @AfterAll
    fun stopRelay() = relay.close()

    private fun settings(trust: RelayTrust, token: Boolean = true) =
        RelaySettings(url, trust, if (token) AccessToken(TOKEN) else null)

    @Test
    fun `pins, CA certificates, the web PKI and the access token reach the relay client`() {
        val app = SafeSpaces.create(tmp.resolve("app").toString(), UnlockSecret.passphrase("p"), FAST)
        app.createSpace("Circle", "Ash", "Europe/London", at(NOW))
        val wrong = "00".repeat(32)

        // Without the token the relay refuses to host the space.
        val noToken = RelayClient(settings(RelayTrust.Pins(listOf(pin)), token = false))
        val refused = assertThrows<SafeSpacesException.RelayRefused> {
            runBlocking { app.sync(noToken, at(NOW)) }
        }
        assertEquals("forbidden", refused.code)

        // Two pins, the relay's second: accepted, and the token is sent.
        runBlocking { app.sync(RelayClient(settings(RelayTrust.Pins(listOf(wrong, pin)))), at(NOW)) }
        val mismatch = assertThrows<SafeSpacesException.PinMismatch> {
            runBlocking { app.sync(RelayClient(settings(RelayTrust.Pins(listOf(wrong)))), at(NOW)) }
        }
        assertTrue(pin in mismatch.reason)

        // The development certificate is its own CA.
        val pem = relayData.resolve("dev-cert.pem").toFile().readText()
        runBlocking { app.sync(RelayClient(settings(RelayTrust.CaCertificates(pem))), at(NOW)) }

        // The web PKI does not vouch for a self-signed relay.
        val tls = assertThrows<SafeSpacesException.Offline> {
            runBlocking { app.sync(RelayClient(settings(RelayTrust.WebPki)), at(NOW)) }
        }
        assertTrue("TLS" in tls.reason)

        // Settings core refuses arrive as InvalidInput.
        assertThrows<SafeSpacesException.InvalidInput> { RelayClient(settings(RelayTrust.Pins(emptyList()))) }
        assertThrows<SafeSpacesException.InvalidInput> {
            RelayClient(RelaySettings(url, RelayTrust.WebPki, AccessToken("two words")))
        }

        // The token is an object: the data class's toString never shows it.
        assertFalse(TOKEN in settings(RelayTrust.WebPki).toString())
    }
}
