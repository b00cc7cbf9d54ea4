//! Running each command against `safespaces_core::app`, producing both a
//! human rendering and a stable JSON shape (docs/cli.md).

use std::path::{Path, PathBuf};

use safespaces_core::app::{Blocked, MyPlace, SafeSpaces, Space};
use safespaces_core::model::{
    InviteState, LeadState, Member, MemberId, Place, Resource, ResourceCategory, Role, SeriesEnd,
    SeriesRule, Session, SessionDraft, SessionEdit, SessionId, SessionKind, SignUpState, SpaceZone,
    Timestamp, TrainingModule,
};
use safespaces_core::profile::{JournalFormat, Profile, ProfileOptions};
use safespaces_core::relay::{RelayConfig, RelayTransport, trust::Trust};
use serde_json::{Value, json};

use crate::Failure;
use crate::args::{
    BundleCommand, CategoryArg, Cli, Command, FormatArg, JournalCommand, KindArg, ModuleArg,
    ResourceCommand, RoleArg, SessionCommand, SessionEditArgs, SpaceCommand, TrainingCommand,
    TrustArgs,
};
use crate::resolve::pick;
use crate::secret::{new_passphrase, other_passphrase, profile_passphrase};
use crate::times::{parse_minutes, parse_minutes_or_zero, parse_time, show_date, show_time};

/// What a command prints.
pub struct Out {
    /// For people.
    pub human: String,
    /// For scripts (`--json`).
    pub json: Value,
}

pub(crate) fn out(human: impl Into<String>, json: Value) -> Result<Out, Failure> {
    Ok(Out {
        human: human.into(),
        json,
    })
}

const ONE_YEAR: i64 = 365 * 24 * 60 * 60;

fn profile_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    cli.profile.clone().ok_or(Failure {
        code: crate::ExitCode::Usage,
        message: "say which profile: --profile DIR (or SAFESPACES_PROFILE)".into(),
    })
}

pub(crate) fn unlock(cli: &Cli) -> Result<SafeSpaces, Failure> {
    let dir = profile_dir(cli)?;
    let app = SafeSpaces::open(&dir, ProfileOptions::default())?;
    let secret = profile_passphrase(cli.passphrase_stdin, cli.passphrase_env.as_deref(), false)?;
    app.unlock(&secret)?;
    Ok(app)
}

pub(crate) fn now() -> Timestamp {
    Timestamp::now()
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Out, Failure> {
    match &cli.command {
        Command::Init => {
            let dir = profile_dir(&cli)?;
            let secret =
                profile_passphrase(cli.passphrase_stdin, cli.passphrase_env.as_deref(), true)?;
            let app = SafeSpaces::create(&dir, secret, ProfileOptions::default())?;
            let device = app.device_id()?;
            out(
                format!("Created an encrypted profile in {}", dir.display()),
                json!({"profile": dir, "device": device.as_str()}),
            )
        }
        Command::Lock => {
            let app = unlock(&cli)?;
            app.lock();
            out("Locked.", json!({"locked": true}))
        }
        Command::Wipe { yes } => wipe(&cli, *yes),
        // The CLI keeps no keystore secret, so the keystore answer of these
        // changes has nothing to act on.
        Command::Passphrase { new_passphrase_env } => {
            let app = unlock(&cli)?;
            let pass = new_passphrase(new_passphrase_env.as_deref(), "New passphrase: ")?;
            app.profile()
                .set_passphrase(&pass)
                .map_err(safespaces_core::app::AppError::from)?;
            out(
                "Changed the passphrase; the old one opens nothing on this disk now.",
                json!({"passphrase_changed": true}),
            )
        }
        Command::Duress {
            duress_passphrase_env,
            remove,
        } => {
            let app = unlock(&cli)?;
            let pass = if *remove {
                None
            } else {
                Some(new_passphrase(
                    duress_passphrase_env.as_deref(),
                    "Duress passphrase: ",
                )?)
            };
            app.profile()
                .set_duress_passphrase(pass.as_ref())
                .map_err(safespaces_core::app::AppError::from)?;
            let message = if *remove {
                "Removed the duress passphrase."
            } else {
                "Set the duress passphrase: unlocking with it destroys this profile and opens an empty one."
            };
            out(message, json!({"duress": !*remove}))
        }
        Command::Backup {
            out: path,
            backup_passphrase_env,
        } => {
            let app = unlock(&cli)?;
            let pass = other_passphrase(backup_passphrase_env.as_deref(), "Backup passphrase: ")?;
            let bytes = app
                .profile()
                .export_backup(&pass)
                .map_err(safespaces_core::app::AppError::from)?;
            write_private(path, &bytes)?;
            out(
                format!("Wrote an encrypted backup to {}", path.display()),
                json!({"backup": path, "bytes": bytes.len()}),
            )
        }
        Command::Restore {
            file,
            backup_passphrase_env,
        } => {
            let dir = profile_dir(&cli)?;
            let bytes = std::fs::read(file)?;
            let pass = other_passphrase(backup_passphrase_env.as_deref(), "Backup passphrase: ")?;
            let secret =
                profile_passphrase(cli.passphrase_stdin, cli.passphrase_env.as_deref(), true)?;
            Profile::restore_backup(&bytes, &pass, &dir, secret, ProfileOptions::default())
                .map_err(safespaces_core::app::AppError::from)?;
            out(
                format!("Restored into {}", dir.display()),
                json!({"profile": dir}),
            )
        }
        Command::Space(cmd) => space(&cli, cmd),
        Command::Session(cmd) => session(&cli, cmd),
        Command::Training(cmd) => training(&cli, cmd),
        Command::Resource(cmd) => resource(&cli, cmd),
        Command::Journal(cmd) => journal(&cli, cmd),
        Command::Bundle(cmd) => bundle(&cli, cmd),
        Command::LinkDevice {
            approve,
            confirm,
            relay,
        } => {
            let app = unlock(&cli)?;
            let client = relay_client(&relay.relay, &relay.trust)?;
            match approve {
                Some(code) => approve_link(&app, &client, code, confirm.as_deref()),
                None => block_on(async {
                    let offer = app.offer_link(&client).await?;
                    // Shown now, while waiting: the person types it on the
                    // other device.
                    eprintln!(
                        "On a device you already use, run:\n  safespaces link-device --approve {}\nThis device's fingerprint: {}\nType it there when it asks; it sends nothing until it matches.\nWaiting up to 15 minutes…",
                        offer.code, offer.fingerprint
                    );
                    let linked = app
                        .complete_link(&client, &offer, safespaces_core::app::LINK_TTL, now())
                        .await?;
                    out(
                        format!("Linked: {linked} space(s) now on this device."),
                        json!({"code": offer.code, "fingerprint": offer.fingerprint, "spaces": linked}),
                    )
                }),
            }
        }
        Command::Devices(cmd) => crate::devices::devices(&cli, cmd),
        Command::Sync { relay } => {
            let mut app = unlock(&cli)?;
            if !cli.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                app = app.with_progress(Box::new(progress_bar));
            }
            let client = relay_client(&relay.relay, &relay.trust)?;
            let report = block_on(app.sync(&client, now()))?;
            out(
                format!(
                    "Synced: {} sent, {} received ({} changes applied, {} refused), {} sign-ups recorded{}{}{}{}.{}",
                    report.pushed,
                    report.pulled,
                    report.applied,
                    report.refused,
                    report.requests_recorded,
                    if report.admitted == 0 {
                        String::new()
                    } else {
                        format!("; admitted {} joiner(s)", report.admitted)
                    },
                    if report.joined.is_empty() {
                        String::new()
                    } else {
                        format!("; joined {} space(s)", report.joined.len())
                    },
                    if report.left_out.is_empty() {
                        String::new()
                    } else {
                        format!("; you were removed from {} space(s)", report.left_out.len())
                    },
                    failures(&report),
                    sequence_warnings(&report)
                ),
                json!({"pushed": report.pushed, "pulled": report.pulled, "applied": report.applied,
                       "refused": report.refused, "requests_recorded": report.requests_recorded,
                       "snapshots": report.snapshots, "left_out": report.left_out,
                       "admitted": report.admitted, "joined": report.joined,
                       "failed": report.failed.iter()
                           .map(|f| json!({"space": f.space, "reason": f.reason}))
                           .collect::<Vec<_>>(),
                       "journal_failed": report.journal_failed,
                       "sequence_alerts": report.sequence_alerts.iter()
                           .map(|a| json!({"space": a.space, "missing": a.missing, "reused": a.reused}))
                           .collect::<Vec<_>>()}),
            )
        }
    }
}

