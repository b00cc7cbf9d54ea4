"""Checks the generated Swift bindings for the declarations an iOS app uses.

There is no Swift compiler on the machines that run the tests, so this reads
the generated source instead: every pattern below must match once comments
are dropped and runs of whitespace collapsed to single spaces, and none of
the removed ones may. A renamed or missing item in the Rust API fails here
before it fails an iOS build.

    python3 check_declarations.py <swift bindings dir>
"""

import pathlib
import re
import sys

MODULE = "SafeSpacesFFI"

EXPECTED = [
    # Objects, their constructors and a few methods of each.
    r"open class SafeSpaces: SafeSpacesProtocol",
    r"public static func create\(dir: String, secret: UnlockSecret, options: ProfileOptions\? = nil\) ?throws -> SafeSpaces",
    r"public static func `?open`?\(dir: String, options: ProfileOptions\? = nil\) ?throws -> SafeSpaces",
    r"public static func restoreBackup\(backup: Data, backupPassphrase: String, dir: String, secret: UnlockSecret, options: ProfileOptions\? = nil\) ?throws -> SafeSpaces",
    r"func unlock\(secret: UnlockSecret\) ?throws -> KeystoreAction",
    r"func wipe\(\) ?throws -> KeystoreAction",
    r"func setPassphrase\(passphrase: String\) ?throws -> KeystoreAction",
    r"func setRequirePassphrase\(passphrase: String, require: Bool\) ?throws -> KeystoreAction",
    r"func requiresPassphrase\(\) ?throws -> Bool",
    r"open class KeystoreAction: KeystoreActionProtocol",
    r"func change\(\) -> KeystoreChange",
    r"func newSecret\(\) -> Data\?",
    r"public enum KeystoreChange",
    r"func lock\(\)",
    r"func setDuressPassphrase\(passphrase: String\?\) ?throws",
    r"func setAttemptLimit\(limit: UInt32\?\) ?throws",
    r"func exportBackup\(passphrase: String\) ?throws -> Data",
    r"func createSpace\(name: String, pseudonym: String, timeZone: String, now: Date\) ?throws -> Space",
    r"func requestJoin\(code: String, sealedPackage: Data, pseudonym: String, now: Date\) ?throws -> JoinRequestFile",
    r"func join\(welcome: Data, bundle: Data, now: Date\) ?throws -> Space",
    r"func pendingJoins\(\) ?throws -> \[PendingJoin\]",
    r"func importBundle\(bundle: Data, now: Date\) ?throws -> BundleReport",
    r"open class Space: SpaceProtocol",
    r"func createSession\(draft: SessionDraft, now: Date\) ?throws -> String",
    r"func signUp\(id: String, state: SignUpState, now: Date\) ?throws -> MyPlace",
    r"func decideLead\(id: String, member: String, accept: Bool, now: Date\) ?throws",
    r"func nameLead\(id: String, member: String, now: Date\) ?throws",
    r"func withdrawLead\(id: String, member: String\) ?throws",
    r"func myPlace\(id: String, now: Date\) ?throws -> MyPlace",
    r"func createSeries\(draft: SessionDraft, rule: SeriesRule, now: Date\) ?throws -> SeriesPlan",
    r"func editSeriesFrom\(id: String, edit: SessionEdit\) ?throws -> \[String\]",
    r"func cancelSeriesFrom\(id: String\) ?throws -> \[String\]",
    r"func reinstateSession\(id: String\) ?throws",
    r"func upcomingSessions\(now: Date\) ?throws -> \[Session\]",
    r"func pastSessions\(now: Date\) ?throws -> \[Session\]",
    r"func timeZone\(\) ?throws -> TimeZoneInfo",
    r"func setTimeZone\(name: String\) ?throws",
    r"func parseLocalTime\(text: String\) ?throws -> Date",
    r"func showTime\(at: Date\) ?throws -> String",
    r"func invite\(role: Role, now: Date, expiresAt: Date\? = nil\) ?throws -> Invitation",
    r"func invites\(now: Date\) ?throws -> \[InviteStatus\]",
    r"func revokeInvite\(inviteId: String, now: Date\) ?throws",
    r"func admit\(request: Data, now: Date\) ?throws -> Data",
    r"func exportBundle\(\) ?throws -> Data",
    r"func resources\(category: ResourceCategory\? = nil\) ?throws -> \[ResourceEntry\]",
    r"open class Journal: JournalProtocol",
    r"func add\(text: String, mood: UInt8\?, tags: \[String\], now: Date\) ?throws -> String",
    r"func export\(format: JournalFormat, passphrase: String\) ?throws -> Data",
    r"open class UnlockSecret: UnlockSecretProtocol",
    r"public static func passphrase\(passphrase: String\) -> UnlockSecret",
    r"public static func keystore\(secret: Data\) ?throws -> UnlockSecret",
    r"public func generateKeystoreSecret\(\) -> Data",
    r"public func profileExists\(dir: String\) -> Bool",
    # The relay, async calls, listeners and their handles.
    r"open class RelayClient: RelayClientProtocol",
    r"public static func pinned\(url: String, pinHex: String\) ?throws -> RelayClient",
    r"public convenience init\(settings: RelaySettings\) ?throws",
    r"public struct RelaySettings",
    r"public init\(url: String, trust: RelayTrust, accessToken: AccessToken\? = nil\)",
    r"public enum RelayTrust",
    r"case pins\(",
    r"case caCertificates\(",
    r"case webPki",
    r"open class AccessToken: AccessTokenProtocol",
    r"public convenience init\(token: String\)",
    r"func sync\(client: RelayClient, now: Date\) ?async throws -> SyncReport",
    r"func joinViaRelay\(client: RelayClient, code: String, pseudonym: String, now: Date\) ?async throws -> PendingJoin",
    r"func publishInvite\(client: RelayClient, invitation: Invitation, now: Date\) ?async throws",
    r"func offerLink\(client: RelayClient\) ?async throws -> LinkOffer",
    r"func beginLink\(client: RelayClient, code: String\) ?async throws -> PendingLink",
    r"func confirmLink\(client: RelayClient, pending: PendingLink, fingerprint: String, now: Date\) ?async throws -> UInt64",
    r"func declineLink\(pending: PendingLink\) ?throws",
    r"open class PendingLink: PendingLinkProtocol",
    r"func live\(client: RelayClient, listener: SpaceListener\) ?throws -> LiveSync",
    r"func watchStatus\(listener: SyncStatusListener\) ?-> StatusSubscription",
    r"public protocol SpaceListener: AnyObject",
    r"func spaceChanged\(spaceId: String\) ?throws",
    r"func journalChanged\(\) ?throws",
    r"public protocol SyncStatusListener: AnyObject",
    r"func statusChanged\(status: SyncStatus\) ?throws",
    r"open class LiveSync: LiveSyncProtocol",
    # Sync progress: the listener, its record and the handle that stops it.
    r"func watchProgress\(listener: SyncProgressListener\) ?-> ProgressSubscription",
    r"public protocol SyncProgressListener: AnyObject",
    r"func onProgress\(progress: SyncProgress\) ?throws",
    r"public struct SyncProgress: Equatable, Hashable",
    r"public var spaceId: String",
    r"public var received: UInt64",
    r"public var total: UInt64",
    r"open class ProgressSubscription: ProgressSubscriptionProtocol",
    # Logging: the foreign logger, its record and level, and the handle.
    r"public func installLogger\(logger: Logger, maxLevel: LogLevel\) ?throws -> LoggerHandle",
    r"public protocol Logger: AnyObject",
    r"func log\(record: LogRecord\) ?throws",
    r"open class LoggerHandle: LoggerHandleProtocol",
    r"func stop\(\)",
    r"public struct LogRecord: Equatable, Hashable",
    r"public enum LogLevel: Equatable, Hashable",
    r"public struct SyncReport: Equatable, Hashable",
    r"public var admitted: UInt64",
    r"public var joined: \[String\]",
    r"public var sequenceAlerts: \[SequenceAlert\]",
    r"public struct SequenceAlert: Equatable, Hashable",
    r"func sequenceStatus\(\) ?throws -> SequenceStatus",
    r"public struct SequenceStatus: Equatable, Hashable",
    r"public enum SyncStatus: Equatable, Hashable",
    # Records and enums.
    r"public struct Session: Equatable, Hashable",
    r"public struct SessionDraft: Equatable, Hashable",
    # Instants are `Date`, never seconds as a bare integer.
    r"public var startsAt: Date(?![?\w])",
    r"public var startsAt: Date\?",
    r"public var endsAt: Date(?![?\w])",
    r"public var expiresAt: Date(?![?\w])",
    r"public var validUntil: Date\?",
    r"public var removedAt: Date\?",
    r"case time\(value: Date\)",
    r"public struct Invitation: Equatable, Hashable",
    r"public var inviteId: String",
    r"public struct InviteStatus: Equatable, Hashable",
    r"public enum InviteState: Equatable, Hashable",
    r"public var usedBy: String\?",
    r"public var claimed: Bool",
    r"public struct JoinRequestFile: Equatable, Hashable",
    r"public struct PendingJoin: Equatable, Hashable",
    r"public struct JournalEntry: Equatable, Hashable",
    r"public struct ProfileOptions: Equatable, Hashable",
    r"public enum PassphraseWork: Equatable, Hashable",
    r"case insecureTestOnly\(logN: UInt8",
    r"public enum MyPlace: Equatable, Hashable",
    r"case nothingAsked",
    r"public enum Role: Equatable, Hashable",
    # The error, and every variant an app acts on.
    r"public enum SafeSpacesError: Swift\.Error",
] + [
    rf"case {variant}\b"
    for variant in (
        "Locked", "WrongSecret", "NoProfile", "NotAMember", "NotAllowed", "NotFound",
        "InviteUnusable", "InvalidInput", "RefusedInput", "DamagedData", "Storage", "Internal",
        "Offline", "PinMismatch", "RelayRefused",
    )
]

