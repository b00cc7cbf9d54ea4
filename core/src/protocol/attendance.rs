//! Attendance privacy: only a session's leads learn who signed up
//! (protocol.md §7).
//!
//! Everyone in a space can read the space document, and every change in it
//! is signed by its author's device. So an attendee never writes their own
//! sign-up: that would tell every member who is coming. Instead:
//!
//! 1. the attendee derives a **ticket key** for the session from a secret
//!    only their own devices hold ([`ticket_key`]), so all their devices agree
//!    on it and nobody else can link it to them; the ticket id is a hash of
//!    its public key ([`ticket_of_key`]);
//! 2. they sign a **statement** (state, time, counter) with the ticket key
//!    ([`sign_statement`]) and send it in an [`AttendanceRequest`] with who
//!    they are, signed by their device and sealed as an age file to the
//!    X25519 keys of the session's **accepted, cleared leads**' devices,
//!    inside an envelope of kind `AttendanceRequest` signed only with the
//!    epoch's anonymous key (members see that *someone* asked, not who);
//! 3. a lead opens it, checks it, and records `signups/<ticket> = {entry,
//!    sealed}` where `entry` is the statement as signed and `sealed` names
//!    the attendee, again only to the leads ([`apply_request`]). Every
//!    device checks the statement's signature under the ticket's key before
//!    applying the lead's change (protocol/authorship.rs), so a lead records
//!    places but cannot cancel one, move one in the queue, or replay an
//!    older statement. Every member can count places and find their own by
//!    ticket; the derived order is the same everywhere.
//!
//! When a lead is added, an existing lead re-seals every entry to the new set
//! of lead devices ([`reseal`]).

use age_core::primitives::hkdf;
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::devices::{age_recipient, verifying_key};
use super::envelope::SpaceId;
use crate::crypto::{DeviceSealError, open_as_device, seal_to_devices};
use crate::model::{
    DeviceId, MemberId, ModelError, Place, SessionId, SignUp, SignUpState, SpaceDoc, TicketId,
    Timestamp,
};

const REQUEST_CONTEXT: &[u8] = b"safespaces/v2/attendance-request";
const STATEMENT_CONTEXT: &[u8] = b"safespaces/v2/signup-statement";
const BINDING_CONTEXT: &[u8] = b"safespaces/v2/ticket-holder";

/// Why an attendance request could not be made, opened or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttendanceError {
    /// The session has no cleared lead to seal the request to yet; it stays
    /// queued until one volunteers.
    #[error("this session has no cleared lead yet; the request will wait until it has one")]
    NoLeads,
    /// This device is not one of the recipients.
    #[error("this device cannot open the request: it is not a lead of the session")]
    NotARecipient,
    /// The request's signature does not verify, or its device does not belong
    /// to the member it names.
    #[error("the request is not signed by a device of the member it names")]
    BadSignature,
    /// The ticket is already held by someone else.
    #[error("the ticket belongs to another member")]
    TicketTaken,
    /// The member already holds another sign-up for this session.
    #[error("the member is already signed up under another ticket")]
    AlreadySignedUp,
    /// The statement is not signed by the ticket's own key, or its counter
    /// is not newer than the one recorded: a replay or a forgery.
    #[error("the sign-up statement is not the ticket holder's newest")]
    StaleOrForged,
    /// Sign-ups are closed: the session started before the request was
    /// made, or it is cancelled or over.
    #[error("sign-ups for this session are closed")]
    SignupsClosed,
    /// The request to attend claims a time before its member joined the
    /// space: a back-dated clock, buying a place ahead of people who were
    /// there. An honest device never signs one.
    #[error("the request is dated before its member joined the space")]
    BeforeJoining,
    /// Malformed bytes.
    #[error("malformed attendance data: {0}")]
    Malformed(String),
    /// The model refused the write.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The attendee's ticket key for a session: the same on all their devices,
/// meaningless to anyone else. `person_secret` is a key only the person's
/// own devices hold (their journal key).
pub fn ticket_key(person_secret: &[u8; 32], space: SpaceId, session: &SessionId) -> SigningKey {
    let mut info = b"safespaces/v2/ticket-key/".to_vec();
    info.extend_from_slice(&space.0);
    info.extend_from_slice(session.as_str().as_bytes());
    let derived = Zeroizing::new(hkdf(&[], &info, person_secret));
    SigningKey::from_bytes(&derived)
}