/// What failed while the rest synced, for the one-line summary.
fn failures(report: &safespaces_core::app::SyncReport) -> String {
    let mut out = String::new();
    if !report.failed.is_empty() {
        out.push_str(&format!(
            "; {} space(s) did not sync (tried again next time)",
            report.failed.len()
        ));
    }
    if report.journal_failed.is_some() {
        out.push_str("; the journal did not sync");
    }
    out
}

/// One warning line per space whose envelope numbers showed something
/// wrong in this sync (reported once; `space list` keeps showing it).
fn sequence_warnings(report: &safespaces_core::app::SyncReport) -> String {
    let mut out = String::new();
    for alert in &report.sequence_alerts {
        if alert.missing > 0 {
            out.push_str(&format!(
                "\nWarning: space {}: {} envelope(s) its members sent did not arrive, though later ones did; the relay may be withholding them.",
                alert.space, alert.missing
            ));
        }
        if alert.reused > 0 {
            out.push_str(&format!(
                "\nWarning: space {}: a member's device signed {} pair(s) of different envelopes under one number (a modified app, or a device restored from an old backup).",
                alert.space, alert.reused
            ));
        }
    }
    out
}

/// Draws a one-line progress bar on standard error (only on a terminal).
fn progress_bar(p: safespaces_core::app::Progress) {
    const WIDTH: u64 = 30;
    let total = p.total.max(p.received).max(1);
    let filled = (p.received * WIDTH / total) as usize;
    eprint!(
        "\r[{}{}] {}/{} received, {} sent ",
        "#".repeat(filled),
        ".".repeat(WIDTH as usize - filled),
        p.received,
        p.total.max(p.received),
        p.sent
    );
    if p.received >= total {
        eprintln!();
    }
}

/// A relay client from the command line's relay address, trust and token.
fn relay_client(url: &str, args: &TrustArgs) -> Result<RelayTransport, Failure> {
    let usage = |e: safespaces_core::relay::RelayError| Failure {
        code: crate::ExitCode::Usage,
        message: e.to_string(),
    };
    let trust = if !args.pins.is_empty() {
        Trust::pins_from_hex(&args.pins).map_err(usage)?
    } else if let Some(ca) = &args.ca {
        let pem = std::fs::read(ca).map_err(|e| Failure {
            code: crate::ExitCode::Usage,
            message: format!("cannot read the CA file {}: {e}", ca.display()),
        })?;
        Trust::roots_from_pem(&pem).map_err(usage)?
    } else if args.web_pki {
        Trust::WebPki
    } else {
        return Err(Failure {
            code: crate::ExitCode::Usage,
            message: "say how to trust the relay: --pin PIN (printed by the relay; repeat it for \
                      the next key), --ca FILE or --web-pki"
                .into(),
        });
    };
    let mut config = RelayConfig::new(url, trust).map_err(usage)?;
    if let Some(token) = &args.access_token {
        config = config.with_access_token(token.0.clone()).map_err(usage)?;
    }
    RelayTransport::new(config).map_err(usage)
}

/// Runs one async operation on a small runtime: the command does one thing
/// and exits.
fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        // Building a runtime only fails if the OS refuses threads or timers.
        Err(e) => {
            eprintln!("safespaces: cannot start: {e}");
            std::process::exit(1);
        }
    }
}

/// `link-device --approve CODE` on the device the person already uses:
/// claims the request, shows its fingerprint, and hands anything over
/// only once the person has typed (or passed with `--confirm`) the
/// fingerprint the new device shows. Without a terminal and without
/// `--confirm` it refuses before claiming anything, so the new device's
/// request stays for a run that can confirm.
fn approve_link(
    app: &SafeSpaces,
    client: &RelayTransport,
    code: &str,
    confirm: Option<&str>,
) -> Result<Out, Failure> {
    use std::io::IsTerminal;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if confirm.is_none() && !interactive {
        return Err(Failure {
            code: crate::ExitCode::Usage,
            message: "not on a terminal: pass the fingerprint the new device shows with \
                      --confirm FINGERPRINT; nothing was claimed or sent"
                .into(),
        });
    }
    let pending = block_on(app.begin_link(client, code))?;
    let typed = match confirm {
        Some(typed) => typed.to_string(),
        None => {
            eprint!(
                "Does the new device show {}? Type it to confirm: ",
                pending.fingerprint()
            );
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line
        }
    };
    match block_on(app.confirm_link(client, &pending, &typed, now())) {
        Ok(spaces) => out(
            format!(
                "Linked the device with fingerprint {}: added to {spaces} space(s).",
                pending.fingerprint()
            ),
            json!({"fingerprint": pending.fingerprint(), "spaces": spaces}),
        ),
        Err(e) => {
            // The request was claimed and this run ends here: answer it, so
            // nothing can go on to confirm it (a mismatch sent nothing).
            let _ = app.decline_link(&pending);
            Err(e.into())
        }
    }
}

