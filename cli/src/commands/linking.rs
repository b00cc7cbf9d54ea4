//! `link-device`: bringing a second device of the person's into every
//! space and the journal, on the new device (the offer) and on one she
//! already uses (the approval, once the fingerprints match).

use safespaces_core::app::{LINK_TTL, SafeSpaces};
use safespaces_core::relay::RelayTransport;
use serde::Serialize;

use super::output::Render;
use super::relay::block_on;
use crate::failure::Failure;
use crate::times::now;

/// `link-device` on the new device: linked, with the spaces it now has.
#[derive(Serialize)]
pub struct Linked {
    code: String,
    fingerprint: String,
    spaces: usize,
}

impl Render for Linked {
    fn human(&self) -> String {
        format!("Linked: {} space(s) now on this device.", self.spaces)
    }
}

/// On the new device: offers a link, shows its code and fingerprint, and
/// waits for a device the person already uses to approve it.
pub fn offer(app: &SafeSpaces, client: &RelayTransport) -> Result<Linked, Failure> {
    block_on(async {
        let offer = app.offer_link(client).await?;
        // Shown now, while waiting: the person types it on the other
        // device.
        eprintln!(
            "On a device you already use, run:\n  safespaces link-device --approve {}\nThis device's fingerprint: {}\nType it there when it asks; it sends nothing until it matches.\nWaiting up to 15 minutes…",
            offer.code, offer.fingerprint
        );
        let spaces = app.complete_link(client, &offer, LINK_TTL, now()).await?;
        Ok(Linked {
            code: offer.code.clone(),
            fingerprint: offer.fingerprint.clone(),
            spaces,
        })
    })
}

/// `link-device --approve` on the device the person already uses: the
/// new device's fingerprint, and the spaces it was added to.
#[derive(Serialize)]
pub struct Approved {
    fingerprint: String,
    spaces: usize,
}

impl Render for Approved {
    fn human(&self) -> String {
        format!(
            "Linked the device with fingerprint {}: added to {} space(s).",
            self.fingerprint, self.spaces
        )
    }
}

/// `link-device --approve CODE` on the device the person already uses:
/// claims the request, shows its fingerprint, and hands anything over
/// only once the person has typed (or passed with `--confirm`) the
/// fingerprint the new device shows. Without a terminal and without
/// `--confirm` it refuses before claiming anything, so the new device's
/// request stays for a run that can confirm.
pub fn approve(
    app: &SafeSpaces,
    client: &RelayTransport,
    code: &str,
    confirm: Option<&str>,
) -> Result<Approved, Failure> {
    use std::io::IsTerminal;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if confirm.is_none() && !interactive {
        return Err(Failure {
            code: crate::exit::ExitCode::Usage,
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
        Ok(spaces) => Ok(Approved {
            fingerprint: pending.fingerprint().to_string(),
            spaces,
        }),
        Err(e) => {
            // The request was claimed and this run ends here: answer it, so
            // nothing can go on to confirm it (a mismatch sent nothing).
            let _ = app.decline_link(&pending);
            Err(e.into())
        }
    }
}
