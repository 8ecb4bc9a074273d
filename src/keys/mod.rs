//! Signing keys: generation, storage, rotation, and the public JWK set.
//!
//! Private keys live in the database as PKCS#8 PEM sealed by a
//! [`KeyVault`]; the public half is stored beside them as a ready-made JWK
//! so that publishing the JWKS never touches private material.

mod lifecycle;
mod ring;
pub mod schedule;
mod signer;
mod vault;

pub use lifecycle::{is_published, revoke, rotate, stage, state, KeyState, Revoked};
pub use ring::{KeyRing, KeySnapshot};
pub use vault::KeyVault;

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::db::signing_keys::{self, SigningKeyRow};
use crate::db::{self, AnyConnection, DbError};
use crate::secret::random_id;

/// Grace added to a retired key's publication, for clock skew between
/// authd and resource servers (RFC 9068 verifiers allow some leeway).
pub const PUBLISH_GRACE_SECS: i64 = 60;

/// The ID-token algorithm of a client that chose none: OpenID Connect
/// Core 1.0 §15.1 makes RS256 the one every relying party can verify.
pub const DEFAULT_ID_TOKEN_ALG: SigningAlg = SigningAlg::Rs256;

/// The JWS algorithms authd signs with: asymmetric only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256 (default).
    #[value(name = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    #[value(name = "RS256")]
    Rs256,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDsa,
}

