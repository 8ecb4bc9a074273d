//! Private signing keys at rest: sealed with AES-256-GCM under a
//! key-encryption key kept outside the database, so that a database copy
//! (a backup, a dump, a shared PostgreSQL) does not hold them in the clear.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngExt;

use super::KeyError;
use crate::files;

/// Marks a sealed value (and its format version).
const PREFIX: &str = "enc:v1:";

/// Seals and opens private keys; cheap to clone.
#[derive(Clone)]
pub struct KeyVault {
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyVault([redacted])")
    }
}

fn bad(msg: impl Into<String>) -> KeyError {
    KeyError::Crypto(msg.into())
}

impl KeyVault {
    /// A vault from 32 raw key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<KeyVault, KeyError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| bad("the key-encryption key must be 32 bytes"))?;
        Ok(KeyVault {
            key: Arc::new(LessSafeKey::new(unbound)),
        })
    }

    /// A vault from the base64 (standard or URL-safe) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<KeyVault, KeyError> {
        let text = text.trim();
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
            .map_err(|_| bad("the key-encryption key is not base64"))?;
        KeyVault::from_bytes(&bytes)
    }

    /// Reads the key file; with `may_create`, creates it (mode 0600) with a
    /// fresh random key when it does not exist. A key file that group or
    /// others may access is refused: whoever reads it can open every
    /// sealed signing key in a copy of the database.
    pub fn from_file(path: &Path, may_create: bool) -> Result<KeyVault, KeyError> {
        // A missing file is handled with the read below.
        if let Ok(Some(mode)) = files::open_to_others(path) {
            return Err(bad(files::too_open("key file", path, mode)));
        }
        match std::fs::read_to_string(path) {
            Ok(text) => KeyVault::from_base64(&text)
                .map_err(|e| bad(format!("key file {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
                let mut bytes = [0u8; 32];
                rand::rng().fill(&mut bytes);
                let mut file = files::create_private(path)
                    .map_err(|e| bad(format!("cannot create key file {}: {e}", path.display())))?;
                writeln!(file, "{}", URL_SAFE_NO_PAD.encode(bytes))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| bad(format!("cannot write key file {}: {e}", path.display())))?;
                log::info!("created key-encryption key file {}", path.display());
                KeyVault::from_bytes(&bytes)
            }
            Err(e) => Err(bad(format!("cannot read key file {}: {e}", path.display()))),
        }
    }

    /// Seals a private key; `kid` is bound in as associated data, so a
    /// sealed key cannot be moved to another row.
    pub fn seal(&self, kid: &str, pem: &str) -> Result<String, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill(&mut nonce);
        let mut data = pem.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut data,
            )
            .map_err(|_| bad("sealing a signing key failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a sealed private key.
    pub fn open(&self, kid: &str, stored: &str) -> Result<String, KeyError> {
        let wrong = || {
            bad(format!(
                "cannot decrypt signing key {kid}: is this the key-encryption key it was sealed with?"
            ))
        };
        let body = stored.strip_prefix(PREFIX).ok_or_else(wrong)?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| wrong())?;
        if raw.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut sealed)
            .map_err(|_| wrong())?;
        String::from_utf8(plain.to_vec()).map_err(|_| wrong())
    }

    /// Whether a stored value is sealed.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_bound_to_kid() {
        let v = KeyVault::from_bytes(&[7u8; 32]).unwrap();
        let sealed = v
            .seal("kid1", "-----BEGIN PRIVATE KEY-----\nabc\n")
            .unwrap();
        assert!(KeyVault::is_sealed(&sealed));
        assert!(!sealed.contains("PRIVATE KEY"));
        assert_eq!(
            v.open("kid1", &sealed).unwrap(),
            "-----BEGIN PRIVATE KEY-----\nabc\n"
        );
        assert!(v.open("kid2", &sealed).is_err(), "moved to another kid");
        let other = KeyVault::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open("kid1", &sealed).is_err(), "wrong key");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        assert!(KeyVault::from_file(&path, false).is_err());
        let a = KeyVault::from_file(&path, true).unwrap();
        let sealed = a.seal("k", "secret").unwrap();
        let b = KeyVault::from_file(&path, false).unwrap();
        assert_eq!(b.open("k", &sealed).unwrap(), "secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(KeyVault::from_base64("too short").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_open_to_others_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        KeyVault::from_file(&path, true).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeyVault::from_file(&path, false).unwrap_err().to_string();
        assert!(err.contains("(mode 0644)"), "{err}");
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        KeyVault::from_file(&path, false).unwrap();
    }
}