# Removed from the API: an app still using them must fail to build.
ABSENT = [
    # Protocol v2: a relay join returns a PendingJoin; the space comes with
    # a later sync (SyncReport.joined).
    r"public struct Joined\b",
    # Times as bare seconds: every instant is a `Date` now.
    r"\b(now|at|[a-z]+At): Int64\b",
    r"func parseLocalTime\(text: String\) ?throws -> Int64",
    # Linking in one step, before the person confirmed the fingerprint
    # (issue 15): beginLink, then confirmLink or declineLink.
    r"func approveLink\(",
    # Refused input was called InvalidData, which did not say that nothing
    # here is damaged: RefusedInput (core's ErrorClass::RefusedInput).
    r"case InvalidData\b",
]

HEADER_EXPECTED = [
    r"uniffi_safespaces_ffi_fn_constructor_safespaces_create",
    r"ffi_safespaces_ffi_uniffi_contract_version",
]


def normalised(path):
    # Doc comments sit between labels and types; drop them, then whitespace.
    text = re.sub(r"/\*.*?\*/", " ", path.read_text(), flags=re.S)
    text = re.sub(r"\s+", " ", text)
    return text.replace("( ", "(").replace(" )", ")")


def main(directory):
    directory = pathlib.Path(directory)
    swift = normalised(directory / f"{MODULE}.swift")
    header = normalised(directory / f"{MODULE}FFI.h")
    modulemap = normalised(directory / f"{MODULE}FFI.modulemap")
    missing = [p for p in EXPECTED if not re.search(p, swift)]
    missing += [f"header: {p}" for p in HEADER_EXPECTED if not re.search(p, header)]
    present = [p for p in ABSENT if re.search(p, swift)]
    if f"module {MODULE}FFI" not in modulemap:
        missing.append(f"modulemap: module {MODULE}FFI")
    for p in missing:
        print(f"missing from the Swift bindings: {p}", file=sys.stderr)
    for p in present:
        print(f"removed but still in the Swift bindings: {p}", file=sys.stderr)
    if missing or present:
        return 1
    print(
        f"swift bindings: {len(EXPECTED) + len(HEADER_EXPECTED) + 1} declarations present,"
        f" {len(ABSENT)} removed ones absent"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
