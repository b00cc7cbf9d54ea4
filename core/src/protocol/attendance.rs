//! Attendance privacy: only a session's leads learn who signed up
//! (protocol.md §7).
//!
//! Everyone in a space can read the space document, and every change in it
//! is signed by its author's device. So an attendee never writes their own
//! sign-up: that would tell every member who is coming. Instead:
//!
//! 1. the attendee derives a **ticket** for the session from a secret only
//!    their own devices hold ([`ticket_for`]), so all their devices agree on it
//!    and nobody else can link it to them;
//! 2. they send an [`AttendanceRequest`] (ticket, state, time, who they are),
//!    signed by their device and sealed as an age file to the X25519 keys of
//!    the session's **cleared leads**' devices, inside an envelope of kind
//!    `AttendanceRequest` signed only with the epoch's anonymous key (members
//!    see that *someone* asked, not who);
//! 3. a lead opens it, checks it, and records `signups/<ticket> = {state, at,
//!    sealed}` where `sealed` names the attendee, again only to the leads
//!    ([`apply_request`]). Every member can count places and find their own
//!    by ticket; the derived order is the same everywhere.
//!
//! When a lead is added, an existing lead re-seals every entry to the new set
//! of lead devices ([`reseal`]).

use std::str::FromStr;

use age_core::primitives::hkdf;
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::envelope::SpaceId;
use crate::crypto::{DeviceSealError, open_as_device, seal_to_devices};
use crate::model::{
    DeviceId, MemberId, ModelError, Place, SessionId, SignUpState, SpaceDoc, TicketId, Timestamp,
};

const REQUEST_CONTEXT: &[u8] = b"safespaces/v1/attendance-request";

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
    /// Malformed bytes.
    #[error("malformed attendance data: {0}")]
    Malformed(String),
    /// The model refused the write.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The attendee's ticket for a session: the same on all their devices,
/// meaningless to anyone else. `person_secret` is a key only the person's
/// own devices hold (their journal key).
pub fn ticket_for(person_secret: &[u8; 32], space: SpaceId, session: &SessionId) -> TicketId {
    let mut info = b"safespaces/v1/ticket/".to_vec();
    info.extend_from_slice(&space.0);
    info.extend_from_slice(session.as_str().as_bytes());
    let derived = Zeroizing::new(hkdf(&[], &info, person_secret));
    TicketId::from(hex::encode(&derived[..8]))
}

/// What an attendee asks a session's leads to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceRequest {
    /// The session.
    pub session: SessionId,
    /// The attendee's ticket for it.
    pub ticket: TicketId,
    /// Attending or cancelled.
    pub state: SignUpState,
    /// When the attendee asked: their place in the queue.
    pub at: Timestamp,
    /// Who is asking.
    pub member: MemberId,
    /// Which of their devices signed this.
    pub device: DeviceId,
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
}

/// The age recipients of a session's cleared leads' devices at `now`.
pub fn lead_recipients(
    doc: &SpaceDoc,
    session: &SessionId,
    now: Timestamp,
) -> Result<Vec<age::x25519::Recipient>, AttendanceError> {
    let leads = doc.session_leads(session, now)?;
    let mut recipients = Vec::new();
    for lead in leads.into_iter().filter(|l| l.clearance.cleared) {
        let member = doc.member(&lead.member)?;
        for keys in member.devices.values() {
            let r = age::x25519::Recipient::from_str(&keys.age_recipient).map_err(|_| {
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
    /// cleared leads: the body of an `AttendanceRequest` envelope.
    pub fn seal(
        &self,
        doc: &SpaceDoc,
        signer: &SigningKey,
        now: Timestamp,
    ) -> Result<Vec<u8>, AttendanceError> {
        let recipients = lead_recipients(doc, &self.session, now)?;
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
    /// signed by a device of the member it names.
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
        if !member.is_active() {
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
        Ok(signed.request)
    }
}

fn verifying_key(hex_key: &str) -> Option<VerifyingKey> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut key).ok()?;
    VerifyingKey::from_bytes(&key).ok()
}

/// The size of every sealed holder's plaintext: a big-endian `u16` length,
/// the holder's JSON, zeros. The largest JSON a valid holder makes is about
/// 430 bytes: a 16-digit member id and 64 characters of pseudonym, each at
/// most 6 bytes once escaped.
pub const HOLDER_SIZE: usize = 512;

/// The stored size of a sealed holder for `recipients` devices: a
/// big-endian `u32` length, the age ciphertext, zeros. age adds a random
/// "grease" stanza of up to about 220 bytes to every header, and each
/// X25519 stanza is under 100, so the ciphertext of a [`HOLDER_SIZE`]
/// plaintext (about 830 bytes and 98 per recipient) always fits. Every
/// holder of a session is then the same size for the same number of leads'
/// devices (which the document lists anyway): the bytes tell neither the
/// pseudonym's length nor anything of the grease.
pub fn sealed_holder_size(recipients: usize) -> usize {
    1024 + 128 * recipients
}

fn seal_holder(
    doc: &SpaceDoc,
    session: &SessionId,
    holder: &Holder,
    now: Timestamp,
) -> Result<String, AttendanceError> {
    let recipients = lead_recipients(doc, session, now)?;
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
/// someone else and a second ticket for the same member, then writes the
/// sign-up with the holder sealed to the session's leads.
pub fn apply_request(
    doc: &mut SpaceDoc,
    lead: &MemberId,
    identity: &age::x25519::Identity,
    request: &AttendanceRequest,
    now: Timestamp,
) -> Result<(), AttendanceError> {
    let session = doc.session(&request.session)?;
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
    let pseudonym = doc.member(&request.member)?.pseudonym;
    let holder = Holder {
        member: request.member.clone(),
        pseudonym,
    };
    let sealed = seal_holder(doc, &request.session, &holder, now)?;
    doc.record_signup(
        lead,
        &request.session,
        &request.ticket,
        request.state,
        request.at,
        &sealed,
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

/// Re-seals every sign-up of a session to its current cleared leads, after a
/// lead was added. Returns how many entries were rewritten.
pub fn reseal(
    doc: &mut SpaceDoc,
    lead: &MemberId,
    identity: &age::x25519::Identity,
    session: &SessionId,
    now: Timestamp,
) -> Result<usize, AttendanceError> {
    let stored = doc.session(session)?;
    let mut count = 0;
    for (ticket, signup) in &stored.signups {
        let Ok(holder) = open_holder(identity, &signup.sealed) else {
            continue;
        };
        let sealed = seal_holder(doc, session, &holder, now)?;
        doc.reseal_signup(lead, session, ticket, &sealed)?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
#[path = "attendance_tests.rs"]
mod tests;
