//! Joining a space: the invite, the joiner's request, the inviter's
//! admission and welcome (protocol.md §5), offline as files and through the
//! relay's drop-boxes.
//!
//! ```text
//! inviter                              joiner
//! invite ── code + package ─────────▶  request_join / join_via_relay
//!        ◀──────── request ──────────  (sealed to the inviter's devices)
//! admit (a change in the space)
//!        ── welcome (+ bundle) ──────▶  join / next sync
//!                                      (sealed to the joiner's device)
//! ```
//!
//! The package holds no key: a space is read only after an admission that
//! every member's device checks, by the invite's creator, of one joiner.

use std::sync::Arc;

use super::adopting::Adoption;
use super::bundle::open_bundle;
use super::error::{AppError, AppResult, InputSource};
use super::invite_use_error::InviteUseError;
use super::registry::{IssuedInvite, PendingJoin, Sealed};
use super::safe_spaces::SafeSpaces;
use super::shared::{Loaded, Shared};
use super::space_handle::Space;
use super::space_handle::entry;
use super::space_sync::SyncReport;
use crate::model::{InviteState, MemberId, ModelError, Role, Timestamp};
use crate::protocol::SpaceId;
use crate::protocol::invite::{
    DEFAULT_INVITE_SECS, InvitePackage, InviteSecret, JoinRequest, Welcome, verify_join,
};
use crate::relay::{DropboxId, ErrorCode, MailboxCredential, RelayTransport};

/// An invite, ready to hand over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// The code to give the invitee (QR code, another messenger, aloud).
    pub code: String,
    /// The invite's id in the space (to follow or withdraw it).
    pub invite_id: String,
    /// The relay drop-box the package goes in, hex.
    pub dropbox_id: String,
    /// The sealed package (for the drop-box, or handed over as a file). It
    /// holds no key to the space.
    pub package: Vec<u8>,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Where one of the space's invites stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteStatus {
    /// The invite's id.
    pub invite_id: String,
    /// The role it grants.
    pub role: Role,
    /// Who issued it.
    pub created_by: MemberId,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Open, used, revoked or expired, as the space records it.
    pub state: InviteState,
    /// Whom it admitted, once used.
    pub used_by: Option<MemberId>,
    /// This device issued it, and the relay no longer holds its package
    /// while nobody has been admitted: someone has the package. If the
    /// person it was for has not, withdraw it.
    pub claimed: bool,
}

/// A join request, to hand to the inviter (as a file) when there is no
/// relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRequestFile {
    /// The space's name, from the package.
    pub space_name: String,
    /// The role the invite grants.
    pub role: Role,
    /// The sealed request; only the inviter's devices open it.
    pub request: Vec<u8>,
}

/// A join this device asked for and has not been welcomed into yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingJoinStatus {
    /// The space, hex.
    pub space: String,
    /// Its name, from the package.
    pub space_name: String,
    /// The role the invite grants.
    pub role: Role,
    /// When the invite stops working.
    pub expires_at: Timestamp,
}

impl From<&PendingJoin> for PendingJoinStatus {
    fn from(j: &PendingJoin) -> Self {
        PendingJoinStatus {
            space: j.space.to_hex(),
            space_name: j.space_name.clone(),
            role: j.role,
            expires_at: j.expires_at,
        }
    }
}

