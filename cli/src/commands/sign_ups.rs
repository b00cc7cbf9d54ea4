//! Sign-ups: `session signup` and `session cancel-signup`, and how a
//! person's place in a session is shown (also by `session show`).

use safespaces_core::app::{Blocked, MyPlace, SafeSpaces};
use safespaces_core::model::{Place, SignUpState};
use serde::Serialize;

use super::output::Render;
use crate::failure::Failure;
use crate::resolve::{find_session, find_space};
use crate::times::now;

/// Where the person stands for one session: recorded by a lead, asked
/// for, or asked for and blocked as things stand.
#[derive(Serialize)]
pub struct PlaceShown {
    /// `attending`, `waitlisted`, `cancelled`, `not_signed_up`,
    /// `requested` or `cancellation_requested`.
    state: &'static str,
    /// The place in the waitlist (1 is next), only when waitlisted.
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<u32>,
    /// Why no lead will record the request as things stand, only then.
    #[serde(skip_serializing_if = "Option::is_none")]
    blocked: Option<&'static str>,
    #[serde(skip)]
    words: String,
}

impl PlaceShown {
    /// How `place` is shown.
    pub fn of(place: &MyPlace) -> Self {
        let shown = |state, words: &str| PlaceShown {
            state,
            position: None,
            blocked: None,
            words: words.to_string(),
        };
        match place {
            MyPlace::Recorded(Place::Attending) => shown("attending", "you have a place"),
            MyPlace::Recorded(Place::Waitlisted { position }) => PlaceShown {
                position: Some(*position),
                ..shown(
                    "waitlisted",
                    &format!("you are number {position} on the waitlist"),
                )
            },
            MyPlace::Recorded(Place::Cancelled) => shown("cancelled", "you cancelled"),
            MyPlace::Recorded(Place::NotSignedUp) | MyPlace::None => {
                shown("not_signed_up", "not signed up")
            }
            MyPlace::Requested(SignUpState::Attending) => shown(
                "requested",
                "requested; a lead of the session records it when you sync",
            ),
            MyPlace::Requested(SignUpState::Cancelled) => shown(
                "cancellation_requested",
                "cancellation requested; a lead records it when you sync",
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
                let (state, asked) = match state {
                    SignUpState::Attending => ("requested", "requested"),
                    SignUpState::Cancelled => ("cancellation_requested", "cancellation requested"),
                };
                PlaceShown {
                    blocked: Some(reason),
                    ..shown(state, &format!("{asked}, not recorded: {text}"))
                }
            }
        }
    }

    /// The place in words, as a clause ("you have a place").
    pub fn words(&self) -> &str {
        &self.words
    }
}

/// `session signup` / `cancel-signup`: where the person stands now.
#[derive(Serialize)]
#[serde(transparent)]
pub struct SignedUp(PlaceShown);

impl Render for SignedUp {
    fn human(&self) -> String {
        format!("Done: {}.", self.0.words())
    }
}

/// Asks for a place (`Attending`) or gives it up (`Cancelled`).
pub fn sign_up(
    app: &SafeSpaces,
    space: &str,
    session: &str,
    state: SignUpState,
) -> Result<SignedUp, Failure> {
    let space = find_space(app, space)?;
    let (id, _) = find_session(&space, session)?;
    Ok(SignedUp(PlaceShown::of(&space.sign_up(
        &id,
        state,
        now(),
    )?)))
}
