//! Running each command against `safespaces_core::app`. Every command
//! returns a typed result (`Serialize` for its `--json` shape, documented
//! in docs/cli.md, and [`output::Render`] for people); [`run`] picks the
//! command and [`Out::of`] turns its result into what `main` prints.
//!
//! # Layout
//! One file per command group, named for what it works on, and the shared
//! pieces the groups use (which never use this file back):
//! - `profile.rs`: `init`, `lock`, `wipe`, `passphrase`, `duress`,
//!   `backup`, `restore`.
//! - `space.rs`: `space create`, `time-zone`, `list`, `leave`, `forget`.
//! - `members.rs`: `space members`, `space remove`.
//! - `invites.rs`: `space invite`, `invites`, `revoke-invite`.
//! - `joining.rs`: `space join`, `admit`, `complete-join`, `pending`.
//! - `sessions.rs`: `session add`, `list`, `show`, `edit`, `cancel`,
//!   `reinstate`.
//! - `sign_ups.rs`: `session signup`, `cancel-signup`, and a person's
//!   place as shown.
//! - `leading.rs`: `session volunteer`, `accept`, `decline`, `name-lead`,
//!   `withdraw`, `warnings`.
//! - `training.rs`: `training record`, `list`, `expiring`.
//! - `signposting.rs`: `resource add`, `list`.
//! - `journal.rs`: `journal …`.
//! - `bundles.rs`: `bundle export`, `import`.
//! - `linking.rs`: `link-device`.
//! - `devices.rs`: `devices list`, `name`, `remove`.
//! - `sync.rs`: `sync`.
//! - Shared: `output.rs` (the `Render` trait and the printed pair),
//!   `open.rs` (opening and unlocking the profile), `relay.rs` (the relay
//!   client and the async runtime), `private_file.rs` (files only the user
//!   can read).

mod bundles;
mod devices;
mod invites;
mod joining;
mod journal;
mod leading;
mod linking;
mod members;
mod open;
mod output;
mod private_file;
mod profile;
mod relay;
mod sessions;
mod sign_ups;
mod signposting;
mod space;
mod sync;
mod training;

use safespaces_core::model::SignUpState;

use crate::args::{
    BundleCommand, Cli, Command, DevicesCommand, JournalCommand, OnOff, ResourceCommand,
    SessionCommand, SpaceCommand, TrainingCommand,
};
use crate::failure::Failure;
use open::unlock;
pub use output::Out;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Out, Failure> {
    let cli = &cli;
    match &cli.command {
        Command::Init => Out::of(&profile::init(cli)?),
        Command::Lock => Out::of(&profile::lock(cli)?),
        Command::Wipe { yes } => Out::of(&profile::wipe(cli, *yes)?),
        Command::Passphrase { new_passphrase_env } => Out::of(&profile::change_passphrase(
            cli,
            new_passphrase_env.as_deref(),
        )?),
        Command::Duress {
            duress_passphrase_env,
            remove,
        } => Out::of(&profile::duress(
            cli,
            duress_passphrase_env.as_deref(),
            *remove,
        )?),
        Command::Backup {
            out,
            backup_passphrase_env,
        } => Out::of(&profile::backup(
            cli,
            out,
            backup_passphrase_env.as_deref(),
        )?),
        Command::Restore {
            file,
            backup_passphrase_env,
        } => Out::of(&profile::restore(
            cli,
            file,
            backup_passphrase_env.as_deref(),
        )?),
        Command::Space(cmd) => space_command(cli, cmd),
        Command::Session(cmd) => session_command(cli, cmd),
        Command::Training(cmd) => training_command(cli, cmd),
        Command::Resource(cmd) => resource_command(cli, cmd),
        Command::Journal(cmd) => journal_command(cli, cmd),
        Command::Bundle(cmd) => bundle_command(cli, cmd),
        Command::LinkDevice {
            approve,
            confirm,
            relay,
        } => {
            let app = unlock(cli)?;
            let client = relay::client(&relay.relay, &relay.trust)?;
            match approve {
                Some(code) => Out::of(&linking::approve(&app, &client, code, confirm.as_deref())?),
                None => Out::of(&linking::offer(&app, &client)?),
            }
        }
        Command::Devices(cmd) => devices_command(cli, cmd),
        Command::Sync { relay } => Out::of(&sync::sync(unlock(cli)?, !cli.json, relay)?),
    }
}

fn space_command(cli: &Cli, cmd: &SpaceCommand) -> Result<Out, Failure> {
    let app = &unlock(cli)?;
    match cmd {
        SpaceCommand::Create {
            name,
            pseudonym,
            time_zone,
        } => Out::of(&space::create(app, name, pseudonym, time_zone.as_deref())?),
        SpaceCommand::TimeZone { space, zone } => {
            Out::of(&space::time_zone(app, space, zone.as_deref())?)
        }
        SpaceCommand::List => Out::of(&space::list(app)?),
        SpaceCommand::Invite {
            space,
            role,
            package_out,
            relay,
            trust,
        } => Out::of(&invites::invite(
            app,
            space,
            *role,
            package_out.as_deref(),
            relay.as_deref(),
            trust,
        )?),
        SpaceCommand::Join {
            code,
            pseudonym,
            package,
            request_out,
            relay,
            trust,
        } => Out::of(&joining::join(
            app,
            code,
            pseudonym,
            package.as_deref(),
            request_out.as_deref(),
            relay.as_deref(),
            trust,
        )?),
        SpaceCommand::Admit {
            space,
            request,
            welcome_out,
        } => Out::of(&joining::admit(app, space, request, welcome_out)?),
        SpaceCommand::CompleteJoin { welcome, bundle } => {
            Out::of(&joining::complete(app, welcome, bundle)?)
        }
        SpaceCommand::Invites { space } => Out::of(&invites::invites(app, space)?),
        SpaceCommand::RevokeInvite { space, invite } => {
            Out::of(&invites::revoke(app, space, invite)?)
        }
        SpaceCommand::Pending => Out::of(&joining::pending(app)?),
        SpaceCommand::Members { space } => Out::of(&members::members(app, space)?),
        SpaceCommand::Remove { space, member } => Out::of(&members::remove(app, space, member)?),
        SpaceCommand::Leave { space } => Out::of(&space::leave(app, space)?),
        SpaceCommand::Forget { space } => Out::of(&space::forget(app, space)?),
    }
}

