//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `safespaces`: a desktop companion for Safe Spaces leads, and a scripting
/// tool. Everything stays on this machine, encrypted, until you sync.
/// Times are UTC.
#[derive(Parser, Debug)]
#[command(name = "safespaces", version, about, long_about = None)]
pub struct Cli {
    /// The profile directory.
    #[arg(long, env = "SAFESPACES_PROFILE", global = true)]
    pub profile: Option<PathBuf>,
    /// Read the passphrase from the first line of standard input.
    #[arg(long, global = true, conflicts_with = "passphrase_env")]
    pub passphrase_stdin: bool,
    /// Read the passphrase from this environment variable.
    #[arg(long, value_name = "VAR", global = true)]
    pub passphrase_env: Option<String>,
    /// Print data as JSON (shapes documented in docs/cli.md).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new profile in --profile.
    Init,
    /// Check the passphrase and leave the profile locked (the command never
    /// keeps a profile unlocked between runs).
    Lock,
    /// Destroy the profile: keys first, then every file. Cannot be undone.
    Wipe {
        /// Confirm without being asked.
        #[arg(long)]
        yes: bool,
    },
    /// Change the passphrase. The profile's master key changes with it and
    /// the old unlock slots are overwritten on disk, so the old passphrase
    /// opens nothing copied from this disk afterwards.
    Passphrase {
        /// Environment variable holding the new passphrase (else prompted
        /// twice).
        #[arg(long, value_name = "VAR")]
        new_passphrase_env: Option<String>,
    },
    /// Set or remove the duress passphrase: unlocking with it destroys this
    /// profile and opens an empty one that looks freshly made.
    Duress {
        /// Environment variable holding the duress passphrase (else
        /// prompted twice).
        #[arg(long, value_name = "VAR", conflicts_with = "remove")]
        duress_passphrase_env: Option<String>,
        /// Remove the duress passphrase instead.
        #[arg(long)]
        remove: bool,
    },
    /// Write an encrypted backup (an age file the stock `age` tool opens).
    Backup {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// Environment variable holding the backup passphrase (else prompted).
        #[arg(long, value_name = "VAR")]
        backup_passphrase_env: Option<String>,
    },
    /// Restore a backup into --profile (which must not exist yet).
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Environment variable holding the backup passphrase (else prompted).
        #[arg(long, value_name = "VAR")]
        backup_passphrase_env: Option<String>,
    },
    /// Spaces: create, list, invite, join, members, leave.
    #[command(subcommand)]
    Space(SpaceCommand),
    /// Sessions: plan, list, show, sign up, volunteer, cancel.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Training records and clearance to lead.
    #[command(subcommand)]
    Training(TrainingCommand),
    /// The signposting directory.
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// The private journal.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Offline bundles: sync face to face with no network.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Link a second device of yours. On the new device, run it without
    /// --approve: it prints a code and its fingerprint, and waits. On a
    /// device you already use, run it with --approve CODE: it shows the
    /// fingerprint it received and asks you to type what the new device
    /// shows; nothing leaves this device before they match. Without a
    /// terminal, pass the new device's fingerprint with --confirm.
    LinkDevice {
        /// The code shown by the new device.
        #[arg(long)]
        approve: Option<String>,
        /// The fingerprint the new device shows, confirmed without a prompt
        /// (with --approve; needed when not on a terminal).
        #[arg(long, requires = "approve")]
        confirm: Option<String>,
        /// How to reach the relay.
        #[command(flatten)]
        relay: RelayArgs,
    },
    /// Your own devices: list them (with fingerprints and when each was
    /// last heard from), name them, remove a lost or stolen one.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Sync every space with a relay: push what you made (also offline),
    /// pull what others made.
    Sync {
        /// How to reach the relay.
        #[command(flatten)]
        relay: RelayArgs,
    },
}