/// The ticket id of a ticket key: the first 8 bytes (hex) of
/// `SHA-256("safespaces/v2/ticket" ‖ public key)`. Binding the id to the key
/// is what lets every device check that a statement under a ticket was
/// signed by its holder.
pub fn ticket_of_key(key: &VerifyingKey) -> TicketId {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update(b"safespaces/v2/ticket");
    hash.update(key.as_bytes());
    TicketId::from(hex::encode(&hash.finalize()[..8]))
}

/// The attendee's ticket for a session (see [`ticket_key`]).
pub fn ticket_for(person_secret: &[u8; 32], space: SpaceId, session: &SessionId) -> TicketId {
    ticket_of_key(&ticket_key(person_secret, space, session).verifying_key())
}

fn statement_bytes(
    session: &SessionId,
    ticket: &TicketId,
    state: SignUpState,
    at: Timestamp,
    counter: u64,
) -> Vec<u8> {
    let mut bytes = STATEMENT_CONTEXT.to_vec();
    for part in [session.as_str(), ticket.as_str(), state_name(state)] {
        bytes.push(0);
        bytes.extend_from_slice(part.as_bytes());
    }
    bytes.push(0);
    bytes.extend_from_slice(&at.0.to_be_bytes());
    bytes.extend_from_slice(&counter.to_be_bytes());
    bytes
}

fn state_name(state: SignUpState) -> &'static str {
    match state {
        SignUpState::Attending => "attending",
        SignUpState::Cancelled => "cancelled",
    }
}

/// The attendee signs what she asks for her ticket: the sign-up as a lead
/// will store it (`recorded_at` is the lead's to set, `sealed` is empty).
pub fn sign_statement(
    key: &SigningKey,
    session: &SessionId,
    state: SignUpState,
    at: Timestamp,
    counter: u64,
) -> SignUp {
    let ticket = ticket_of_key(&key.verifying_key());
    let signature = key.sign(&statement_bytes(session, &ticket, state, at, counter));
    SignUp {
        state,
        at,
        recorded_at: at,
        counter,
        key: hex::encode(key.verifying_key().as_bytes()),
        signature: hex::encode(signature.to_bytes()),
        sealed: String::new(),
        freed: false,
    }
}

/// Whether `signup`'s statement was signed by the holder of `ticket` for
/// `session`: its key hashes to the ticket id and the signature verifies.
/// Every device checks this on every sign-up a lead writes.
pub fn verify_statement(session: &SessionId, ticket: &TicketId, signup: &SignUp) -> bool {
    let Some(key) = verifying_key(&signup.key) else {
        return false;
    };
    if &ticket_of_key(&key) != ticket {
        return false;
    }
    let mut sig = [0u8; 64];
    if hex::decode_to_slice(&signup.signature, &mut sig).is_err() {
        return false;
    }
    let bytes = statement_bytes(session, ticket, signup.state, signup.at, signup.counter);
    key.verify(&bytes, &Signature::from_bytes(&sig)).is_ok()
}

/// The device's signature that ties a ticket to its member, for the leads
/// alone (it travels in the request and in the sealed holder), so a lead
/// can tell a real sign-up from a ticket another lead made up.
fn binding_bytes(session: &SessionId, ticket: &TicketId, member: &MemberId) -> Vec<u8> {
    let mut bytes = BINDING_CONTEXT.to_vec();
    for part in [session.as_str(), ticket.as_str(), member.as_str()] {
        bytes.push(0);
        bytes.extend_from_slice(part.as_bytes());
    }
    bytes
}

/// What an attendee asks a session's leads to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceRequest {
    /// The session.
    pub session: SessionId,
    /// The attendee's ticket for it.
    pub ticket: TicketId,
    /// The statement, signed with the ticket key ([`sign_statement`]).
    pub statement: RequestStatement,
    /// Who is asking.
    pub member: MemberId,
    /// Which of their devices signed this.
    pub device: DeviceId,
    /// That device's signature tying the ticket to the member (hex).
    pub binding: String,
}

