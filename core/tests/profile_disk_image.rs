//! Plays someone who images the disk after the owner changed her unlock
//! secrets: the profile lives on a small ext4 file system the test makes
//! (a file, `mkfs.ext4`, `mount -o loop`), the owner sets a keystore secret,
//! changes her passphrase, sets a duress passphrase and is then forced to
//! unlock with it; the raw image is scanned for every unlock slot and
//! keyring she had before. Overwriting in place is what is tested, so it
//! must be a real block device with a real file system, not a tempdir on
//! whatever the test machine uses.
//!
//! Mounting needs root and loop devices. Where they are missing the test
//! prints why and returns without asserting; on the project's machines and
//! CI it runs.

mod profile_support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use safespaces_core::profile::{KeystoreAction, Profile, UnlockSecret};
use safespaces_core::store::{DocumentId, INLINE_CHUNK_MAX};
use secrecy::SecretString;

use profile_support::{FAST, snapshot_dir};

const IMAGE_BYTES: u64 = 32 * 1024 * 1024;

/// The mounted image; unmounts on drop so a failed assertion leaves no
/// mount behind.
struct Mounted {
    image: PathBuf,
    mount_point: PathBuf,
    mounted: bool,
}

impl Mounted {
    /// Makes and mounts the image, or says why it cannot.
    fn new(root: &Path) -> Result<Self, String> {
        let image = root.join("disk.img");
        let mount_point = root.join("mnt");
        fs::create_dir(&mount_point).map_err(|e| format!("mkdir: {e}"))?;
        let file = fs::File::create(&image).map_err(|e| format!("create image: {e}"))?;
        file.set_len(IMAGE_BYTES)
            .map_err(|e| format!("truncate image: {e}"))?;
        drop(file);
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image))?;
        let mut this = Self {
            image,
            mount_point,
            mounted: false,
        };
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&this.image)
            .arg(&this.mount_point))?;
        this.mounted = true;
        Ok(this)
    }

    fn unmount(&mut self) {
        if self.mounted {
            if let Err(e) = run(Command::new("umount").arg(&self.mount_point)) {
                panic!("cannot unmount the test image: {e}");
            }
            self.mounted = false;
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.mount_point).status();
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The three age files of a slots file (`u32 LE length | age file`, three
/// times, then zeros), as `docs/storage.md` specifies it.
fn slots_of(file: &[u8]) -> Vec<Vec<u8>> {
    let mut rest = file;
    let mut out = Vec::new();
    for _ in 0..3 {
        let len = u32::from_le_bytes(rest[..4].try_into().expect("length")) as usize;
        out.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    out
}

/// What an attacker who imaged the disk at this moment would hold: the
/// slots and every file the profile wrote.
struct Captured {
    slots: Vec<Vec<u8>>,
    files: BTreeMap<String, Vec<u8>>,
}

fn capture(dir: &Path) -> Captured {
    let files = snapshot_dir(dir);
    let slots = slots_of(files.get("unlock").expect("slots file"));
    Captured { slots, files }
}

/// Whether `needle` occurs in the image (memchr: a naive scan of 32 MiB per
/// needle takes minutes in a debug build).
fn contains(image: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(image, needle).is_some()
}

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[test]
fn no_earlier_unlock_slot_or_keyring_survives_on_an_ext4_image() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut disk = match Mounted::new(root.path()) {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipping the disk-image test: {why} (it needs root and loop devices)");
            return;
        }
    };
    let dir = disk.mount_point.join("profile");
    let mut earlier = Vec::new();
    let final_slots;
    {
        let profile = Profile::create_with_options(&dir, UnlockSecret::passphrase("first"), FAST)
            .expect("create");
        // Too large to be kept inside the manifest: chunk files, each
        // checked below.
        for i in 0..20u8 {
            profile
                .put_snapshot(DocumentId::random(), &vec![i; INLINE_CHUNK_MAX + 1])
                .expect("put");
        }
        earlier.push(capture(&dir));
        profile
            .set_keystore_secret(&[7; 32], Some(&pass("first")))
            .expect("keystore");
        earlier.push(capture(&dir));
        let KeystoreAction::Replace(_) = profile.set_passphrase(&pass("second")).expect("change")
        else {
            panic!("keystore unlock is on: the rotation must hand out a new secret");
        };
        earlier.push(capture(&dir));
        profile
            .set_duress_passphrase(Some(&pass("duress")))
            .expect("duress");
        earlier.push(capture(&dir));
        profile.lock();
        assert!(matches!(
            profile.unlock(&UnlockSecret::passphrase("duress")),
            Ok(KeystoreAction::Delete)
        ));
        profile.finish_cleanup();
        final_slots = capture(&dir);
    }
    disk.unmount();
    let image = fs::read(&disk.image).expect("read image");

    // The scan finds what is there: the live slots are in the image.
    for slot in &final_slots.slots {
        assert!(contains(&image, slot), "the scan misses a live slot");
    }
    // The duress slot became the passphrase slot on purpose (re-wrapping it
    // would cost a scrypt more than a real unlock, a timing tell); it is
    // the only earlier slot still live, and it is excluded.
    let moved = &earlier[3].slots[2];
    assert_eq!(&final_slots.slots[1], moved);
    let live: Vec<&Vec<u8>> = final_slots.slots.iter().collect();
    let mut checked = 0;
    for (step, captured) in earlier.iter().enumerate() {
        for (index, slot) in captured.slots.iter().enumerate() {
            if live.contains(&slot) {
                continue;
            }
            assert!(
                !contains(&image, slot),
                "slot {index} from before change {step} is still on the disk"
            );
            // Also the tail (the wrapped key's ciphertext) on its own.
            assert!(
                !contains(&image, &slot[slot.len() - 48..]),
                "part of slot {index} from before change {step} is still on the disk"
            );
            checked += 1;
        }
        for (name, bytes) in &captured.files {
            if name == "unlock" || name == "attempts" {
                continue;
            }
            if final_slots.files.get(name) == Some(bytes) {
                continue;
            }
            // Every keyring, manifest and chunk the old profile had.
            assert!(
                !contains(&image, bytes),
                "file {name} from before change {step} is still on the disk"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} earlier items were checked");
}