/// `safespaces devices ...`
#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// List your devices this one knows of.
    List,
    /// Give one of your devices a name here ("old phone"); without a name,
    /// clear it. The name never leaves this device.
    Name {
        /// The device: its id, an id prefix, or its name.
        device: String,
        /// The name.
        name: Option<String>,
    },
    /// Remove a lost or stolen device: from every space (each moves to a
    /// new key without it) and from your journal. It cannot be undone; to
    /// use that device again, wipe it and link it anew.
    Remove {
        /// The device: its id, an id prefix, or its name.
        device: String,
        /// Do it without asking.
        #[arg(long)]
        yes: bool,
    },
}

/// Where the relay is, how to trust it, and its access token.
#[derive(Args, Debug, Clone)]
pub struct RelayArgs {
    /// The relay, e.g. https://127.0.0.1:8443.
    #[arg(long, env = "SAFESPACES_RELAY")]
    pub relay: String,
    /// How to trust it.
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// How to trust the relay (one of pins, a CA file or the web PKI), and the
/// operator's access token.
#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    /// The pin of the relay's key: 64 hex digits, the SHA-256 of its
    /// certificate's public key (SPKI), as `safespaces-relay` prints it.
    /// Repeat it (comma-separated in SAFESPACES_RELAY_PIN) to accept the
    /// relay's next key too. Survives certificate renewals on the same key.
    #[arg(
        long = "pin",
        value_name = "PIN",
        env = "SAFESPACES_RELAY_PIN",
        value_delimiter = ',',
        conflicts_with_all = ["ca", "web_pki"]
    )]
    pub pins: Vec<String>,
    /// A PEM file of CA certificates to trust instead of a pin.
    #[arg(long, conflicts_with = "web_pki")]
    pub ca: Option<PathBuf>,
    /// Trust the public web PKI (Mozilla's roots, built in) instead of a
    /// pin: for a relay with a Let's Encrypt or other public certificate.
    #[arg(long)]
    pub web_pki: bool,
    /// The relay operator's access token, sent when creating mailboxes and
    /// invite drop-boxes. Prefer the environment variable: other users can
    /// read command lines with `ps`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SAFESPACES_RELAY_ACCESS_TOKEN",
        hide_env_values = true
    )]
    pub access_token: Option<AccessToken>,
}

/// An access token from the command line or the environment; `Debug`
/// never prints it.
#[derive(Clone)]
pub struct AccessToken(pub String);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

impl std::str::FromStr for AccessToken {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Checked by core when the relay client is built, with a message
        // that does not repeat the token.
        Ok(Self(s.to_owned()))
    }
}

