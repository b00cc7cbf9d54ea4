//! The command's exit codes: stable, for scripts, and the authority for the
//! table in `docs/cli.md` (a test checks the two match word for word).
//!
//! A core failure's code comes from its [`ErrorClass`], the same
//! classification the FFI's `SafeSpacesError` is chosen from, so a script
//! and an app never disagree on what kind of failure something was. Only
//! [`ExitCode::Usage`] is the command line's own.

use safespaces_core::app::ErrorClass;

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// It did what was asked.
    Success = 0,
    /// A bug, or the device's storage failed.
    Unexpected = 1,
    /// The command line was wrong or incomplete; nothing was done.
    Usage = 2,
    /// The passphrase is wrong, or the profile is locked.
    Unlock = 3,
    /// The relay could not be reached, or is not the pinned one.
    Network = 4,
    /// Refused, and nothing changed: not permitted, bad input, an unknown
    /// name, an unusable invite, input not meant for this device, a relay
    /// refusal.
    Refused = 5,
    /// The profile is not in a state to use: none there, one already
    /// there, or its stored data damaged.
    Profile = 6,
}

impl ExitCode {
    /// Every code, in order: the rows of `docs/cli.md`'s table.
    #[cfg(test)]
    const ALL: [ExitCode; 7] = [
        ExitCode::Success,
        ExitCode::Unexpected,
        ExitCode::Usage,
        ExitCode::Unlock,
        ExitCode::Network,
        ExitCode::Refused,
        ExitCode::Profile,
    ];

    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// What the code means, as `docs/cli.md` says it.
    #[cfg(test)]
    fn meaning(self) -> &'static str {
        match self {
            ExitCode::Success => "success",
            ExitCode::Unexpected => {
                "unexpected failure: a bug, or the device's storage failed (disk full, permissions)"
            }
            ExitCode::Usage => {
                "usage error (bad arguments, missing `--yes`, no passphrase source); nothing was done"
            }
            ExitCode::Unlock => "wrong passphrase, or the profile is locked",
            ExitCode::Network => {
                "network failure: the relay cannot be reached, or its certificate does not match the pin"
            }
            ExitCode::Refused => {
                "refused, nothing changed: not permitted, invalid input, unknown or ambiguous name, \
                 an unusable invite or link code, a bundle or other input not meant for this device \
                 or damaged on the way, or the relay refused"
            }
            ExitCode::Profile => {
                "no profile there, one already exists, or this device's stored data is damaged \
                 (or was written by another version)"
            }
        }
    }
}

impl From<ErrorClass> for ExitCode {
    fn from(class: ErrorClass) -> Self {
        match class {
            ErrorClass::Locked | ErrorClass::WrongSecret => ExitCode::Unlock,
            ErrorClass::Offline | ErrorClass::PinMismatch => ExitCode::Network,
            // Input from outside that is refused changed nothing here: the
            // person is told so, and her data is not called damaged.
            ErrorClass::NotAMember
            | ErrorClass::NotAllowed
            | ErrorClass::NotFound
            | ErrorClass::InviteUnusable
            | ErrorClass::InvalidInput
            | ErrorClass::RefusedInput
            | ErrorClass::RelayRefused => ExitCode::Refused,
            ErrorClass::NoProfile | ErrorClass::ProfileExists | ErrorClass::DamagedData => {
                ExitCode::Profile
            }
            ErrorClass::Storage | ErrorClass::Internal => ExitCode::Unexpected,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safespaces_core::app::{AppError, InputSource};
    use safespaces_core::profile::ProfileError;

    #[test]
    fn every_class_exits_with_its_documented_code() {
        for class in ErrorClass::ALL {
            let expected = match class {
                ErrorClass::Locked | ErrorClass::WrongSecret => 3,
                ErrorClass::Offline | ErrorClass::PinMismatch => 4,
                ErrorClass::NotAMember
                | ErrorClass::NotAllowed
                | ErrorClass::NotFound
                | ErrorClass::InviteUnusable
                | ErrorClass::InvalidInput
                | ErrorClass::RefusedInput
                | ErrorClass::RelayRefused => 5,
                ErrorClass::NoProfile | ErrorClass::ProfileExists | ErrorClass::DamagedData => 6,
                ErrorClass::Storage | ErrorClass::Internal => 1,
            };
            assert_eq!(ExitCode::from(class).code(), expected, "{class:?}");
        }
    }

    #[test]
    fn a_wrong_bundle_is_a_refusal_and_damaged_data_a_profile_state() {
        let wrong = AppError::RefusedInput {
            from: InputSource::Bundle,
            why: "it is for no space on this device",
            source: None,
        };
        assert_eq!(ExitCode::from(wrong.class()), ExitCode::Refused);
        let damaged = AppError::from(ProfileError::Corrupt("keyring".into()));
        assert_eq!(ExitCode::from(damaged.class()), ExitCode::Profile);
    }

    #[test]
    fn the_docs_table_is_this_one() {
        let doc = include_str!("../../docs/cli.md");
        let section = doc
            .split_once("## Exit codes\n")
            .map(|(_, rest)| rest)
            .expect("docs/cli.md has an exit codes section");
        let rows: Vec<(u8, &str)> = section
            .lines()
            .skip_while(|l| !l.starts_with("| code"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                assert_eq!(cells.len(), 2, "row {l:?}");
                (cells[0].parse().expect("a code"), cells[1])
            })
            .collect();
        let ours: Vec<(u8, &str)> = ExitCode::ALL
            .iter()
            .map(|c| (c.code(), c.meaning()))
            .collect();
        assert_eq!(
            rows, ours,
            "docs/cli.md's exit codes differ from cli/src/exit.rs"
        );
    }
}
