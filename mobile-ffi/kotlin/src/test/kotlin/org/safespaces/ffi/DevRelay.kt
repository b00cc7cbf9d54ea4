package org.safespaces.ffi

import java.io.File
import java.nio.file.Files
import java.nio.file.Path

/**
 * The real relay binary ($SAFESPACES_RELAY_BIN, or the workspace's
 * target/debug/safespaces-relay) in development mode, with `extra` flags,
 * for one test class: started and read until it announces its address and
 * certificate pin; [close] kills it and deletes its data.
 */
class DevRelay(vararg extra: String) : AutoCloseable {
    /** Its data directory (the SQLite store and the development certificate). */
    val dataDir: Path = Files.createTempDirectory("safespaces-relay")
    private val process: Process
    /** `https://host:port` it listens on. */
    val url: String
    /** Its certificate's SPKI pin, 64 hex digits. */
    val pin: String

    init {
        val bin = System.getenv("SAFESPACES_RELAY_BIN")
            ?: File("../../target/debug/safespaces-relay").absolutePath
        process = ProcessBuilder(
            bin, "--dev", "--data-dir", dataDir.toString(), "--listen", "127.0.0.1:0", *extra,
        ).redirectError(ProcessBuilder.Redirect.DISCARD).start()
        val out = process.inputStream.bufferedReader()
        var addr: String? = null
        var pinHex: String? = null
        while (addr == null || pinHex == null) {
            val line = out.readLine() ?: error("the relay exited before announcing its address and pin")
            if ("listening on " in line) addr = line.substringAfter("listening on ").trim()
            if ("pin: " in line) pinHex = line.substringAfter("pin: ").trim()
        }
        url = "https://$addr"
        pin = pinHex
    }

    override fun close() {
        process.destroyForcibly().waitFor()
        dataDir.toFile().deleteRecursively()
    }
}
