//! The keys a running server uses: the active signing key and every key
//! still published, reloaded from the database every few seconds so that
//! `authd keys rotate` from another process takes effect without a restart.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde::Serialize;

use super::signer::Signer;
use super::{alg_of, encoding_key, is_published, KeyError, KeyVault, SigningAlg};
use crate::clock::Clock;
use crate::db::{signing_keys, AnyConnection, Db};

/// How often a running server rereads the keys (docs/interface.md "Command line (admin)" promises that
/// a rotation takes effect within 5 seconds).
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// A public key that may still verify live tokens.
struct PublishedKey {
    kid: String,
    alg: Algorithm,
    decoding: DecodingKey,
}

/// An immutable view of the keys at one moment.
pub struct KeySnapshot {
    kid: String,
    alg: SigningAlg,
    signer: Signer,
    published: Vec<PublishedKey>,
    jwks: String,
}

impl KeySnapshot {
    /// Loads the active key and every published one.
    pub fn load(
        conn: &mut AnyConnection,
        vault: &KeyVault,
        now: i64,
        access_ttl: i64,
    ) -> Result<KeySnapshot, KeyError> {
        let rows = signing_keys::list(conn)?;
        let active = rows
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| {
                KeyError::Crypto("no active signing key (run 'authd keys rotate')".into())
            })?;
        let alg = alg_of(active)?;
        let pem = vault.open(&active.kid, &active.private_key_sealed)?;
        let signer = Signer::new(alg, encoding_key(alg, &pem)?.as_bytes())?;
        let mut published = Vec::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for row in rows.iter().filter(|r| is_published(r, now, access_ttl)) {
            let jwk: Jwk = serde_json::from_str(&row.public_jwk)
                .map_err(|e| KeyError::Crypto(format!("stored JWK of '{}': {e}", row.kid)))?;
            published.push(PublishedKey {
                kid: row.kid.clone(),
                alg: alg_of(row)?.jwt(),
                decoding: DecodingKey::from_jwk(&jwk)
                    .map_err(|e| KeyError::Crypto(e.to_string()))?,
            });
            jwks.keys.push(jwk);
        }
        let jwks = serde_json::to_string(&jwks).map_err(|e| KeyError::Crypto(e.to_string()))?;
        Ok(KeySnapshot {
            kid: active.kid.clone(),
            alg,
            signer,
            published,
            jwks,
        })
    }

    /// The active key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs claims as an RFC 9068 access token (`typ: at+jwt`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(self.alg.jwt());
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        self.signer.jws(&header, claims)
    }

    /// The verification key and algorithm for `kid`, if still published.
    pub fn decoding_key(&self, kid: &str) -> Option<(&DecodingKey, Algorithm)> {
        self.published
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| (&k.decoding, k.alg))
    }

    /// The JWK set document (`/.well-known/jwks.json`).
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }
}

/// The current [`KeySnapshot`], swapped atomically on reload.
#[derive(Clone)]
pub struct KeyRing {
    current: Arc<RwLock<Arc<KeySnapshot>>>,
}

impl KeyRing {
    /// Starts with a loaded snapshot.
    pub fn new(snapshot: KeySnapshot) -> KeyRing {
        KeyRing {
            current: Arc::new(RwLock::new(Arc::new(snapshot))),
        }
    }

    /// The keys in force now.
    pub fn current(&self) -> Arc<KeySnapshot> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, snapshot: KeySnapshot) {
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// Rereads the keys every [`RELOAD_INTERVAL`] on the current actix
    /// runtime until the returned handle is aborted or the runtime stops.
    pub fn spawn_reloader(
        &self,
        db: Db,
        vault: KeyVault,
        access_ttl: i64,
        clock: Clock,
    ) -> actix_web::rt::task::JoinHandle<()> {
        let ring = self.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(RELOAD_INTERVAL);
            loop {
                tick.tick().await;
                let now = clock.now();
                let loaded = db
                    .read({
                        let vault = vault.clone();
                        move |conn| KeySnapshot::load(conn, &vault, now, access_ttl)
                    })
                    .await;
                match loaded {
                    Ok(snapshot) => {
                        if snapshot.kid() != ring.current().kid() {
                            log::info!("now signing with key {}", snapshot.kid());
                        }
                        ring.replace(snapshot);
                    }
                    // Keep signing with the last good keys; say why once a tick.
                    Err(e) => log::warn!("cannot reload signing keys: {e}"),
                }
            }
        })
    }
}