/// The statement part of a request: what the lead stores as `entry`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestStatement {
    /// Attending or cancelled.
    pub state: SignUpState,
    /// When the attendee asked: their place in the queue.
    pub at: Timestamp,
    /// Higher than any earlier statement for this ticket.
    pub counter: u64,
    /// The ticket's public key (hex).
    pub key: String,
    /// The ticket key's signature (hex).
    pub signature: String,
}

impl AttendanceRequest {
    /// A request for `state`, signed with the ticket key derived from
    /// `person_secret` and bound to `member` by `device_key`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        person_secret: &[u8; 32],
        space: SpaceId,
        session: &SessionId,
        state: SignUpState,
        at: Timestamp,
        counter: u64,
        member: &MemberId,
        device: &DeviceId,
        device_key: &SigningKey,
    ) -> Self {
        let key = ticket_key(person_secret, space, session);
        let signed = sign_statement(&key, session, state, at, counter);
        let ticket = ticket_of_key(&key.verifying_key());
        let binding = hex::encode(
            device_key
                .sign(&binding_bytes(session, &ticket, member))
                .to_bytes(),
        );
        AttendanceRequest {
            session: session.clone(),
            ticket,
            statement: RequestStatement {
                state: signed.state,
                at: signed.at,
                counter: signed.counter,
                key: signed.key,
                signature: signed.signature,
            },
            member: member.clone(),
            device: device.clone(),
            binding,
        }
    }

    /// The sign-up a lead stores for this request, first recorded at
    /// `recorded_at`.
    pub fn signup(&self, recorded_at: Timestamp, sealed: String) -> SignUp {
        SignUp {
            state: self.statement.state,
            at: self.statement.at,
            recorded_at,
            counter: self.statement.counter,
            key: self.statement.key.clone(),
            signature: self.statement.signature.clone(),
            sealed,
            freed: false,
        }
    }

    /// Attending or cancelled.
    pub fn state(&self) -> SignUpState {
        self.statement.state
    }
}

#[derive(Serialize, Deserialize)]
struct SignedRequest {
    request: AttendanceRequest,
    signature: String,
}

/// Who holds a ticket, as sealed in `signups/<ticket>/sealed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The member.
    pub member: MemberId,
    /// Their pseudonym when they signed up.
    pub pseudonym: String,
    /// The device whose binding ties the ticket to the member.
    pub device: DeviceId,
    /// That binding (hex): another lead checks it, so a ticket a lead made
    /// up shows as unverified.
    pub binding: String,
}

/// An attendee as a lead sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendee {
    /// Their ticket.
    pub ticket: TicketId,
    /// Who they are.
    pub holder: Holder,
    /// Where they stand.
    pub place: Place,
    /// Whether the holder's binding verifies under her device's key in the
    /// space: false for a ticket a lead made up (it still takes a place,
    /// which the lead app shows so a coordinator can act).
    pub verified: bool,
}

/// The age recipients of the devices of the session's recording leads:
/// accepted, active, and cleared at the session's start
/// ([`SpaceDoc::recording_leads`]), the only members whose devices may
/// write its sign-ups.
pub fn lead_recipients(
    doc: &SpaceDoc,
    session: &SessionId,
) -> Result<Vec<age::x25519::Recipient>, AttendanceError> {
    let mut recipients = Vec::new();
    for lead in doc.recording_leads(session)? {
        // A lead's removed device (her lost phone) is sealed no names.
        for keys in doc.active_devices(&lead)?.values() {
            let r = age_recipient(&keys.age_recipient).ok_or_else(|| {
                AttendanceError::Malformed("a lead device has an invalid age recipient".into())
            })?;
            recipients.push(r);
        }
    }
    if recipients.is_empty() {
        return Err(AttendanceError::NoLeads);
    }
    Ok(recipients)
}

fn seal_to(
    recipients: &[age::x25519::Recipient],
    plain: &[u8],
) -> Result<Vec<u8>, AttendanceError> {
    seal_to_devices(recipients, plain).map_err(AttendanceError::from)
}