/// `space …`
#[derive(Subcommand, Debug)]
pub enum SpaceCommand {
    /// Create a space; you become its first coordinator.
    Create {
        /// Its name.
        name: String,
        /// The name you go by in it.
        #[arg(long = "as", value_name = "PSEUDONYM")]
        pseudonym: String,
        /// The IANA time zone the group meets in (Europe/London); this
        /// device's zone when left out. Times are typed and shown in it.
        #[arg(long = "time-zone", value_name = "ZONE")]
        time_zone: Option<String>,
    },
    /// Show a space's time zone, or set it (coordinators). Planned
    /// sessions keep their instants.
    TimeZone {
        /// The space.
        space: String,
        /// The new IANA zone (Europe/London).
        zone: Option<String>,
    },
    /// List your spaces.
    List,
    /// Invite someone: prints the one-time code. With --relay the package
    /// waits in a relay drop-box; with --package-out it is written to a file
    /// to hand over with a bundle.
    Invite {
        /// The space (id, id prefix or name).
        space: String,
        /// The role they get.
        #[arg(long, value_enum, default_value_t = RoleArg::Member)]
        role: RoleArg,
        /// Where to write the invite package (offline).
        #[arg(long, required_unless_present = "relay")]
        package_out: Option<PathBuf>,
        /// Put the package in a relay drop-box instead.
        #[arg(long, env = "SAFESPACES_RELAY")]
        relay: Option<String>,
        /// How to trust the relay (with --relay).
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Ask to join with an invite code: through a relay (--relay; you are in
    /// once the inviter's device syncs and then yours does), or offline with
    /// its package, writing a request to hand back to the inviter
    /// (`space admit`, then `space complete-join`).
    Join {
        /// The invite code (`ss2-…`).
        code: String,
        /// The name you go by in the space.
        #[arg(long = "as", value_name = "PSEUDONYM")]
        pseudonym: String,
        /// The invite package file (offline).
        #[arg(long, required_unless_present = "relay", requires = "request_out")]
        package: Option<PathBuf>,
        /// Where to write the join request (offline).
        #[arg(long)]
        request_out: Option<PathBuf>,
        /// Join through this relay.
        #[arg(long, env = "SAFESPACES_RELAY")]
        relay: Option<String>,
        /// How to trust the relay (with --relay).
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Admit someone who asked to join with one of your invites (offline):
    /// writes the welcome to hand back with a bundle (`bundle export`).
    Admit {
        /// The space.
        space: String,
        /// Their join request file.
        #[arg(long)]
        request: PathBuf,
        /// Where to write the welcome.
        #[arg(long)]
        welcome_out: PathBuf,
    },
    /// Finish joining offline with the inviter's welcome and a bundle made
    /// after your admission.
    CompleteJoin {
        /// The welcome file.
        #[arg(long)]
        welcome: PathBuf,
        /// A bundle from the inviter.
        #[arg(long)]
        bundle: PathBuf,
    },
    /// List the space's invites: open, used, withdrawn or expired, and
    /// whether someone claimed a package you sent that nobody used yet.
    Invites {
        /// The space.
        space: String,
    },
    /// Withdraw an invite nobody joined with yet (a lost or intercepted
    /// code).
    RevokeInvite {
        /// The space.
        space: String,
        /// The invite's id (from `space invites`).
        invite: String,
    },
    /// Joins you asked for that have not been admitted yet.
    Pending,
    /// List a space's members.
    Members {
        /// The space.
        space: String,
    },
    /// Remove a member (coordinators): the space moves to a new key that
    /// only the remaining members' devices receive.
    Remove {
        /// The space.
        space: String,
        /// The member (pseudonym or id).
        member: String,
    },
    /// Leave a space: a coordinator's device then moves it to a new key
    /// this device is not given. It stays listed as left until forgotten.
    Leave {
        /// The space.
        space: String,
    },
    /// Delete a space you left (or were removed from) from this device.
    /// Refused while you are a member: leave first.
    Forget {
        /// The space.
        space: String,
    },
}

/// `session …`
#[derive(Subcommand, Debug)]
pub enum SessionCommand {
    /// Plan a session (leads and coordinators).
    Add(SessionAdd),
    /// List sessions that have not ended, soonest first (`--past`: those
    /// that have, most recent first).
    List {
        /// The space.
        space: String,
        /// Ended sessions instead.
        #[arg(long)]
        past: bool,
    },
    /// Edit a session (leads and coordinators); with `--following`, also
    /// every later session of its series.
    Edit(SessionEditArgs),
    /// Put a cancelled session back on (leads and coordinators).
    Reinstate {
        /// The space.
        space: String,
        /// The session.
        session: String,
    },
    /// Show one session, with conflicts and (for its leads) who is coming.
    Show {
        /// The space.
        space: String,
        /// The session (id or id prefix).
        session: String,
    },
    /// Ask for a place (recorded by the session's leads).
    Signup {
        /// The space.
        space: String,
        /// The session.
        session: String,
    },
    /// Give up your place.
    CancelSignup {
        /// The space.
        space: String,
        /// The session.
        session: String,
    },
    /// Offer to lead a session (a coordinator's own offer is accepted at
    /// once; anyone else's waits for a coordinator or an accepted lead).
    Volunteer {
        /// The space.
        space: String,
        /// The session.
        session: String,
        /// Also every later planned session of its series (the term).
        #[arg(long)]
        following: bool,
    },
    /// Accept a member's offer to lead (coordinators, and the session's
    /// accepted leads).
    Accept {
        /// The space.
        space: String,
        /// The session.
        session: String,
        /// The member who offered (pseudonym or id).
        member: String,
        /// Also her offers for the later sessions of its series.
        #[arg(long)]
        following: bool,
    },
    /// Decline a member's offer to lead (coordinators, and the session's
    /// accepted leads).
    Decline {
        /// The space.
        space: String,
        /// The session.
        session: String,
        /// The member who offered (pseudonym or id).
        member: String,
        /// Also her offers for the later sessions of its series.
        #[arg(long)]
        following: bool,
    },
    /// Name a cover lead, accepted at once (coordinators, and the
    /// session's accepted leads).
    NameLead {
        /// The space.
        space: String,
        /// The session.
        session: String,
        /// The member to name (pseudonym or id).
        member: String,
    },
    /// Withdraw your offer to lead, or (coordinators, the session's
    /// accepted leads) stand another lead down with `--member`.
    Withdraw {
        /// The space.
        space: String,
        /// The session.
        session: String,
        /// The lead to stand down; yourself when left out.
        #[arg(long)]
        member: Option<String>,
    },
    /// Cancel a session (leads and coordinators); with `--following`,
    /// also every later planned session of its series.
    Cancel {
        /// The space.
        space: String,
        /// The session.
        session: String,
        /// This and the following sessions of its series.
        #[arg(long)]
        following: bool,
    },
    /// Planned sessions that, as things stand, have no lead cleared at
    /// their start, or a lead who won't be.
    Warnings {
        /// The space.
        space: String,
    },
}

/// `session add …`
#[derive(Args, Debug)]
pub struct SessionAdd {
    /// The space.
    pub space: String,
    /// What kind of session.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// Its title.
    #[arg(long)]
    pub title: String,
    /// When it starts, in the space's time zone ("YYYY-MM-DD HH:MM").
    #[arg(long)]
    pub starts: String,
    /// How long it runs (90, 90m, 1h30m).
    #[arg(long)]
    pub duration: String,
    /// How many people can attend.
    #[arg(long)]
    pub capacity: u32,
    /// Where (or "shared with attendees").
    #[arg(long, default_value = "")]
    pub location: String,
    /// A longer description.
    #[arg(long, default_value = "")]
    pub description: String,
    /// A content note (repeatable).
    #[arg(long = "content-note")]
    pub content_notes: Vec<String>,
    /// Accessibility information.
    #[arg(long, default_value = "")]
    pub accessibility: String,
    /// Close sign-ups this long before the start (90, 1h30m, 24h; at most
    /// a week). Without it, sign-ups close at the start.
    #[arg(long = "close-signups-before")]
    pub close_signups_before: Option<String>,
    /// Repeat it: a weekly series on the first session's weekday and local
    /// time, with `--count` or `--until`.
    #[arg(long, value_enum)]
    pub repeat: Option<RepeatArg>,
    /// Every this many weeks (2 for fortnightly).
    #[arg(long, default_value_t = 1, requires = "repeat")]
    pub every: u32,
    /// How many sessions the series has, the first included.
    #[arg(long, requires = "repeat", conflicts_with = "until")]
    pub count: Option<u32>,
    /// The last local date a session of the series may fall on.
    #[arg(long, requires = "repeat")]
    pub until: Option<String>,
}

/// How a session repeats.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RepeatArg {
    /// Every `--every` weeks.
    Weekly,
}

/// `session edit …`: every field left out stays as it is.
#[derive(Args, Debug)]
pub struct SessionEditArgs {
    /// The space.
    pub space: String,
    /// The session.
    pub session: String,
    /// This and every later session of its series; a new `--starts` moves
    /// each by the same days to the same local time.
    #[arg(long)]
    pub following: bool,
    /// New kind.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New start, in the space's time zone.
    #[arg(long)]
    pub starts: Option<String>,
    /// New duration (90, 1h30m).
    #[arg(long)]
    pub duration: Option<String>,
    /// New capacity.
    #[arg(long)]
    pub capacity: Option<u32>,
    /// New location.
    #[arg(long)]
    pub location: Option<String>,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
    /// New accessibility information.
    #[arg(long)]
    pub accessibility: Option<String>,
    /// Close sign-ups this long before the start (0 for at the start).
    #[arg(long = "close-signups-before")]
    pub close_signups_before: Option<String>,
}

/// `training …`
#[derive(Subcommand, Debug)]
pub enum TrainingCommand {
    /// Record a completed module (coordinators).
    Record {
        /// The space.
        space: String,
        /// The member (pseudonym or id).
        member: String,
        /// Which module.
        #[arg(long, value_enum)]
        module: ModuleArg,
        /// When it was completed (YYYY-MM-DD).
        #[arg(long)]
        completed: String,
        /// When it expires (YYYY-MM-DD); default one year after completion.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List records and who is cleared to lead today.
    List {
        /// The space.
        space: String,
    },
    /// Who is cleared today but lapses soon, and which planned sessions
    /// they lead after that.
    Expiring {
        /// The space.
        space: String,
        /// How far ahead to look, in days.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

/// `resource …`
#[derive(Subcommand, Debug)]
pub enum ResourceCommand {
    /// Add a place to find help (leads and coordinators).
    Add {
        /// The space.
        space: String,
        /// Its category.
        #[arg(long, value_enum)]
        category: CategoryArg,
        /// Its name.
        #[arg(long)]
        name: String,
        /// How to reach it.
        #[arg(long)]
        contact: String,
        /// When it is open.
        #[arg(long, default_value = "")]
        hours: String,
        /// Anything else worth knowing.
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// List the directory, crisis lines first.
    List {
        /// The space.
        space: String,
        /// Only this category.
        #[arg(long, value_enum)]
        category: Option<CategoryArg>,
    },
}

/// `journal …`
#[derive(Subcommand, Debug)]
pub enum JournalCommand {
    /// Write an entry.
    Add {
        /// What to write.
        text: String,
        /// Mood, 1 (low) to 5 (high).
        #[arg(long)]
        mood: Option<u8>,
        /// A tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// List entries, newest first.
    List {
        /// Only entries with this tag.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Replace an entry's text.
    Edit {
        /// The entry (id or id prefix).
        id: String,
        /// The new text.
        text: String,
    },
    /// Delete an entry, and its text from history.
    Delete {
        /// The entry (id or id prefix).
        id: String,
    },
    /// Turn syncing the journal between your own linked devices on or off
    /// (off until you turn it on: the journal never leaves this device).
    Sync {
        /// `on` or `off`.
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Export your journal as an encrypted file for yourself.
    Export {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// Markdown or JSON.
        #[arg(long, value_enum, default_value_t = FormatArg::Markdown)]
        format: FormatArg,
        /// Environment variable holding the export passphrase (else prompted).
        #[arg(long, value_name = "VAR")]
        export_passphrase_env: Option<String>,
    },
}

/// `bundle …`
#[derive(Subcommand, Debug)]
pub enum BundleCommand {
    /// Write everything this device knows of a space into one file.
    Export {
        /// The space.
        space: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Import a bundle from another member's device.
    Import {
        /// The bundle file.
        file: PathBuf,
    },
}

/// Roles.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RoleArg {
    /// Attends, may volunteer.
    Member,
    /// Plans sessions.
    Lead,
    /// Keeps the space safe.
    Coordinator,
}

/// Session kinds.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum KindArg {
    /// Wellbeing event.
    Wellbeing,
    /// Social activity.
    Social,
    /// Survivor discussion group.
    Discussion,
    /// Anything else.
    Other,
}

/// Training modules.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ModuleArg {
    /// Signposting.
    Signposting,
    /// Trauma-informed care and communication.
    TraumaInformed,
}

/// Resource categories.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum CategoryArg {
    /// Crisis line.
    Crisis,
    /// Clinical care.
    Clinical,
    /// Legal.
    Legal,
    /// University welfare and administration.
    University,
    /// Peer and community support.
    Peer,
}

/// On or off.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// Export formats.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// Markdown.
    Markdown,
    /// JSON.
    Json,
}