fn wipe(cli: &Cli, yes: bool) -> Result<Out, Failure> {
    if !yes {
        return Err(Failure {
            code: crate::ExitCode::Usage,
            message:
                "wiping destroys every key and file of the profile and cannot be undone; add --yes"
                    .into(),
        });
    }
    let dir = profile_dir(cli)?;
    // Wiping needs no passphrase: someone in danger must be able to do it
    // without remembering one.
    let app = SafeSpaces::open(&dir, ProfileOptions::default())?;
    app.wipe()?;
    out("Wiped.", json!({"wiped": true}))
}

/// Writes a file only the current user can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

fn find_space(app: &SafeSpaces, typed: &str) -> Result<Space, Failure> {
    let spaces = app.spaces()?;
    let candidates: Vec<(String, String, String)> = spaces
        .into_iter()
        .map(|s| (s.id.clone(), s.name, s.id))
        .collect();
    let id = pick("space", typed, &candidates)?;
    Ok(app.space(id)?)
}

fn find_session(space: &Space, typed: &str) -> Result<(SessionId, Session), Failure> {
    let sessions = space.sessions()?;
    let candidates: Vec<(String, String, (SessionId, Session))> = sessions
        .into_iter()
        .map(|(id, s)| (id.to_string(), s.title.clone(), (id, s)))
        .collect();
    Ok(pick("session", typed, &candidates)?.clone())
}

fn find_member(space: &Space, typed: &str) -> Result<(MemberId, Member), Failure> {
    let members = space.members()?;
    let candidates: Vec<(String, String, (MemberId, Member))> = members
        .into_iter()
        .filter(|(_, m)| m.is_active())
        .map(|(id, m)| (id.to_string(), m.pseudonym.clone(), (id, m)))
        .collect();
    Ok(pick("member", typed, &candidates)?.clone())
}

fn role(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Member => Role::Member,
        RoleArg::Lead => Role::Lead,
        RoleArg::Coordinator => Role::Coordinator,
    }
}