fn open_with(
    identity: &age::x25519::Identity,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AttendanceError> {
    open_as_device(identity, sealed).map_err(AttendanceError::from)
}

impl From<DeviceSealError> for AttendanceError {
    fn from(err: DeviceSealError) -> Self {
        match err {
            DeviceSealError::NotARecipient => AttendanceError::NotARecipient,
            DeviceSealError::NoRecipients => AttendanceError::NoLeads,
            other => AttendanceError::Malformed(other.to_string()),
        }
    }
}

fn signing_bytes(request: &AttendanceRequest) -> Vec<u8> {
    let mut bytes = REQUEST_CONTEXT.to_vec();
    bytes.extend_from_slice(&serde_json::to_vec(request).unwrap_or_default());
    bytes
}

impl AttendanceRequest {
    /// Signs with the attendee's device key and seals to the session's
    /// recording leads: the body of an `AttendanceRequest` envelope.
    pub fn seal(&self, doc: &SpaceDoc, signer: &SigningKey) -> Result<Vec<u8>, AttendanceError> {
        let recipients = lead_recipients(doc, &self.session)?;
        let signed = SignedRequest {
            request: self.clone(),
            signature: hex::encode(signer.sign(&signing_bytes(self)).to_bytes()),
        };
        let json = Zeroizing::new(
            serde_json::to_vec(&signed).map_err(|e| AttendanceError::Malformed(e.to_string()))?,
        );
        seal_to(&recipients, &json)
    }

    /// Opens a request with a lead device's identity and checks that it was
    /// signed by a device of the member it names, that the device bound the
    /// ticket to her, and that the ticket key signed the statement.
    pub fn open(
        body: &[u8],
        identity: &age::x25519::Identity,
        doc: &SpaceDoc,
    ) -> Result<Self, AttendanceError> {
        let json = open_with(identity, body)?;
        let signed: SignedRequest =
            serde_json::from_slice(&json).map_err(|e| AttendanceError::Malformed(e.to_string()))?;
        let member = doc
            .member(&signed.request.member)
            .map_err(|_| AttendanceError::BadSignature)?;
        // Someone who left (or was removed) may still give up a place she
        // held; she can take none.
        if !member.is_active() && signed.request.statement.state != SignUpState::Cancelled {
            return Err(AttendanceError::BadSignature);
        }
        // A removed device (a stolen phone) speaks for nobody's place.
        if doc
            .removed_devices(&signed.request.member)
            .contains_key(&signed.request.device)
        {
            return Err(AttendanceError::BadSignature);
        }
        let keys = member
            .devices
            .get(&signed.request.device)
            .ok_or(AttendanceError::BadSignature)?;
        let key = verifying_key(&keys.signing_key).ok_or(AttendanceError::BadSignature)?;
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&signed.signature, &mut sig)
            .map_err(|_| AttendanceError::BadSignature)?;
        key.verify(
            &signing_bytes(&signed.request),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| AttendanceError::BadSignature)?;
        let request = signed.request;
        if !binding_verifies(
            &key,
            &request.session,
            &request.ticket,
            &request.member,
            &request.binding,
        ) || !verify_statement(
            &request.session,
            &request.ticket,
            &request.signup(request.statement.at, String::new()),
        ) {
            return Err(AttendanceError::BadSignature);
        }
        Ok(request)
    }
}

fn binding_verifies(
    device_key: &VerifyingKey,
    session: &SessionId,
    ticket: &TicketId,
    member: &MemberId,
    binding: &str,
) -> bool {
    let mut sig = [0u8; 64];
    hex::decode_to_slice(binding, &mut sig).is_ok()
        && device_key
            .verify(
                &binding_bytes(session, ticket, member),
                &Signature::from_bytes(&sig),
            )
            .is_ok()
}

/// Whether a holder's binding verifies under the key the space lists for
/// her device.
fn holder_verifies(
    doc: &SpaceDoc,
    session: &SessionId,
    ticket: &TicketId,
    holder: &Holder,
) -> bool {
    doc.member(&holder.member)
        .ok()
        .and_then(|m| m.devices.get(&holder.device).cloned())
        .and_then(|keys| verifying_key(&keys.signing_key))
        .is_some_and(|key| binding_verifies(&key, session, ticket, &holder.member, &holder.binding))
}

/// The size of every sealed holder's plaintext: a big-endian `u16` length,
/// the holder's JSON, zeros. The largest JSON a valid holder makes is about
/// 610 bytes: a 16-digit member id and 64 characters of pseudonym, each at
/// most 6 bytes once escaped, a device id and a 128-digit binding.
pub const HOLDER_SIZE: usize = 768;

