//! Sealing to devices: standard age files with one X25519 recipient per
//! device, for the few things that must reach specific devices rather than
//! every holder of a space key (epoch handovers, attendance requests and the
//! names sealed to a session's leads).

use std::io::{Read, Write};

use zeroize::Zeroizing;

/// Why sealing to or opening from devices failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceSealError {
    /// This device's identity is not among the file's recipients.
    #[error("this device is not a recipient")]
    NotARecipient,
    /// No recipient was given.
    #[error("no recipient to seal to")]
    NoRecipients,
    /// The bytes are not a well-formed age file, or fail authentication.
    #[error("not a valid sealed file: {0}")]
    Malformed(String),
}

/// Seals `plain` to every recipient in one age file.
pub fn seal_to_devices(
    recipients: &[age::x25519::Recipient],
    plain: &[u8],
) -> Result<Vec<u8>, DeviceSealError> {
    if recipients.is_empty() {
        return Err(DeviceSealError::NoRecipients);
    }
    let malformed = |e: &dyn std::fmt::Display| DeviceSealError::Malformed(e.to_string());
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| malformed(&e))?;
    let mut out = Vec::with_capacity(plain.len() + 64 + 160 * recipients.len());
    let mut writer = encryptor.wrap_output(&mut out).map_err(|e| malformed(&e))?;
    writer
        .write_all(plain)
        .and_then(|_| writer.finish().map(|_| ()))
        .map_err(|e| malformed(&e))?;
    Ok(out)
}

/// Opens a file sealed by [`seal_to_devices`] with this device's identity.
pub fn open_as_device(
    identity: &age::x25519::Identity,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DeviceSealError> {
    let decryptor = age::Decryptor::new_buffered(sealed)
        .map_err(|e| DeviceSealError::Malformed(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => DeviceSealError::NotARecipient,
            other => DeviceSealError::Malformed(other.to_string()),
        })?;
    let mut out = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut out)
        .map_err(|e| DeviceSealError::Malformed(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipient_opens_and_nobody_else() {
        let (a, b, c) = (
            age::x25519::Identity::generate(),
            age::x25519::Identity::generate(),
            age::x25519::Identity::generate(),
        );
        let sealed = seal_to_devices(&[a.to_public(), b.to_public()], b"for a and b").unwrap();
        assert_eq!(&open_as_device(&a, &sealed).unwrap()[..], b"for a and b");
        assert_eq!(&open_as_device(&b, &sealed).unwrap()[..], b"for a and b");
        assert!(matches!(
            open_as_device(&c, &sealed),
            Err(DeviceSealError::NotARecipient)
        ));
        assert!(matches!(
            seal_to_devices(&[], b"x"),
            Err(DeviceSealError::NoRecipients)
        ));
        assert!(matches!(
            open_as_device(&a, b"garbage"),
            Err(DeviceSealError::Malformed(_))
        ));
    }
}