fn session_command(cli: &Cli, cmd: &SessionCommand) -> Result<Out, Failure> {
    let app = &unlock(cli)?;
    match cmd {
        SessionCommand::Add(add) => Out::of(&sessions::add(app, add)?),
        SessionCommand::Edit(args) => Out::of(&sessions::edit(app, args)?),
        SessionCommand::Reinstate { space, session } => {
            Out::of(&sessions::reinstate(app, space, session)?)
        }
        SessionCommand::List { space, past } => Out::of(&sessions::list(app, space, *past)?),
        SessionCommand::Show { space, session } => Out::of(&sessions::show(app, space, session)?),
        SessionCommand::Cancel {
            space,
            session,
            following,
        } => Out::of(&sessions::cancel(app, space, session, *following)?),
        SessionCommand::Signup { space, session } => Out::of(&sign_ups::sign_up(
            app,
            space,
            session,
            SignUpState::Attending,
        )?),
        SessionCommand::CancelSignup { space, session } => Out::of(&sign_ups::sign_up(
            app,
            space,
            session,
            SignUpState::Cancelled,
        )?),
        SessionCommand::Volunteer {
            space,
            session,
            following,
        } => Out::of(&leading::volunteer(app, space, session, *following)?),
        SessionCommand::Accept {
            space,
            session,
            member,
            following,
        } => Out::of(&leading::decide(
            app, space, session, member, *following, true,
        )?),
        SessionCommand::Decline {
            space,
            session,
            member,
            following,
        } => Out::of(&leading::decide(
            app, space, session, member, *following, false,
        )?),
        SessionCommand::NameLead {
            space,
            session,
            member,
        } => Out::of(&leading::name_lead(app, space, session, member)?),
        SessionCommand::Withdraw {
            space,
            session,
            member,
        } => Out::of(&leading::withdraw(app, space, session, member.as_deref())?),
        SessionCommand::Warnings { space } => Out::of(&leading::warnings(app, space)?),
    }
}

fn training_command(cli: &Cli, cmd: &TrainingCommand) -> Result<Out, Failure> {
    let app = &unlock(cli)?;
    match cmd {
        TrainingCommand::Record {
            space,
            member,
            module,
            completed,
            expires,
        } => Out::of(&training::record(
            app,
            space,
            member,
            *module,
            completed,
            expires.as_deref(),
        )?),
        TrainingCommand::List { space } => Out::of(&training::list(app, space)?),
        TrainingCommand::Expiring { space, days } => {
            Out::of(&training::expiring(app, space, *days)?)
        }
    }
}

fn resource_command(cli: &Cli, cmd: &ResourceCommand) -> Result<Out, Failure> {
    let app = &unlock(cli)?;
    match cmd {
        ResourceCommand::Add {
            space,
            category,
            name,
            contact,
            hours,
            notes,
        } => Out::of(&signposting::add(
            app, space, *category, name, contact, hours, notes,
        )?),
        ResourceCommand::List { space, category } => {
            Out::of(&signposting::list(app, space, *category)?)
        }
    }
}

fn journal_command(cli: &Cli, cmd: &JournalCommand) -> Result<Out, Failure> {
    let app = unlock(cli)?;
    let journal = &app.journal();
    match cmd {
        JournalCommand::Add { text, mood, tags } => {
            Out::of(&journal::add(journal, text, *mood, tags)?)
        }
        JournalCommand::List { tag } => Out::of(&journal::list(journal, tag.as_deref())?),
        JournalCommand::Edit { id, text } => Out::of(&journal::edit(journal, id, text)?),
        JournalCommand::Delete { id } => Out::of(&journal::delete(journal, id)?),
        JournalCommand::Sync { state } => {
            Out::of(&journal::set_sync(journal, *state == OnOff::On)?)
        }
        JournalCommand::Export {
            out,
            format,
            export_passphrase_env,
        } => Out::of(&journal::export(
            journal,
            out,
            *format,
            export_passphrase_env.as_deref(),
        )?),
    }
}

fn bundle_command(cli: &Cli, cmd: &BundleCommand) -> Result<Out, Failure> {
    let app = &unlock(cli)?;
    match cmd {
        BundleCommand::Export { space, out } => Out::of(&bundles::export(app, space, out)?),
        BundleCommand::Import { file } => Out::of(&bundles::import(app, file)?),
    }
}

fn devices_command(cli: &Cli, cmd: &DevicesCommand) -> Result<Out, Failure> {
    let app = &unlock(cli)?;
    match cmd {
        DevicesCommand::List => Out::of(&devices::list(app)?),
        DevicesCommand::Name { device, name } => {
            Out::of(&devices::name(app, device, name.as_deref())?)
        }
        DevicesCommand::Remove { device, yes } => Out::of(&devices::remove(app, device, *yes)?),
    }
}