/// The stored size of a sealed holder for `recipients` devices: a
/// big-endian `u32` length, the age ciphertext, zeros. age adds a random
/// "grease" stanza of up to about 220 bytes to every header, and each
/// X25519 stanza is under 100, so the ciphertext of a [`HOLDER_SIZE`]
/// plaintext (about 1,090 bytes and 98 per recipient) always fits. Every
/// holder of a session is then the same size for the same number of leads'
/// devices (which the document lists anyway): the bytes tell neither the
/// pseudonym's length nor anything of the grease.
pub fn sealed_holder_size(recipients: usize) -> usize {
    1280 + 128 * recipients
}

fn seal_holder(
    doc: &SpaceDoc,
    session: &SessionId,
    holder: &Holder,
) -> Result<String, AttendanceError> {
    let recipients = lead_recipients(doc, session)?;
    let json = Zeroizing::new(
        serde_json::to_vec(holder).map_err(|e| AttendanceError::Malformed(e.to_string()))?,
    );
    let len = u16::try_from(json.len())
        .ok()
        .filter(|_| json.len() + 2 <= HOLDER_SIZE)
        .ok_or_else(|| AttendanceError::Malformed("a sign-up holder too long to seal".into()))?;
    let mut padded = Zeroizing::new(vec![0u8; HOLDER_SIZE]);
    padded[..2].copy_from_slice(&len.to_be_bytes());
    padded[2..2 + json.len()].copy_from_slice(&json);
    let ciphertext = seal_to(&recipients, &padded)?;
    let size = sealed_holder_size(recipients.len());
    let len = u32::try_from(ciphertext.len())
        .ok()
        .filter(|_| ciphertext.len() + 4 <= size)
        .ok_or_else(|| AttendanceError::Malformed("a sealed sign-up holder too long".into()))?;
    let mut framed = vec![0u8; size];
    framed[..4].copy_from_slice(&len.to_be_bytes());
    framed[4..4 + ciphertext.len()].copy_from_slice(&ciphertext);
    Ok(BASE64_STANDARD.encode(framed))
}

fn open_holder(identity: &age::x25519::Identity, sealed: &str) -> Result<Holder, AttendanceError> {
    let bytes = BASE64_STANDARD
        .decode(sealed)
        .map_err(|e| AttendanceError::Malformed(e.to_string()))?;
    let malformed = || AttendanceError::Malformed("a sign-up holder of the wrong shape".into());
    let (len, ciphertext) = bytes.split_at_checked(4).ok_or_else(malformed)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    let ciphertext = usize::try_from(len)
        .ok()
        .and_then(|len| ciphertext.get(..len))
        .ok_or_else(malformed)?;
    let padded = open_with(identity, ciphertext)?;
    if padded.len() != HOLDER_SIZE {
        return Err(malformed());
    }
    let len = usize::from(u16::from_be_bytes([padded[0], padded[1]]));
    let json = padded.get(2..2 + len).ok_or_else(malformed)?;
    if padded[2 + len..].iter().any(|b| *b != 0) {
        return Err(malformed());
    }
    serde_json::from_slice(json).map_err(|e| AttendanceError::Malformed(e.to_string()))
}