impl Space {
    /// Invites someone (coordinators may invite any role, leads members):
    /// records the invite and seals its package. Expires after `expires_at`
    /// (default: 7 days from `now`). This device keeps the code until the
    /// invite expires or is withdrawn, to answer the joiner's request.
    pub fn invite(
        &self,
        role: Role,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> AppResult<Invitation> {
        let expires_at = expires_at.unwrap_or(now.plus_secs(DEFAULT_INVITE_SECS));
        let secret = InviteSecret::generate();
        let shared = Arc::clone(&self.shared);
        let space = self.id;
        self.shared.with_loaded(|loaded| {
            shared.update_space(loaded, space, |e, loaded| {
                let doc = loaded
                    .spaces
                    .get_mut(&space)
                    .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
                let inviter = doc.member(&e.member)?;
                let inviter_devices: Vec<String> = inviter
                    .devices
                    .values()
                    .map(|k| k.age_recipient.clone())
                    .collect();
                doc.record_invite(
                    &e.member,
                    &secret.invite_id(),
                    &secret.verifying_key_hex(),
                    role,
                    expires_at,
                )?;
                let package = InvitePackage {
                    space,
                    space_name: doc.name()?,
                    expires_at,
                    role,
                    inviter_devices,
                }
                .seal(&secret)
                .map_err(|e| AppError::internal("sealing an invite package", e))?;
                e.issued.push(IssuedInvite {
                    code: secret.code(),
                    invite: secret.invite_id(),
                    expires_at,
                    published: false,
                    claimed: false,
                    request: None,
                    welcome: None,
                    welcome_left: false,
                });
                shared.persist_space(loaded, space)?;
                Ok(Invitation {
                    code: secret.code(),
                    invite_id: secret.invite_id(),
                    dropbox_id: secret.dropbox_id(),
                    package,
                    expires_at,
                })
            })
        })
    }

    /// Every invite the space records, newest expiry first, with whether
    /// this device saw its package claimed.
    pub fn invites(&self, now: Timestamp) -> AppResult<Vec<InviteStatus>> {
        let space = self.id;
        self.shared.with_loaded(|loaded| {
            let e = entry(loaded, space)?;
            let doc = loaded
                .spaces
                .get(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            let mut out: Vec<InviteStatus> = doc
                .invites()?
                .into_iter()
                .map(|(id, invite)| {
                    let state = invite.state(now);
                    let claimed = state == InviteState::Open
                        && e.issued.iter().any(|i| i.invite == id && i.claimed);
                    InviteStatus {
                        invite_id: id,
                        role: invite.role,
                        created_by: invite.created_by,
                        expires_at: invite.expires_at,
                        state,
                        used_by: invite.used_by,
                        claimed,
                    }
                })
                .collect();
            out.sort_by(|a, b| {
                b.expires_at
                    .cmp(&a.expires_at)
                    .then(a.invite_id.cmp(&b.invite_id))
            });
            Ok(out)
        })
    }

    /// Withdraws an invite nobody has been admitted with (its creator or a
    /// coordinator). This device forgets its code.
    pub fn revoke_invite(&self, invite_id: &str, now: Timestamp) -> AppResult<()> {
        let space = self.id;
        let shared = Arc::clone(&self.shared);
        self.shared.with_loaded(|loaded| {
            shared.update_space(loaded, space, |e, loaded| {
                let doc = loaded
                    .spaces
                    .get_mut(&space)
                    .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
                doc.revoke_invite(&e.member, invite_id, now)?;
                e.issued.retain(|i| i.invite != invite_id);
                shared.persist_space(loaded, space)
            })
        })
    }

    /// Admits the joiner whose request (a file the joiner handed over) is
    /// for one of this device's invites, and returns the welcome to hand
    /// back with a bundle ([`Space::export_bundle`]). Admitting the same
    /// request again returns its welcome again.
    pub fn admit(&self, request: &[u8], now: Timestamp) -> AppResult<Vec<u8>> {
        self.shared.admit_request(self.id, request, now)
    }
}

impl Shared {
    /// Opens, checks and answers one sealed join request for `space`:
    /// records the admission (sealed on its own, so receivers check it
    /// against a history holding the invite) and returns the sealed
    /// welcome. The admission and the issued invite's state are persisted
    /// together.
    pub(crate) fn admit_request(
        &self,
        space: SpaceId,
        sealed: &[u8],
        now: Timestamp,
    ) -> AppResult<Vec<u8>> {
        let identity = self.keys().identity()?;
        let request = JoinRequest::open(&identity, sealed).map_err(InviteUseError::request)?;
        if request.space != space.to_hex() {
            return Err(InviteUseError::RequestForAnotherSpace.into());
        }
        // Everything this device wrote before goes out first, so the
        // admission's batch starts after the invite it uses.
        self.seal_outbox(space, now)?;
        self.with_loaded(|loaded| {
            self.update_space(loaded, space, |e, loaded| {
                let Some(pos) = e.issued.iter().position(|i| i.invite == request.invite) else {
                    return Err(InviteUseError::NotIssuedHere.into());
                };
                let doc = loaded
                    .spaces
                    .get_mut(&space)
                    .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
                let invite = doc
                    .invite(&request.invite)?
                    .ok_or(InviteUseError::NotIssuedHere)?;
                verify_join(
                    &invite.verifying_key,
                    &request.invite,
                    &request.member,
                    &request.device,
                    &request.keys,
                    &request.proof,
                )
                .map_err(InviteUseError::RequestUnproven)?;
                if invite.used_by.as_ref() != Some(&request.member) {
                    doc.admit(
                        &e.member,
                        &request.invite,
                        &request.member,
                        &request.proof,
                        &request.pseudonym,
                        &request.device,
                        request.keys.clone(),
                        now,
                    )?;
                }
                let welcome = Welcome {
                    space,
                    invite: request.invite.clone(),
                    epoch: e.epoch,
                    epoch_key: self.keys().epoch(space, e.epoch)?,
                    admin_key: e
                        .admin_key(e.epoch)
                        .ok_or_else(|| AppError::damaged("the registry's mailbox admin key"))?,
                }
                .seal(&request.keys.age_recipient)
                .map_err(InviteUseError::JoinerUnreachable)?;
                let issued = &mut e.issued[pos];
                issued.request = None;
                issued.welcome = Some(welcome.clone().into());
                self.persist_space(loaded, space)?;
                tracing::info!(epoch = e.epoch, "admitted a joiner");
                Ok(welcome)
            })
        })
    }

    /// Relay sync, before a space's passes: claims requests for this
    /// device's invites and admits them, notices claimed packages, and
    /// forgets codes of invites that can no longer be answered.
    pub(crate) async fn answer_requests(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        self.forget_dead_invites(space, now)?;
        let issued = self.with_loaded(|loaded| Ok(entry(loaded, space)?.issued.clone()))?;
        for invite in issued {
            let secret = stored_code(&invite.code)?;
            if now >= invite.expires_at {
                continue;
            }
            if invite.welcome_left && invite.request.is_none() {
                // Answered: only whether the joiner took her welcome is
                // left to learn (one request a pass until she has, none
                // after: the code is forgotten).
                let welcome = dropbox(&secret.welcome_dropbox_id())?;
                if client.dropbox_waiting(&welcome).await?.is_none() {
                    self.forget_answered_invite(space, &invite.invite)?;
                }
                continue;
            }
            let mut request = invite.request.clone();
            if request.is_none() {
                if let Some(bytes) = take(client, &secret.request_dropbox_id()).await? {
                    let bytes = Sealed(bytes);
                    self.update_issued(space, &invite.invite, |i| i.request = Some(bytes.clone()))?;
                    request = Some(bytes);
                }
            }
            match request {
                Some(bytes) => {
                    match self.admit_request(space, bytes.bytes(), now) {
                        Ok(_) => report.admitted += 1,
                        Err(e) => {
                            // A request that does not check out (junk from
                            // whoever else holds the code, an expired or
                            // used invite) is dropped, never retried.
                            tracing::warn!(kind = e.kind(), "refused a join request");
                            report.refused += 1;
                            self.update_issued(space, &invite.invite, |i| i.request = None)?;
                        }
                    }
                }
                None if invite.published && !invite.claimed => {
                    let id = dropbox(&secret.dropbox_id())?;
                    if client.dropbox_waiting(&id).await?.is_none() {
                        self.update_issued(space, &invite.invite, |i| i.claimed = true)?;
                    }
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The credential of the space's mailbox in its current epoch: what
    /// this device vouches for the space's invite drop-boxes with.
    pub(crate) fn current_credential(&self, space: SpaceId) -> AppResult<MailboxCredential> {
        let epoch = self.with_loaded(|loaded| Ok(entry(loaded, space)?.epoch))?;
        self.credential(space, epoch)
    }

    /// Relay sync, after a space's passes pushed the admissions: puts each
    /// waiting welcome in its drop-box.
    pub(crate) async fn deliver_welcomes(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        now: Timestamp,
    ) -> AppResult<()> {
        let issued = self.with_loaded(|loaded| Ok(entry(loaded, space)?.issued.clone()))?;
        for invite in issued {
            let Some(welcome) = &invite.welcome else {
                continue;
            };
            let secret = stored_code(&invite.code)?;
            let bytes = welcome.0.clone();
            let vouch = self.current_credential(space)?;
            leave_vouched(
                client,
                &secret.welcome_dropbox_id(),
                bytes,
                invite.expires_at,
                now,
                &vouch,
            )
            .await?;
            self.update_issued(space, &invite.invite, |i| {
                i.welcome = None;
                i.welcome_left = true;
            })?;
        }
        Ok(())
    }

    /// Forgets the code of an invite whose joiner took her welcome.
    fn forget_answered_invite(&self, space: SpaceId, invite: &str) -> AppResult<()> {
        self.with_loaded(|loaded| {
            self.update_space(loaded, space, |e, _| {
                e.issued
                    .retain(|i| i.invite != invite || !i.welcome_left || i.request.is_some());
                Ok(())
            })
        })
    }

    /// Drops the codes of invites that can no longer admit anyone:
    /// withdrawn, expired, or used by someone (once its welcome is out).
    fn forget_dead_invites(&self, space: SpaceId, now: Timestamp) -> AppResult<()> {
        self.with_loaded(|loaded| {
            self.update_space(loaded, space, |e, loaded| {
                let Some(doc) = loaded.spaces.get(&space) else {
                    return Ok(());
                };
                e.issued.retain(|i| {
                    let state = doc
                        .invite(&i.invite)
                        .ok()
                        .flatten()
                        .map(|inv| inv.state(now));
                    i.welcome.is_some()
                        || i.request.is_some()
                        || matches!(state, Some(InviteState::Open | InviteState::Used))
                            && now < i.expires_at
                });
                Ok(())
            })
        })
    }

    fn update_issued(
        &self,
        space: SpaceId,
        invite: &str,
        change: impl FnOnce(&mut IssuedInvite),
    ) -> AppResult<()> {
        self.with_loaded(|loaded| {
            self.update_space(loaded, space, |e, _| {
                if let Some(i) = e.issued.iter_mut().find(|i| i.invite == invite) {
                    change(i);
                }
                Ok(())
            })
        })
    }

    /// Relay sync, first: asks again for the welcome of every pending
    /// join, and joins each space whose welcome arrived.
    pub(crate) async fn complete_joins(
        &self,
        client: &RelayTransport,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        let joins = self.with_loaded(|loaded| Ok(loaded.registry.joins.clone()))?;
        for pending in joins {
            let secret = stored_code(&pending.code)?;
            let mut welcome = pending.welcome.clone();
            if welcome.is_none() {
                if let Some(bytes) = take(client, &secret.welcome_dropbox_id()).await? {
                    let bytes = Sealed(bytes);
                    self.update_join(pending.space, |j| j.welcome = Some(bytes.clone()))?;
                    welcome = Some(bytes);
                }
            }
            let Some(welcome) = welcome else {
                // Not admitted yet: leave the request again in case the
                // inviter's device claimed it and lost it (it answers a
                // request it already admitted with the same welcome).
                if now < pending.expires_at {
                    leave(
                        client,
                        &secret.request_dropbox_id(),
                        pending.request.0.clone(),
                        pending.expires_at,
                        now,
                    )
                    .await?;
                }
                continue;
            };
            let space = self
                .join_welcomed(client, &pending, welcome.bytes(), now, report)
                .await?;
            report.joined.push(space.to_hex());
        }
        Ok(())
    }

    /// Takes a welcome claimed from the relay: reads the space's mailbox
    /// from its first snapshot (checked from the space's creation), then
    /// the rest, and keeps the space.
    async fn join_welcomed(
        &self,
        client: &RelayTransport,
        pending: &PendingJoin,
        sealed: &[u8],
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<SpaceId> {
        let welcome = self.open_welcome(sealed)?;
        answers(pending, &welcome)?;
        let space = welcome.space;
        let credential = MailboxCredential::for_epoch(&welcome.epoch_key, welcome.admin_key, None);
        let page = client.read_all(&credential, 0).await?;
        report.pulled += page.blobs.len();
        let content_key = welcome.epoch_key.content_key();
        let (first, rest) =
            super::snapshots::first_snapshot(page.blobs, &content_key, space, welcome.epoch);
        let first = first.ok_or_else(|| {
            AppError::refused(InputSource::Mailbox, "it holds no snapshot to start from")
        })?;
        let last = rest.last().map(|b| b.seq).unwrap_or(0);
        self.with_loaded(|loaded| self.adopt_joined(loaded, pending, &welcome, first))?;
        self.apply_pulled(space, welcome.epoch, rest, now, report)?;
        self.with_loaded(|loaded| {
            self.update_space(loaded, space, |e, _| {
                e.cursor = e.cursor.max(last);
                Ok(())
            })
        })?;
        tracing::info!(epoch = welcome.epoch, "joined a space through the relay");
        Ok(space)
    }

    /// Opens a welcome sealed to this device.
    fn open_welcome(&self, sealed: &[u8]) -> AppResult<Welcome> {
        let identity = self.keys().identity()?;
        Ok(Welcome::open(&identity, sealed).map_err(InviteUseError::WelcomeUnreadable)?)
    }

    /// Keeps a space this device was welcomed into, starting from `first`
    /// (a snapshot checked from the genesis), and forgets the pending join.
    fn adopt_joined(
        &self,
        loaded: &mut Loaded,
        pending: &PendingJoin,
        welcome: &Welcome,
        first: super::snapshots::FirstSnapshot,
    ) -> AppResult<()> {
        let space = welcome.space;
        super::leaving::may_join(loaded, space)?;
        let adoption = Adoption {
            space,
            member: pending.member.clone(),
            epoch: welcome.epoch,
            epoch_key: &welcome.epoch_key,
            admin_key: welcome.admin_key,
            admin_seed: None,
            first,
        };
        self.adopt_space(loaded, adoption, |registry| {
            registry.joins.retain(|j| j.space != pending.space);
        })
    }

    fn update_join(&self, space: SpaceId, change: impl FnOnce(&mut PendingJoin)) -> AppResult<()> {
        self.with_loaded(|loaded| {
            self.update_registry(loaded, |registry, _| {
                if let Some(j) = registry.joins.iter_mut().find(|j| j.space == space) {
                    change(j);
                }
                Ok(())
            })
        })
    }

    /// Opens a package and records a pending join with a fresh request.
    fn ask_to_join(
        &self,
        code: &str,
        package: &[u8],
        pseudonym: &str,
        now: Timestamp,
    ) -> AppResult<(PendingJoin, InviteSecret, Vec<u8>)> {
        let secret = InviteSecret::parse(code).map_err(InviteUseError::BadCode)?;
        let package =
            InvitePackage::open(package, &secret, now).map_err(InviteUseError::package)?;
        check_pseudonym(pseudonym)?;
        let signing = self.keys().signing()?;
        self.with_loaded(|loaded| {
            let space = package.space;
            super::leaving::may_join(loaded, package.space)?;
            let device = loaded.registry.device.clone();
            let keys = self.device_keys(&device)?;
            let request = JoinRequest::new(
                &secret,
                package.space,
                pseudonym.trim(),
                &device,
                &keys,
                &signing,
            );
            let sealed = request
                .seal(&package)
                .map_err(InviteUseError::InviterUnreachable)?;
            let pending = PendingJoin {
                code: secret.code(),
                space,
                space_name: package.space_name.clone(),
                role: package.role,
                expires_at: package.expires_at,
                member: request.member.clone(),
                request: sealed.clone().into(),
                welcome: None,
            };
            self.update_registry(loaded, |registry, _| {
                // Asking again (a new code for the same space) replaces the
                // earlier request.
                registry.joins.retain(|j| j.space != space);
                registry.joins.push(pending.clone());
                Ok(())
            })?;
            Ok((pending, secret, sealed))
        })
    }
}

impl SafeSpaces {
    /// Asks to join with an invite code and its package (a file from the
    /// inviter) as `pseudonym`: returns the request to hand back. The join
    /// completes with the inviter's welcome ([`SafeSpaces::join`]).
    pub fn request_join(
        &self,
        code: &str,
        package: &[u8],
        pseudonym: &str,
        now: Timestamp,
    ) -> AppResult<JoinRequestFile> {
        let (pending, _, request) = self.shared.ask_to_join(code, package, pseudonym, now)?;
        Ok(JoinRequestFile {
            space_name: pending.space_name,
            role: pending.role,
            request,
        })
    }

    /// Completes a join with the inviter's welcome and a bundle from a
    /// member (the inviter's, made after the admission): the space is
    /// checked from its creation and kept once it shows this device's
    /// admission.
    pub fn join(&self, welcome: &[u8], bundle: &[u8], _now: Timestamp) -> AppResult<Space> {
        let joins = self
            .shared
            .with_loaded(|loaded| Ok(loaded.registry.joins.clone()))?;
        let welcome = self.shared.open_welcome(welcome)?;
        let pending = joins
            .iter()
            .find(|j| j.space == welcome.space)
            .ok_or(InviteUseError::NotAsked)?;
        answers(pending, &welcome)?;
        let space = welcome.space;
        let content_key = welcome.epoch_key.content_key();
        let contents =
            open_bundle(&content_key, bundle).ok_or(InviteUseError::BundleForAnotherSpace)??;
        if contents.space != space {
            return Err(InviteUseError::BundleForAnotherSpace.into());
        }
        let first = contents
            .envelopes
            .iter()
            .find_map(|sealed| {
                super::snapshots::verified_snapshot(sealed, &content_key, space, welcome.epoch)
            })
            .ok_or_else(|| {
                AppError::refused(
                    InputSource::Bundle,
                    "it holds no copy of the space that checks out",
                )
            })?;
        let admitted = first
            .doc
            .member(&pending.member)
            .is_ok_and(|m| m.is_active());
        if !admitted {
            return Err(InviteUseError::NotAdmittedYet.into());
        }
        self.shared
            .with_loaded(|loaded| self.shared.adopt_joined(loaded, pending, &welcome, first))?;
        Ok(Space {
            shared: Arc::clone(&self.shared),
            id: space,
        })
    }

    /// Joins asked for and not welcomed yet.
    pub fn pending_joins(&self) -> AppResult<Vec<PendingJoinStatus>> {
        self.shared.with_loaded(|loaded| {
            Ok(loaded
                .registry
                .joins
                .iter()
                .map(PendingJoinStatus::from)
                .collect())
        })
    }

    /// Asks to join through the relay: claims the invite's package (it can
    /// be claimed once), leaves the request for the inviter's devices and
    /// returns. The space arrives with a later [`SafeSpaces::sync`], once an
    /// inviter's device has admitted this one (`SyncReport::joined`).
    pub async fn join_via_relay(
        &self,
        client: &RelayTransport,
        code: &str,
        pseudonym: &str,
        now: Timestamp,
    ) -> AppResult<PendingJoinStatus> {
        let secret = InviteSecret::parse(code).map_err(InviteUseError::BadCode)?;
        // Checked before the claim: a typo must not use up the package.
        check_pseudonym(pseudonym)?;
        let package = client
            .claim_dropbox(&dropbox(&secret.dropbox_id())?)
            .await?;
        let (pending, secret, request) = self.shared.ask_to_join(code, &package, pseudonym, now)?;
        leave(
            client,
            &secret.request_dropbox_id(),
            request,
            pending.expires_at,
            now,
        )
        .await?;
        tracing::info!("asked to join a space through the relay");
        Ok(PendingJoinStatus::from(&pending))
    }
}

impl Space {
    /// Puts an invite's package in its relay drop-box, where the invitee's
    /// device claims it (once) with the code.
    pub async fn publish_invite(
        &self,
        client: &RelayTransport,
        invitation: &Invitation,
        now: Timestamp,
    ) -> AppResult<()> {
        let id = dropbox(&invitation.dropbox_id)?;
        let secret = stored_code(&invitation.code)?;
        let request = dropbox(&secret.request_dropbox_id())?;
        let ttl = Some(ttl(invitation.expires_at, now));
        // Vouched for by the space's mailbox, with the invitee's answer
        // slot reserved: a stranger who fills the relay's anonymous
        // drop-boxes cannot make this invite fail (docs/relay.md).
        let vouch = self.shared.current_credential(self.id)?;
        let vouched = client
            .put_dropbox_vouched(&id, invitation.package.clone(), ttl, &vouch, Some(&request))
            .await;
        match vouched {
            Ok(_) => {}
            // The space's mailbox is not on this relay (yet), or it vouches
            // for as many invites as it may: the anonymous pool may still
            // have room.
            Err(e) if unvouched_may_work(&e) => {
                client
                    .put_dropbox(&id, invitation.package.clone(), ttl)
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        self.shared
            .update_issued(self.id, &invitation.invite_id, |i| i.published = true)
    }
}

/// Puts `blob` in a drop-box until `expires_at`, unless one is waiting
/// there already (the same message, not claimed yet).
async fn leave(
    client: &RelayTransport,
    hex_id: &str,
    blob: Vec<u8>,
    expires_at: Timestamp,
    now: Timestamp,
) -> AppResult<()> {
    match client
        .put_dropbox(&dropbox(hex_id)?, blob, Some(ttl(expires_at, now)))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(ErrorCode::DropboxExists) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// [`leave`], vouched for by a mailbox of this device (see
/// [`RelayTransport::put_dropbox_vouched`]), or anonymous if the relay will not
/// take the vouch.
async fn leave_vouched(
    client: &RelayTransport,
    hex_id: &str,
    blob: Vec<u8>,
    expires_at: Timestamp,
    now: Timestamp,
    vouch: &MailboxCredential,
) -> AppResult<()> {
    let id = dropbox(hex_id)?;
    let ttl = Some(ttl(expires_at, now));
    match client
        .put_dropbox_vouched(&id, blob.clone(), ttl, vouch, None)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(ErrorCode::DropboxExists) => Ok(()),
        Err(e) if unvouched_may_work(&e) => leave(client, hex_id, blob, expires_at, now).await,
        Err(e) => Err(e.into()),
    }
}

/// Whether a refused vouched put may still go through anonymously: the
/// vouching mailbox is not on the relay (`bad_signature` is also the answer
/// for that) or already vouches for its maximum.
fn unvouched_may_work(e: &crate::relay::RelayError) -> bool {
    matches!(
        e.code(),
        Some(ErrorCode::BadSignature | ErrorCode::QuotaDropboxesExceeded)
    )
}

/// Claims a drop-box's blob, if one is waiting.
async fn take(client: &RelayTransport, hex_id: &str) -> AppResult<Option<Vec<u8>>> {
    match client.claim_dropbox(&dropbox(hex_id)?).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.code() == Some(ErrorCode::DropboxNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn check_pseudonym(pseudonym: &str) -> AppResult<()> {
    if pseudonym.trim().is_empty() || pseudonym.chars().count() > 64 {
        return Err(ModelError::InvalidInput {
            field: "pseudonym",
            reason: "choose a name to be known by in this space (up to 64 characters)".into(),
        }
        .into());
    }
    Ok(())
}

fn dropbox(hex_id: &str) -> AppResult<DropboxId> {
    DropboxId::from_hex(hex_id).map_err(|e| AppError::internal("deriving a drop-box id", e))
}

/// A drop-box lifetime running to the invite's expiry (at least a minute).
fn ttl(expires_at: Timestamp, now: Timestamp) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(expires_at.0 - now.0).unwrap_or(0).max(60))
}

/// Whether `welcome` answers this device's pending join (its space and
/// the invite it asked with).
fn answers(pending: &PendingJoin, welcome: &Welcome) -> AppResult<()> {
    let secret = stored_code(&pending.code)?;
    if welcome.space != pending.space || welcome.invite != secret.invite_id() {
        return Err(InviteUseError::WelcomeForAnotherInvite.into());
    }
    Ok(())
}

/// An invite code this device stored itself (an issued invite, a pending
/// join): one that does not parse is damaged data, not a user's typo.
fn stored_code(code: &str) -> AppResult<InviteSecret> {
    InviteSecret::parse(code).map_err(|e| AppError::damaged_by("a stored invite code", e))
}
