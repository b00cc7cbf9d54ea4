//! Sign-ups: where this person stands, the counts every member sees, and
//! the names only a session's leads see.

use safespaces_core::{app, model, protocol::attendance};

/// Whether a sign-up stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SignUpState {
    /// Wants to attend (perhaps on the waitlist).
    Attending,
    /// Cancelled.
    Cancelled,
}

impl From<model::SignUpState> for SignUpState {
    fn from(state: model::SignUpState) -> Self {
        match state {
            model::SignUpState::Attending => SignUpState::Attending,
            model::SignUpState::Cancelled => SignUpState::Cancelled,
        }
    }
}

impl From<SignUpState> for model::SignUpState {
    fn from(state: SignUpState) -> Self {
        match state {
            SignUpState::Attending => model::SignUpState::Attending,
            SignUpState::Cancelled => model::SignUpState::Cancelled,
        }
    }
}

/// Where someone stands for a session, as derived from the merged sign-ups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Place {
    /// Has a place.
    Attending,
    /// Waiting; `position` 1 is next in line.
    Waitlisted {
        /// 1-based position in the waitlist.
        position: u32,
    },
    /// Signed up once and cancelled.
    Cancelled,
    /// Never signed up.
    NotSignedUp,
}

impl From<model::Place> for Place {
    fn from(place: model::Place) -> Self {
        match place {
            model::Place::Attending => Place::Attending,
            model::Place::Waitlisted { position } => Place::Waitlisted { position },
            model::Place::Cancelled => Place::Cancelled,
            model::Place::NotSignedUp => Place::NotSignedUp,
        }
    }
}

/// Where this person stands for a session, as they see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum MyPlace {
    /// A lead has recorded it: the derived place.
    Recorded {
        /// The place.
        place: Place,
    },
    /// Asked for, not yet recorded by a lead (it travels with the next
    /// bundle or sync). Show it as "requested".
    Requested {
        /// What was asked.
        state: SignUpState,
    },
    /// Asked for, and as things stand no lead will record it: show the
    /// reason (every device derives it from the shared state).
    Blocked {
        /// What was asked.
        state: SignUpState,
        /// Why it is not being recorded.
        reason: BlockedReason,
    },
    /// Nothing asked.
    NothingAsked,
}

/// Why a request is not being recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum BlockedReason {
    /// The session was cancelled.
    Cancelled,
    /// Sign-ups had closed (it started, or was moved earlier), or it is over.
    SignupsClosed,
    /// No accepted lead is cleared at its start yet; the request goes out
    /// when one is.
    NoClearedLead,
}

impl From<app::MyPlace> for MyPlace {
    fn from(place: app::MyPlace) -> Self {
        match place {
            app::MyPlace::Recorded(place) => MyPlace::Recorded {
                place: place.into(),
            },
            app::MyPlace::Requested(state) => MyPlace::Requested {
                state: state.into(),
            },
            app::MyPlace::Blocked(state, reason) => MyPlace::Blocked {
                state: state.into(),
                reason: match reason {
                    app::Blocked::Cancelled => BlockedReason::Cancelled,
                    app::Blocked::SignupsClosed => BlockedReason::SignupsClosed,
                    app::Blocked::NoClearedLead => BlockedReason::NoClearedLead,
                },
            },
            app::MyPlace::None => MyPlace::NothingAsked,
        }
    }
}

/// The sign-up counts every member may see.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RosterView {
    /// Places taken.
    pub attending: u32,
    /// People waiting.
    pub waitlisted: u32,
    /// The session's capacity.
    pub capacity: u32,
}

impl From<app::RosterView> for RosterView {
    fn from(r: app::RosterView) -> Self {
        RosterView {
            attending: r.attending,
            waitlisted: r.waitlisted,
            capacity: r.capacity,
        }
    }
}

/// Someone signed up, as the session's leads see them.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Attendee {
    /// Their ticket for this session.
    pub ticket: String,
    /// Their member id.
    pub member: String,
    /// Their pseudonym when they signed up.
    pub pseudonym: String,
    /// Where they stand.
    pub place: Place,
    /// False for a ticket no device of theirs asked for (a lead made it
    /// up): it still takes a place, so show it to a coordinator.
    pub verified: bool,
}

impl From<attendance::Attendee> for Attendee {
    fn from(a: attendance::Attendee) -> Self {
        Attendee {
            ticket: a.ticket.to_string(),
            member: a.holder.member.to_string(),
            pseudonym: a.holder.pseudonym,
            place: a.place.into(),
            verified: a.verified,
        }
    }
}