/// A lead records an opened request in the space: refuses a ticket held by
/// someone else, a second ticket for the same member, and a statement not
/// newer than the one recorded, then writes the sign-up with the holder
/// sealed to the session's recording leads. Repeating "attending" while
/// attending keeps the statement recorded first (the attendee's place).
pub fn apply_request(
    doc: &mut SpaceDoc,
    lead: &MemberId,
    identity: &age::x25519::Identity,
    request: &AttendanceRequest,
    now: Timestamp,
) -> Result<(), AttendanceError> {
    let session = doc.session(&request.session)?;
    // A request made before the start is recorded even if it reaches a
    // lead later (she was offline); one made after is not.
    if request.state() == SignUpState::Attending && !session.signups_open(request.statement.at) {
        return Err(AttendanceError::SignupsClosed);
    }
    for (ticket, signup) in &session.signups {
        // Entries sealed before this lead joined cannot be opened yet; they
        // are re-sealed to the lead by an earlier lead (reseal).
        let Ok(holder) = open_holder(identity, &signup.sealed) else {
            continue;
        };
        if ticket == &request.ticket && holder.member != request.member {
            return Err(AttendanceError::TicketTaken);
        }
        if ticket != &request.ticket
            && holder.member == request.member
            && signup.state == SignUpState::Attending
        {
            return Err(AttendanceError::AlreadySignedUp);
        }
    }
    if let Some(existing) = session.signups.get(&request.ticket) {
        if existing.counter >= request.statement.counter {
            return Err(AttendanceError::StaleOrForged);
        }
        // A place that was freed is taken back by asking again.
        if existing.state == SignUpState::Attending
            && !existing.freed
            && request.state() == SignUpState::Attending
        {
            return Ok(());
        }
    }
    let member = doc.member(&request.member)?;
    // The floor the queue cannot show (who holds a ticket is hidden from
    // everyone but the leads): no place from before she was a member.
    if request.state() == SignUpState::Attending && request.statement.at < member.joined_at {
        return Err(AttendanceError::BeforeJoining);
    }
    let pseudonym = member.pseudonym;
    let holder = Holder {
        member: request.member.clone(),
        pseudonym,
        device: request.device.clone(),
        binding: request.binding.clone(),
    };
    let sealed = seal_holder(doc, &request.session, &holder)?;
    doc.record_signup(
        lead,
        &request.session,
        &request.ticket,
        &request.signup(now, sealed),
    )?;
    Ok(())
}

/// Everyone signed up for a session, as one of its leads sees them. Entries
/// this device cannot open yet (sealed before it became a lead) are left out
/// until an earlier lead re-seals them.
pub fn attendees(
    doc: &SpaceDoc,
    session: &SessionId,
    identity: &age::x25519::Identity,
) -> Result<Vec<Attendee>, AttendanceError> {
    let stored = doc.session(session)?;
    let mut out = Vec::new();
    for (ticket, signup) in &stored.signups {
        if let Ok(holder) = open_holder(identity, &signup.sealed) {
            out.push(Attendee {
                ticket: ticket.clone(),
                verified: holder_verifies(doc, session, ticket, &holder),
                holder,
                place: doc.place(session, ticket)?,
            });
        }
    }
    out.sort_by_key(|a| match a.place {
        Place::Attending => (0, 0),
        Place::Waitlisted { position } => (1, position),
        Place::Cancelled => (2, 0),
        Place::NotSignedUp => (3, 0),
    });
    Ok(out)
}

/// Re-seals every sign-up of a session to its current recording leads,
/// after the set changed. Returns how many entries were rewritten.
pub fn reseal(
    doc: &mut SpaceDoc,
    lead: &MemberId,
    identity: &age::x25519::Identity,
    session: &SessionId,
) -> Result<usize, AttendanceError> {
    let stored = doc.session(session)?;
    let mut count = 0;
    for (ticket, signup) in &stored.signups {
        let Ok(holder) = open_holder(identity, &signup.sealed) else {
            continue;
        };
        let sealed = seal_holder(doc, session, &holder)?;
        doc.reseal_signup(lead, session, ticket, &sealed)?;
        count += 1;
    }
    Ok(count)
}

/// Frees the places held in a session by members who have left or were
/// removed (protocol.md §7), as a recording lead's device does when it
/// sees a departure: only a lead can open the holders, and a departed
/// device may never send its own cancellation. Holders this device cannot
/// open are left for a lead who can. Returns how many places were freed.
pub fn free_departed(
    doc: &mut SpaceDoc,
    lead: &MemberId,
    identity: &age::x25519::Identity,
    session: &SessionId,
) -> Result<usize, AttendanceError> {
    let stored = doc.session(session)?;
    let mut count = 0;
    for (ticket, signup) in &stored.signups {
        if signup.state != SignUpState::Attending || signup.freed {
            continue;
        }
        let Ok(holder) = open_holder(identity, &signup.sealed) else {
            continue;
        };
        // Only a departure frees a place; a member the lead cannot find
        // at all is a made-up holder, shown as unverified instead.
        if doc.member(&holder.member).is_ok_and(|m| !m.is_active()) {
            doc.free_signup(lead, session, ticket)?;
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
#[path = "attendance_tests.rs"]
mod tests;