fn space(cli: &Cli, cmd: &SpaceCommand) -> Result<Out, Failure> {
    let app = unlock(cli)?;
    match cmd {
        SpaceCommand::Create {
            name,
            pseudonym,
            time_zone,
        } => {
            let zone = match time_zone {
                Some(typed) => SpaceZone::parse(typed)?,
                None => SpaceZone::device(),
            };
            let space = app.create_space_in(name, pseudonym, &zone, now())?;
            out(
                format!(
                    "Created space {:?} ({}); you are its coordinator. Times are in {}.",
                    name,
                    space.id(),
                    zone.name()
                ),
                json!({"id": space.id(), "name": name, "time_zone": zone.name()}),
            )
        }
        SpaceCommand::TimeZone { space, zone } => {
            let space = find_space(&app, space)?;
            if let Some(typed) = zone {
                space.set_time_zone(&SpaceZone::parse(typed)?)?;
            }
            let zone = space.time_zone()?;
            let human = if zone.is_known() {
                format!("Times in this space are in {}.", zone.name())
            } else {
                format!(
                    "This space names the time zone {:?}, which this version does not know; times are shown in UTC.",
                    zone.name()
                )
            };
            out(
                human,
                json!({"time_zone": zone.name(), "known": zone.is_known()}),
            )
        }
        SpaceCommand::List => {
            let spaces = app.spaces()?;
            let statuses = spaces
                .iter()
                .map(|s| app.space(&s.id).and_then(|h| h.sequence_status()))
                .collect::<Result<Vec<_>, _>>()?;
            let human = spaces
                .iter()
                .zip(&statuses)
                .map(|(s, status)| {
                    let left = if s.left { "  (left)" } else { "" };
                    let missing = if status.missing > 0 {
                        format!("  ({} envelope(s) missing)", status.missing)
                    } else {
                        String::new()
                    };
                    let reused = if status.reused > 0 {
                        format!("  ({} envelope number(s) used twice)", status.reused)
                    } else {
                        String::new()
                    };
                    format!("{}  {}{left}{missing}{reused}", s.id, s.name)
                })
                .collect::<Vec<_>>()
                .join("\n");
            let json = spaces
                .iter()
                .zip(&statuses)
                .map(|(s, status)| {
                    json!({"id": s.id, "name": s.name, "left": s.left,
                           "sequence": {"missing": status.missing,
                                        "missing_noticed": status.missing_noticed,
                                        "reused": status.reused}})
                })
                .collect();
            out(human, Value::Array(json))
        }
        SpaceCommand::Invite {
            space,
            role: r,
            package_out,
            relay,
            trust,
        } => {
            let space = find_space(&app, space)?;
            let invitation = space.invite(role(*r), now(), None)?;
            let mut human = format!("Invite code: {}\n", invitation.code);
            if let Some(path) = package_out {
                write_private(path, &invitation.package)?;
                human.push_str(&format!(
                    "Package written to {} (hand it over; it holds no key to the space).\n",
                    path.display()
                ));
            }
            if let Some(url) = relay {
                let client = relay_client(url, trust)?;
                block_on(space.publish_invite(&client, &invitation, now()))?;
                // The invitee reads the space from its mailbox: make sure
                // it is there, with the invite recorded.
                block_on(app.sync(&client, now()))?;
                human.push_str("The package waits in the relay; your next sync admits whoever asks with the code.\n");
            }
            human.push_str(&format!(
                "Expires {}; works once.",
                show_time(&space.time_zone()?, invitation.expires_at)
            ));
            out(
                human,
                json!({"code": invitation.code, "id": invitation.invite_id, "package": package_out,
                       "expires_at": invitation.expires_at.0, "dropbox_id": invitation.dropbox_id}),
            )
        }
        SpaceCommand::Join {
            code,
            pseudonym,
            package,
            request_out,
            relay,
            trust,
        } => match (relay, package, request_out) {
            (Some(url), _, _) => {
                let client = relay_client(url, trust)?;
                let asked = block_on(app.join_via_relay(&client, code, pseudonym, now()))?;
                out(
                    format!(
                        "Asked to join {:?} as {}. You are in once the inviter's device syncs and then yours does (`safespaces sync`).",
                        asked.space_name, pseudonym
                    ),
                    json!({"id": asked.space, "name": asked.space_name, "pending": true}),
                )
            }
            (None, Some(package), Some(path)) => {
                let package = std::fs::read(package)?;
                let asked = app.request_join(code, &package, pseudonym, now())?;
                write_private(path, &asked.request)?;
                out(
                    format!(
                        "Asked to join {:?} as {}: hand {} to the inviter, then finish with `space complete-join` and their welcome and bundle.",
                        asked.space_name,
                        pseudonym,
                        path.display()
                    ),
                    json!({"name": asked.space_name, "request": path, "pending": true}),
                )
            }
            _ => Err(Failure {
                code: crate::ExitCode::Usage,
                message: "join through a relay (--relay) or with --package and --request-out"
                    .into(),
            }),
        },
        SpaceCommand::Admit {
            space,
            request,
            welcome_out,
        } => {
            let space = find_space(&app, space)?;
            let welcome = space.admit(&std::fs::read(request)?, now())?;
            write_private(welcome_out, &welcome)?;
            out(
                format!(
                    "Admitted. Hand {} back with a bundle made now (`bundle export`).",
                    welcome_out.display()
                ),
                json!({"welcome": welcome_out}),
            )
        }
        SpaceCommand::CompleteJoin { welcome, bundle } => {
            let space = app.join(&std::fs::read(welcome)?, &std::fs::read(bundle)?, now())?;
            let name = space.name()?;
            out(
                format!("Joined {:?} ({}).", name, space.id()),
                json!({"id": space.id(), "name": name}),
            )
        }
        SpaceCommand::Invites { space } => {
            let space = find_space(&app, space)?;
            let zone = space.time_zone()?;
            let invites = space.invites(now())?;
            let state = |i: &safespaces_core::app::InviteStatus| match i.state {
                InviteState::Open if i.claimed => "claimed, not used",
                InviteState::Open => "open",
                InviteState::Used => "used",
                InviteState::Revoked => "withdrawn",
                InviteState::Expired => "expired",
            };
            let human = if invites.is_empty() {
                "No invites.".to_string()
            } else {
                invites
                    .iter()
                    .map(|i| {
                        format!(
                            "{}  {:<11} {:<17} expires {}",
                            i.invite_id,
                            i.role.as_str(),
                            state(i),
                            show_time(&zone, i.expires_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let json: Vec<Value> = invites
                .iter()
                .map(|i| {
                    json!({"id": i.invite_id, "role": i.role.as_str(), "state": state(i),
                           "claimed": i.claimed, "expires_at": i.expires_at.0,
                           "used_by": i.used_by.as_ref().map(|m| m.to_string())})
                })
                .collect();
            out(human, Value::Array(json))
        }
        SpaceCommand::RevokeInvite { space, invite } => {
            let space = find_space(&app, space)?;
            space.revoke_invite(invite, now())?;
            out(
                format!("Invite {invite} withdrawn; nobody can join with it now."),
                json!({"revoked": invite}),
            )
        }
        SpaceCommand::Pending => {
            let pending = app.pending_joins()?;
            let human = if pending.is_empty() {
                "No joins waiting.".to_string()
            } else {
                pending
                    .iter()
                    .map(|p| {
                        format!(
                            "{:?} as {}, until {}",
                            p.space_name,
                            p.role.as_str(),
                            show_time(&SpaceZone::device(), p.expires_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let json: Vec<Value> = pending
                .iter()
                .map(|p| json!({"id": p.space, "name": p.space_name, "role": p.role.as_str(), "expires_at": p.expires_at.0}))
                .collect();
            out(human, Value::Array(json))
        }
        SpaceCommand::Members { space } => {
            let space = find_space(&app, space)?;
            let members = space.members()?;
            let today = now();
            let mut lines = Vec::new();
            let mut rows = Vec::new();
            for (id, m) in members.iter().filter(|(_, m)| m.is_active()) {
                let cleared = space.clearance(id, today)?.cleared;
                lines.push(format!(
                    "{}  {:<20} {:<12}{}",
                    id,
                    m.pseudonym,
                    m.role.as_str(),
                    if cleared { " cleared to lead" } else { "" }
                ));
                rows.push(
                    json!({"id": id.as_str(), "pseudonym": m.pseudonym, "role": m.role.as_str(),
                                 "cleared_to_lead": cleared, "joined_at": m.joined_at.0}),
                );
            }
            out(lines.join("\n"), Value::Array(rows))
        }
        SpaceCommand::Remove { space, member } => {
            let space = find_space(&app, space)?;
            let (id, m) = find_member(&space, member)?;
            space.remove_member(&id, now())?;
            out(
                format!(
                    "Removed {}. The space now uses a new key; your next bundle or sync hands it to everyone else.",
                    m.pseudonym
                ),
                json!({"removed": id.as_str()}),
            )
        }
        SpaceCommand::Leave { space } => {
            let space = find_space(&app, space)?;
            space.leave(now())?;
            out(
                "You left the space. It stays here, read-only, until you forget it (space forget).",
                json!({"left": space.id()}),
            )
        }
        SpaceCommand::Forget { space } => {
            let space = find_space(&app, space)?;
            app.forget_space(&space.id())?;
            out(
                "The space is deleted from this device.",
                json!({"forgotten": space.id()}),
            )
        }
    }
}

fn kind(arg: KindArg) -> SessionKind {
    match arg {
        KindArg::Wellbeing => SessionKind::WellbeingEvent,
        KindArg::Social => SessionKind::SocialActivity,
        KindArg::Discussion => SessionKind::SurvivorDiscussionGroup,
        KindArg::Other => SessionKind::Other,
    }
}

fn place_text(place: &MyPlace) -> (String, Value) {
    match place {
        MyPlace::Recorded(Place::Attending) => {
            ("you have a place".into(), json!({"state": "attending"}))
        }
        MyPlace::Recorded(Place::Waitlisted { position }) => (
            format!("you are number {position} on the waitlist"),
            json!({"state": "waitlisted", "position": position}),
        ),
        MyPlace::Recorded(Place::Cancelled) => {
            ("you cancelled".into(), json!({"state": "cancelled"}))
        }
        MyPlace::Recorded(Place::NotSignedUp) | MyPlace::None => {
            ("not signed up".into(), json!({"state": "not_signed_up"}))
        }
        MyPlace::Requested(SignUpState::Attending) => (
            "requested; a lead of the session records it when you sync".into(),
            json!({"state": "requested"}),
        ),
        MyPlace::Requested(SignUpState::Cancelled) => (
            "cancellation requested; a lead records it when you sync".into(),
            json!({"state": "cancellation_requested"}),
        ),
        MyPlace::Blocked(state, why) => {
            let (reason, text) = match why {
                Blocked::Cancelled => ("cancelled", "the session was cancelled"),
                Blocked::SignupsClosed => ("signups_closed", "sign-ups for it had closed"),
                Blocked::NoClearedLead => (
                    "no_cleared_lead",
                    "it has no lead cleared at its start yet; your request goes out when it has one",
                ),
            };
            let asked = match state {
                SignUpState::Attending => "requested",
                SignUpState::Cancelled => "cancellation requested",
            };
            (
                format!("{asked}, not recorded: {text}"),
                json!({"state": if *state == SignUpState::Attending { "requested" } else { "cancellation_requested" },
                       "blocked": reason}),
            )
        }
    }
}

fn session_json(id: &SessionId, s: &Session, zone: &SpaceZone) -> Value {
    let now = now();
    json!({
        "id": id.as_str(), "kind": s.kind.as_str(), "title": s.title, "description": s.description,
        "starts_at": zone.rfc9557(s.starts_at), "ends_at": zone.rfc9557(s.ends_at()),
        "duration_minutes": s.duration_minutes, "location": s.location,
        "capacity": s.capacity, "content_notes": s.content_notes, "accessibility": s.accessibility,
        "status": s.status_at(now).as_str(), "signups_open": s.signups_open(now),
        "series": s.series.as_ref().map(|id| id.as_str()), "occurrence": s.occurrence,
        "signups_close_at": zone.rfc9557(s.signups_close_at()),
    })
}

/// The edit `session edit` asks for, with times read in `zone`.
fn session_edit(args: &SessionEditArgs, zone: &SpaceZone) -> Result<SessionEdit, Failure> {
    Ok(SessionEdit {
        kind: args.kind.map(kind),
        title: args.title.clone(),
        description: args.description.clone(),
        starts_at: args
            .starts
            .as_deref()
            .map(|t| parse_time(zone, t))
            .transpose()
            .map_err(Failure::refused)?,
        duration_minutes: args
            .duration
            .as_deref()
            .map(parse_minutes)
            .transpose()
            .map_err(Failure::refused)?,
        location: args.location.clone(),
        capacity: args.capacity,
        content_notes: None,
        accessibility: args.accessibility.clone(),
        signups_close_before_minutes: args
            .close_signups_before
            .as_deref()
            .map(parse_minutes_or_zero)
            .transpose()
            .map_err(Failure::refused)?,
    })
}

fn session(cli: &Cli, cmd: &SessionCommand) -> Result<Out, Failure> {
    let app = unlock(cli)?;
    match cmd {
        SessionCommand::Add(add) => {
            let space = find_space(&app, &add.space)?;
            let zone = space.time_zone()?;
            let draft = SessionDraft {
                kind: kind(add.kind),
                title: add.title.clone(),
                description: add.description.clone(),
                starts_at: parse_time(&zone, &add.starts).map_err(Failure::refused)?,
                duration_minutes: parse_minutes(&add.duration).map_err(Failure::refused)?,
                location: add.location.clone(),
                capacity: add.capacity,
                content_notes: add.content_notes.clone(),
                accessibility: add.accessibility.clone(),
                signups_close_before_minutes: add
                    .close_signups_before
                    .as_deref()
                    .map(parse_minutes_or_zero)
                    .transpose()
                    .map_err(Failure::refused)?,
            };
            if add.repeat.is_some() {
                let end = match (add.count, &add.until) {
                    (Some(n), None) => SeriesEnd::Count(n),
                    (None, Some(until)) => SeriesEnd::Until(zone.parse_date(until)?),
                    _ => {
                        return Err(Failure::refused(
                            "a series needs --count N or --until YYYY-MM-DD",
                        ));
                    }
                };
                let rule = SeriesRule {
                    every_weeks: add.every,
                    end,
                };
                let (series, ids) = space.create_series(draft, rule, now())?;
                let sessions = space.series_sessions(&series)?;
                let mut human = format!(
                    "Planned {:?}: {} sessions (series {series}), {} time.",
                    add.title,
                    ids.len(),
                    zone.name()
                );
                for (id, s) in &sessions {
                    human.push_str(&format!("\n{id}  {}", show_time(&zone, s.starts_at)));
                }
                return out(
                    human,
                    json!({"series": series.as_str(),
                           "sessions": sessions.iter().map(|(id, s)| json!({
                               "id": id.as_str(), "starts_at": zone.rfc9557(s.starts_at)
                           })).collect::<Vec<_>>()}),
                );
            }
            let id = space.create_session(draft, now())?;
            out(
                format!("Planned {:?} ({id}).", add.title),
                json!({"id": id.as_str()}),
            )
        }
        SessionCommand::Edit(args) => {
            let space = find_space(&app, &args.space)?;
            let zone = space.time_zone()?;
            let (id, _) = find_session(&space, &args.session)?;
            let edit = session_edit(args, &zone)?;
            let edited = if args.following {
                space.edit_series_from(&id, edit)?
            } else {
                space.edit_session(&id, edit)?;
                vec![id]
            };
            out(
                format!("Edited {} session(s).", edited.len()),
                json!({"edited": edited.iter().map(|id| id.as_str()).collect::<Vec<_>>()}),
            )
        }
        SessionCommand::Reinstate { space, session } => {
            let space = find_space(&app, space)?;
            let (id, _) = find_session(&space, session)?;
            space.reinstate_session(&id)?;
            out("Session reinstated.", json!({"reinstated": id.as_str()}))
        }
        SessionCommand::List { space, past } => {
            let space = find_space(&app, space)?;
            let zone = space.time_zone()?;
            let mut lines = Vec::new();
            let mut rows = Vec::new();
            let sessions = if *past {
                space.past_sessions(now())?
            } else {
                space.upcoming_sessions(now())?
            };
            for (id, s) in sessions {
                let roster = space.roster(&id)?;
                lines.push(format!(
                    "{}  {}  {:<30} {}/{} places{}{}",
                    id,
                    show_time(&zone, s.starts_at),
                    s.title,
                    roster.attending,
                    roster.capacity,
                    if roster.waitlisted > 0 {
                        format!(", {} waiting", roster.waitlisted)
                    } else {
                        String::new()
                    },
                    match s.status_at(now()) {
                        safespaces_core::model::SessionStatus::Planned => String::new(),
                        status => format!(" [{}]", status.as_str()),
                    }
                ));
                let mut row = session_json(&id, &s, &zone);
                row["attending"] = json!(roster.attending);
                row["waitlisted"] = json!(roster.waitlisted);
                rows.push(row);
            }
            out(lines.join("\n"), Value::Array(rows))
        }
        SessionCommand::Warnings { space } => {
            let space = find_space(&app, space)?;
            let zone = space.time_zone()?;
            let mut lines = Vec::new();
            let mut rows = Vec::new();
            for w in space.clearance_warnings(now())? {
                let uncleared: Vec<&str> =
                    w.uncleared.iter().map(|l| l.pseudonym.as_str()).collect();
                lines.push(format!(
                    "{}  {}  {:<30} {}",
                    w.session,
                    show_time(&zone, w.starts_at),
                    w.title,
                    clearance_warning_text(w.no_cleared_lead, &uncleared)
                ));
                rows.push(json!({"session": w.session.as_str(), "title": w.title,
                                 "starts_at": zone.rfc9557(w.starts_at), "no_cleared_lead": w.no_cleared_lead,
                                 "uncleared": uncleared}));
            }
            if lines.is_empty() {
                lines.push("Every planned session has a lead cleared at its start.".into());
            }
            out(lines.join("\n"), Value::Array(rows))
        }
        SessionCommand::Show { space, session } => {
            let space = find_space(&app, space)?;
            let (id, s) = find_session(&space, session)?;
            let zone = space.time_zone()?;
            let warning = space
                .clearance_warnings(now())?
                .into_iter()
                .find(|w| w.session == id);
            let roster = space.roster(&id)?;
            let leads = space.session_leads(&id, now())?;
            let conflicts = space.session_conflicts(&id)?;
            let attendees = space.attendees(&id)?;
            let (place, place_json) = place_text(&space.my_place(&id, now())?);
            let mut human = format!(
                "{}\n{} · {} · {} min · {}\nStatus: {}\nPlaces: {}/{} taken, {} waiting\nYou: {place}\n",
                s.title,
                s.kind.as_str().replace('_', " "),
                show_time(&zone, s.starts_at),
                s.duration_minutes,
                if s.location.is_empty() {
                    "location to be announced"
                } else {
                    &s.location
                },
                s.status_at(now()).as_str(),
                roster.attending,
                roster.capacity,
                roster.waitlisted
            );
            if !s.description.is_empty() {
                human.push_str(&format!("\n{}\n", s.description));
            }
            for note in &s.content_notes {
                human.push_str(&format!("Content note: {note}\n"));
            }
            if !s.accessibility.is_empty() {
                human.push_str(&format!("Accessibility: {}\n", s.accessibility));
            }
            for lead in &leads {
                human.push_str(&format!(
                    "{}: {}{}\n",
                    match lead.state {
                        LeadState::Accepted => "Lead",
                        LeadState::Offered => "Offered to lead",
                        LeadState::Declined => "Offer declined",
                    },
                    lead.pseudonym,
                    if lead.clearance.cleared {
                        ""
                    } else {
                        " (not cleared to lead yet)"
                    }
                ));
            }
            if let Some(w) = &warning {
                let uncleared: Vec<&str> =
                    w.uncleared.iter().map(|l| l.pseudonym.as_str()).collect();
                human.push_str(&format!(
                    "Warning: {}\n",
                    clearance_warning_text(w.no_cleared_lead, &uncleared)
                ));
            }
            for attendee in &attendees {
                human.push_str(&format!(
                    "Attendee: {} ({:?}){}\n",
                    attendee.holder.pseudonym,
                    attendee.place,
                    if attendee.verified {
                        ""
                    } else {
                        " UNVERIFIED: no device of theirs asked for this place"
                    }
                ));
            }
            for conflict in &conflicts {
                human.push_str(&format!(
                    "Conflict: {} was changed on two devices at once: {:?}\n",
                    conflict.field, conflict.values
                ));
            }
            let mut json = session_json(&id, &s, &zone);
            json["attending"] = json!(roster.attending);
            json["waitlisted"] = json!(roster.waitlisted);
            json["my_place"] = place_json;
            json["leads"] = leads
                .iter()
                .map(|l| {
                    json!({"member": l.member.as_str(), "pseudonym": l.pseudonym,
                                "state": l.state.as_str(), "cleared": l.clearance.cleared})
                })
                .collect();
            json["attendees"] = attendees
                .iter()
                .map(|a| {
                    json!({"pseudonym": a.holder.pseudonym, "member": a.holder.member.as_str(),
                               "place": format!("{:?}", a.place), "verified": a.verified})
                })
                .collect();
            json["conflicts"] = serde_json::to_value(&conflicts).unwrap_or(Value::Null);
            json["no_cleared_lead_at_start"] = json!(warning.is_some_and(|w| w.no_cleared_lead));
            out(human, json)
        }
        SessionCommand::Signup { space, session }
        | SessionCommand::CancelSignup { space, session } => {
            let state = if matches!(cmd, SessionCommand::Signup { .. }) {
                SignUpState::Attending
            } else {
                SignUpState::Cancelled
            };
            let space = find_space(&app, space)?;
            let (id, _) = find_session(&space, session)?;
            let (text, json) = place_text(&space.sign_up(&id, state, now())?);
            out(format!("Done: {text}."), json)
        }
        SessionCommand::Volunteer {
            space,
            session,
            following,
        } => {
            let space = find_space(&app, space)?;
            let (id, _) = find_session(&space, session)?;
            let offered = if *following {
                space.volunteer_from(&id, now())?
            } else {
                space.volunteer_to_lead(&id, now())?;
                vec![id.clone()]
            };
            let me = space.my_member_id()?;
            let cleared = space.clearance(&me, now())?.cleared;
            let accepted = space
                .session_leads(&id, now())?
                .into_iter()
                .any(|l| l.member == me && l.state == LeadState::Accepted);
            let decision = if accepted {
                "you lead it"
            } else {
                "a coordinator or one of its leads will accept or decline your offer"
            };
            let what = if offered.len() > 1 {
                format!("You volunteered to lead {} sessions", offered.len())
            } else {
                "You volunteered to lead".to_string()
            };
            let sessions: Vec<&str> = offered.iter().map(|s| s.as_str()).collect();
            out(
                if cleared {
                    format!("{what}; {decision}; you are cleared to lead.")
                } else {
                    format!(
                        "{what}; {decision}; you need current signposting and trauma-informed training to be cleared."
                    )
                },
                json!({"volunteered": id.as_str(), "sessions": sessions, "accepted": accepted, "cleared": cleared}),
            )
        }
        SessionCommand::Accept {
            space,
            session,
            member,
            following,
        }
        | SessionCommand::Decline {
            space,
            session,
            member,
            following,
        } => {
            let accept = matches!(cmd, SessionCommand::Accept { .. });
            let space = find_space(&app, space)?;
            let (id, _) = find_session(&space, session)?;
            let (who, m) = find_member(&space, member)?;
            let decided = if *following {
                space.decide_lead_from(&id, &who, accept, now())?
            } else {
                space.decide_lead(&id, &who, accept, now())?;
                vec![id.clone()]
            };
            let state = if accept { "accepted" } else { "declined" };
            let sessions: Vec<&str> = decided.iter().map(|s| s.as_str()).collect();
            out(
                if decided.len() > 1 {
                    format!(
                        "{}'s offer to lead is {state} for {} sessions.",
                        m.pseudonym,
                        decided.len()
                    )
                } else {
                    format!("{}'s offer to lead is {state}.", m.pseudonym)
                },
                json!({"session": id.as_str(), "member": who.as_str(), "state": state, "sessions": sessions}),
            )
        }
        SessionCommand::NameLead {
            space,
            session,
            member,
        } => {
            let space = find_space(&app, space)?;
            let (id, _) = find_session(&space, session)?;
            let (who, m) = find_member(&space, member)?;
            space.name_lead(&id, &who, now())?;
            let cleared = space.clearance(&who, now())?.cleared;
            out(
                format!(
                    "{} now leads this session{}.",
                    m.pseudonym,
                    if cleared {
                        ""
                    } else {
                        " (not cleared to lead yet)"
                    }
                ),
                json!({"session": id.as_str(), "member": who.as_str(), "state": "accepted",
                       "cleared": cleared}),
            )
        }
        SessionCommand::Withdraw {
            space,
            session,
            member,
        } => {
            let space = find_space(&app, space)?;
            let (id, _) = find_session(&space, session)?;
            let who = match member {
                Some(typed) => find_member(&space, typed)?.0,
                None => space.my_member_id()?,
            };
            space.withdraw_lead(&id, &who)?;
            out(
                "Withdrawn from leading this session.",
                json!({"session": id.as_str(), "member": who.as_str(), "withdrawn": true}),
            )
        }
        SessionCommand::Cancel {
            space,
            session,
            following,
        } => {
            let space = find_space(&app, space)?;
            let (id, _) = find_session(&space, session)?;
            let cancelled = if *following {
                space.cancel_series_from(&id)?
            } else {
                space.cancel_session(&id)?;
                vec![id]
            };
            out(
                format!("Cancelled {} session(s).", cancelled.len()),
                json!({"cancelled": cancelled.iter().map(|id| id.as_str()).collect::<Vec<_>>()}),
            )
        }
    }
}

fn module(arg: ModuleArg) -> TrainingModule {
    match arg {
        ModuleArg::Signposting => TrainingModule::Signposting,
        ModuleArg::TraumaInformed => TrainingModule::TraumaInformed,
    }
}

/// What a clearance warning says, in words.
fn clearance_warning_text(no_cleared_lead: bool, uncleared: &[&str]) -> String {
    let lapsed = if uncleared.is_empty() {
        String::new()
    } else {
        format!("not cleared at its start: {}", uncleared.join(", "))
    };
    match (no_cleared_lead, lapsed.is_empty()) {
        (true, true) => "no lead yet".into(),
        (true, false) => format!("no lead cleared at its start ({lapsed})"),
        (false, _) => lapsed,
    }
}

fn training(cli: &Cli, cmd: &TrainingCommand) -> Result<Out, Failure> {
    let app = unlock(cli)?;
    match cmd {
        TrainingCommand::Record {
            space,
            member,
            module: m,
            completed,
            expires,
        } => {
            let space = find_space(&app, space)?;
            let (member_id, member) = find_member(&space, member)?;
            let zone = space.time_zone()?;
            let completed = parse_time(&zone, completed).map_err(Failure::refused)?;
            let expires = match expires {
                Some(e) => parse_time(&zone, e).map_err(Failure::refused)?,
                None => completed.plus_secs(ONE_YEAR),
            };
            let id = space.record_training(&member_id, module(*m), completed, expires)?;
            out(
                format!(
                    "Recorded {} for {} (expires {}).",
                    module(*m).as_str().replace('_', "-"),
                    member.pseudonym,
                    show_date(&zone, expires)
                ),
                json!({"id": id.as_str(), "member": member_id.as_str(), "module": module(*m).as_str(),
                       "completed_at": zone.rfc9557(completed), "expires_at": zone.rfc9557(expires)}),
            )
        }
        TrainingCommand::Expiring { space, days } => {
            let space = find_space(&app, space)?;
            let zone = space.time_zone()?;
            let mut lines = Vec::new();
            let mut rows = Vec::new();
            for e in space.expiring_clearances(now(), *days)? {
                lines.push(format!(
                    "{} lapses {}{}",
                    e.pseudonym,
                    show_date(&zone, e.lapses_at),
                    if e.sessions.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; leads {} planned session(s) after that: {}",
                            e.sessions.len(),
                            e.sessions
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ));
                rows.push(json!({"member": e.member.as_str(), "pseudonym": e.pseudonym,
                                 "lapses_at": zone.rfc9557(e.lapses_at),
                                 "sessions": e.sessions.iter().map(|s| s.as_str()).collect::<Vec<_>>()}));
            }
            if lines.is_empty() {
                lines.push(format!(
                    "Nobody's clearance lapses in the next {days} days."
                ));
            }
            out(lines.join("\n"), Value::Array(rows))
        }
        TrainingCommand::List { space } => {
            let space = find_space(&app, space)?;
            let zone = space.time_zone()?;
            let members = space.members()?;
            let name = |id: &MemberId| {
                members
                    .iter()
                    .find(|(m, _)| m == id)
                    .map(|(_, m)| m.pseudonym.clone())
                    .unwrap_or_default()
            };
            let mut lines = Vec::new();
            let mut rows = Vec::new();
            for (id, r) in space.training_records()? {
                lines.push(format!(
                    "{:<20} {:<16} {} → {}",
                    name(&r.member),
                    r.module.as_str().replace('_', "-"),
                    show_date(&zone, r.completed_at),
                    show_date(&zone, r.expires_at)
                ));
                rows.push(json!({"id": id.as_str(), "member": r.member.as_str(), "module": r.module.as_str(),
                                 "completed_at": zone.rfc9557(r.completed_at),
                                 "expires_at": zone.rfc9557(r.expires_at)}));
            }
            out(lines.join("\n"), Value::Array(rows))
        }
    }
}

fn category(arg: CategoryArg) -> ResourceCategory {
    match arg {
        CategoryArg::Crisis => ResourceCategory::CrisisLine,
        CategoryArg::Clinical => ResourceCategory::Clinical,
        CategoryArg::Legal => ResourceCategory::Legal,
        CategoryArg::University => ResourceCategory::University,
        CategoryArg::Peer => ResourceCategory::PeerCommunity,
    }
}

fn resource(cli: &Cli, cmd: &ResourceCommand) -> Result<Out, Failure> {
    let app = unlock(cli)?;
    match cmd {
        ResourceCommand::Add {
            space,
            category: c,
            name,
            contact,
            hours,
            notes,
        } => {
            let space = find_space(&app, space)?;
            let id = space.add_resource(Resource {
                category: category(*c),
                name: name.clone(),
                contact: contact.clone(),
                hours: hours.clone(),
                notes: notes.clone(),
            })?;
            out(format!("Added {name:?}."), json!({"id": id.as_str()}))
        }
        ResourceCommand::List { space, category: c } => {
            let space = find_space(&app, space)?;
            let mut lines = Vec::new();
            let mut rows = Vec::new();
            for (id, r) in space.resources(c.map(category))? {
                lines.push(format!(
                    "[{}] {} — {}{}{}",
                    r.category.as_str().replace('_', " "),
                    r.name,
                    r.contact,
                    if r.hours.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.hours)
                    },
                    if r.notes.is_empty() {
                        String::new()
                    } else {
                        format!(". {}", r.notes)
                    }
                ));
                let mut row = serde_json::to_value(&r).unwrap_or(Value::Null);
                row["id"] = json!(id.as_str());
                rows.push(row);
            }
            out(lines.join("\n"), Value::Array(rows))
        }
    }
}

fn journal(cli: &Cli, cmd: &JournalCommand) -> Result<Out, Failure> {
    let app = unlock(cli)?;
    let journal = app.journal();
    let find = |typed: &str| -> Result<safespaces_core::model::EntryId, Failure> {
        let entries = journal.entries()?;
        let candidates: Vec<(String, String, safespaces_core::model::EntryId)> = entries
            .into_iter()
            .map(|e| (e.id.to_string(), String::new(), e.id))
            .collect();
        Ok(pick("journal entry", typed, &candidates)?.clone())
    };
    match cmd {
        JournalCommand::Add { text, mood, tags } => {
            let id = journal.add(text, *mood, tags, now())?;
            out(format!("Saved ({id})."), json!({"id": id.as_str()}))
        }
        JournalCommand::List { tag } => {
            let entries = match tag {
                Some(tag) => journal.with_tag(tag)?,
                None => journal.entries()?,
            };
            let mut lines = Vec::new();
            for e in &entries {
                lines.push(format!(
                    "{}  {}{}{}\n  {}",
                    e.id,
                    show_time(&SpaceZone::device(), e.created_at),
                    e.mood.map(|m| format!("  mood {m}/5")).unwrap_or_default(),
                    if e.tags.is_empty() {
                        String::new()
                    } else {
                        format!("  #{}", e.tags.join(" #"))
                    },
                    e.text.replace('\n', "\n  ")
                ));
            }
            out(
                lines.join("\n"),
                serde_json::to_value(&entries).unwrap_or(Value::Null),
            )
        }
        JournalCommand::Edit { id, text } => {
            let id = find(id)?;
            journal.edit(
                &id,
                safespaces_core::model::JournalEdit {
                    text: Some(text.clone()),
                    ..Default::default()
                },
                now(),
            )?;
            out("Saved.", json!({"id": id.as_str()}))
        }
        JournalCommand::Delete { id } => {
            let id = find(id)?;
            journal.delete(&id)?;
            out(
                "Deleted, and removed from the journal's history.",
                json!({"deleted": id.as_str()}),
            )
        }
        JournalCommand::Sync { state } => {
            let on = *state == crate::args::OnOff::On;
            journal.set_sync(on)?;
            out(
                if on {
                    "Journal sync is on: your own linked devices get your journal when they sync."
                } else {
                    "Journal sync is off: your journal stays on this device."
                },
                json!({"journal_sync": on}),
            )
        }
        JournalCommand::Export {
            out: path,
            format,
            export_passphrase_env,
        } => {
            let pass = other_passphrase(export_passphrase_env.as_deref(), "Export passphrase: ")?;
            let format = match format {
                FormatArg::Markdown => JournalFormat::Markdown,
                FormatArg::Json => JournalFormat::Json,
            };
            let bytes = journal.export(format, &pass)?;
            write_private(path, &bytes)?;
            out(
                format!(
                    "Wrote your journal to {} (open it with: age -d {}).",
                    path.display(),
                    path.display()
                ),
                json!({"export": path, "bytes": bytes.len()}),
            )
        }
    }
}

fn bundle(cli: &Cli, cmd: &BundleCommand) -> Result<Out, Failure> {
    let app = unlock(cli)?;
    match cmd {
        BundleCommand::Export { space, out: path } => {
            let space = find_space(&app, space)?;
            let bytes = space.export_bundle()?;
            write_private(path, &bytes)?;
            out(
                format!(
                    "Wrote a bundle for {:?} to {}.",
                    space.name()?,
                    path.display()
                ),
                json!({"bundle": path, "bytes": bytes.len(), "space": space.id()}),
            )
        }
        BundleCommand::Import { file } => {
            let bytes = std::fs::read(file)?;
            let report = app.import_bundle(&bytes, now())?;
            out(
                format!(
                    "Imported: {} changes applied, {} refused, {} sign-ups recorded.",
                    report.applied, report.refused, report.requests_recorded
                ),
                json!({"space": report.space, "applied": report.applied, "refused": report.refused,
                       "requests_recorded": report.requests_recorded}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safespaces_core::app::{SequenceAlert, SyncReport};

    #[test]
    fn a_sync_that_noticed_missing_or_reused_envelopes_warns_once_per_kind() {
        assert_eq!(sequence_warnings(&SyncReport::default()), "");
        let report = SyncReport {
            sequence_alerts: vec![
                SequenceAlert {
                    space: "aa".into(),
                    missing: 2,
                    reused: 0,
                },
                SequenceAlert {
                    space: "bb".into(),
                    missing: 1,
                    reused: 1,
                },
            ],
            ..SyncReport::default()
        };
        let text = sequence_warnings(&report);
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("Warning: space aa: 2 envelope(s)"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("Warning: space bb: 1 envelope(s)"),
            "{text}"
        );
        assert!(lines[2].contains("under one number"), "{text}");
    }
}