impl SigningAlg {
    /// The JWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::Rs256 => "RS256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    /// The `jsonwebtoken` algorithm.
    pub fn jwt(self) -> Algorithm {
        match self {
            SigningAlg::Es256 => Algorithm::ES256,
            SigningAlg::Rs256 => Algorithm::RS256,
            SigningAlg::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<SigningAlg, String> {
        match s {
            "ES256" => Ok(SigningAlg::Es256),
            "RS256" => Ok(SigningAlg::Rs256),
            "EdDSA" => Ok(SigningAlg::EdDsa),
            other => Err(format!(
                "unsupported signing algorithm '{other}' (use ES256, RS256 or EdDSA)"
            )),
        }
    }
}

/// Errors about signing keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Generating or parsing key material failed.
    #[error("signing key error: {0}")]
    Crypto(String),
    /// A stored key names an algorithm we do not know.
    #[error("stored key '{kid}' has unsupported algorithm '{alg}'")]
    UnknownAlg {
        /// The key.
        kid: String,
        /// Its algorithm.
        alg: String,
    },
    /// No stored key has this id.
    #[error("no signing key '{0}'")]
    NotFound(String),
    /// A step of the automatic rotation needed a new key of this
    /// algorithm that was not generated before its write (the keys
    /// changed in between): the step is undone, and tried again.
    #[error("no {} key was generated before the write that needs it", .0.as_str())]
    Unprepared(SigningAlg),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for KeyError {
    fn from(e: diesel::result::Error) -> KeyError {
        KeyError::Db(DbError::Query(e))
    }
}

fn crypto<E: fmt::Display>(e: E) -> KeyError {
    KeyError::Crypto(e.to_string())
}

/// A freshly generated key pair, private key in the clear: it never goes
/// to the database like this (see [`rotate`]).
pub struct NewKey {
    /// Key id.
    pub kid: String,
    /// Its algorithm.
    pub alg: SigningAlg,
    /// PKCS#8 PEM of the private key.
    pub private_key_pem: String,
    /// The public JWK as JSON.
    pub public_jwk: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Generates a fresh key pair (not yet stored).
pub fn generate(alg: SigningAlg) -> Result<NewKey, KeyError> {
    let pkcs8: Vec<u8> = match alg {
        SigningAlg::Es256 => {
            let rng = SystemRandom::new();
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(crypto)?
                .as_ref()
                .to_vec()
        }
        SigningAlg::Rs256 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(crypto)?
            .as_der()
            .map_err(crypto)?
            .as_ref()
            .to_vec(),
        // v1 (without the embedded public key) is the form jsonwebtoken reads.
        SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new())
            .map_err(crypto)?
            .as_ref()
            .to_vec(),
    };
    let pem = to_pem(&pkcs8);
    let kid = random_id();
    let encoding = encoding_key(alg, &pem)?;
    let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt()).map_err(crypto)?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let public_jwk = serde_json::to_string(&jwk).map_err(crypto)?;
    Ok(NewKey {
        kid,
        alg,
        private_key_pem: pem,
        public_jwk,
    })
}

fn to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// Parses a stored private key for signing.
pub fn encoding_key(alg: SigningAlg, pem: &str) -> Result<EncodingKey, KeyError> {
    let pem = pem.as_bytes();
    match alg {
        SigningAlg::Es256 => EncodingKey::from_ec_pem(pem),
        SigningAlg::Rs256 => EncodingKey::from_rsa_pem(pem),
        SigningAlg::EdDsa => EncodingKey::from_ed_pem(pem),
    }
    .map_err(crypto)
}

/// The algorithm of a stored key.
pub fn alg_of(row: &SigningKeyRow) -> Result<SigningAlg, KeyError> {
    row.alg.parse().map_err(|_| KeyError::UnknownAlg {
        kid: row.kid.clone(),
        alg: row.alg.clone(),
    })
}

/// A new key sealed for storage, made at `now` for `purpose`
/// ([`signing_keys::ACCESS`] or [`signing_keys::ID_TOKEN`]): active from
/// `now` with `active`, else staged.
pub fn sealed(
    vault: &KeyVault,
    new: NewKey,
    purpose: &str,
    now: i64,
    active: bool,
) -> Result<SigningKeyRow, KeyError> {
    Ok(SigningKeyRow {
        private_key_sealed: vault.seal(&new.kid, &new.private_key_pem)?,
        kid: new.kid,
        alg: new.alg.as_str().to_string(),
        public_jwk: new.public_jwk,
        created_at: now,
        retired_at: None,
        purpose: purpose.to_string(),
        activated_at: active.then_some(now),
        revoked_at: None,
    })
}

/// Makes an ID-token key for every algorithm a client may ask for (RS256,
/// and each client's `--id-token-alg`) that has none: at start and when a
/// client is registered, so that the key is in the JWKS before any ID
/// token it signs (a relying party may have read the JWKS once, at its
/// own start: the `openidconnect` crate does). Inside one transaction.
pub fn ensure_id_keys(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    now: i64,
) -> Result<(), KeyError> {
    db::write_tx(conn, |conn| {
        let mut algs = vec![DEFAULT_ID_TOKEN_ALG];
        for alg in crate::db::clients::id_token_algs(conn)? {
            let alg: SigningAlg = alg.parse().map_err(KeyError::Crypto)?;
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        let have = signing_keys::active_id_keys(conn)?;
        for alg in algs {
            if !have.iter().any(|k| k.alg == alg.as_str()) {
                add_id_key(conn, vault, generate(alg)?, now)?;
            }
        }
        Ok(())
    })
}

/// Stores `new` as the ID-token key of its algorithm, unless another
/// instance made one first (then `new` is dropped and that one serves):
/// inside the caller's write transaction.
pub fn add_id_key(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    new: NewKey,
    now: i64,
) -> Result<(), KeyError> {
    let alg = new.alg.as_str();
    if signing_keys::active_id_keys(conn)?
        .iter()
        .any(|k| k.alg == alg)
    {
        return Ok(());
    }
    let row = sealed(vault, new, signing_keys::ID_TOKEN, now, true)?;
    signing_keys::insert(conn, &row)?;
    crate::audit::key_rotated(&row.kid, &row.alg, 0);
    Ok(())
}

/// Makes sure an active key of `alg` exists; returns the key it had to
/// create, if any.
pub fn ensure_active(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    alg: SigningAlg,
    now: i64,
) -> Result<Option<SigningKeyRow>, KeyError> {
    match signing_keys::active(conn)? {
        Some(active) if active.alg == alg.as_str() => Ok(None),
        _ => rotate(conn, vault, alg, now).map(Some),
    }
}

/// Opens the vault that seals this database's keys: `kek` (base64) when
/// given, else the key file, which is created only while the database
/// holds no sealed key, so that a wrong path is an error, never a second
/// key that cannot open the first.
pub fn open_vault(
    conn: &mut AnyConnection,
    kek: Option<&str>,
    key_file: &std::path::Path,
) -> Result<KeyVault, KeyError> {
    let rows = signing_keys::list(conn)?;
    let sealed = rows
        .iter()
        .find(|k| KeyVault::is_sealed(&k.private_key_sealed));
    let vault = match kek {
        Some(kek) => KeyVault::from_base64(kek)?,
        None if sealed.is_some() && !key_file.exists() => {
            return Err(KeyError::Crypto(format!(
                "the signing keys in this database are sealed, but the key file {} does not exist: \
                 set AUTHD_KEY_FILE or AUTHD_KEY_ENCRYPTION_KEY to the key that sealed them",
                key_file.display()
            )))
        }
        None => KeyVault::from_file(key_file, sealed.is_none())?,
    };
    // A wrong key must fail here, before it seals a new key that nothing
    // else could open.
    if let Some(row) = sealed {
        vault.open(&row.kid, &row.private_key_sealed)?;
    }
    Ok(vault)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Header, Validation};

    #[test]
    fn every_algorithm_signs_and_its_jwk_verifies() {
        for alg in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
            let row = generate(alg).unwrap();
            let key = encoding_key(alg, &row.private_key_pem).unwrap();
            let signer = signer::Signer::new(alg, key.as_bytes()).unwrap();
            let mut header = Header::new(alg.jwt());
            header.kid = Some(row.kid.clone());
            let claims = serde_json::json!({"sub": "x", "exp": 4_000_000_000u64});
            let token = signer.jws(&header, &claims).unwrap();
            let jwk: Jwk = serde_json::from_str(&row.public_jwk).unwrap();
            assert_eq!(jwk.common.key_id.as_deref(), Some(row.kid.as_str()));
            assert!(!row.public_jwk.contains("\"d\""), "private part leaked");
            let decoding = DecodingKey::from_jwk(&jwk).unwrap();
            let mut v = Validation::new(alg.jwt());
            v.validate_aud = false;
            decode::<serde_json::Value>(&token, &decoding, &v).unwrap();
        }
    }
}
