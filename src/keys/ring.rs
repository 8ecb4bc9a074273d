//! The keys a running server uses: the active access-token key, the active
//! ID-token key of each algorithm, and every key still published,
//! reloaded from the database every few seconds so that `authd keys
//! rotate` from another process takes effect without a restart.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde::Serialize;

use super::signer::Signer;
use super::{
    add_id_key, alg_of, encoding_key, generate, is_published, state, KeyError, KeyState, KeyVault,
    SigningAlg,
};
use crate::clock::Clock;
use crate::db::signing_keys::{self, SigningKeyRow};
use crate::db::{AnyConnection, Db};

/// How often a running server rereads the keys (docs/interface.md "Command line (admin)" promises that
/// a rotation takes effect within 5 seconds).
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// A public key that may still verify live tokens.
struct PublishedKey {
    kid: String,
    alg: Algorithm,
    decoding: DecodingKey,
}

/// A key that signs, parsed once.
struct ActiveKey {
    kid: String,
    alg: SigningAlg,
    signer: Signer,
}

impl ActiveKey {
    fn open(row: &SigningKeyRow, vault: &KeyVault) -> Result<ActiveKey, KeyError> {
        let alg = alg_of(row)?;
        let pem = vault.open(&row.kid, &row.private_key_sealed)?;
        Ok(ActiveKey {
            kid: row.kid.clone(),
            alg,
            signer: Signer::new(alg, encoding_key(alg, &pem)?.as_bytes())?,
        })
    }

    fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(self.alg.jwt());
        header.typ = Some(typ.into());
        header.kid = Some(self.kid.clone());
        self.signer.jws(&header, claims)
    }
}

/// An immutable view of the keys at one moment.
pub struct KeySnapshot {
    access: ActiveKey,
    /// One per algorithm (docs/interface.md "OpenID Connect").
    id_tokens: Vec<ActiveKey>,
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
        let active = |r: &&SigningKeyRow| state(r) == KeyState::Active;
        let access = rows
            .iter()
            .filter(active)
            .find(|r| r.purpose == signing_keys::ACCESS)
            .ok_or_else(|| {
                KeyError::Crypto("no active signing key (run 'authd keys rotate')".into())
            })?;
        let access = ActiveKey::open(access, vault)?;
        let mut id_tokens: Vec<ActiveKey> = Vec::new();
        // Newest first: should two of an algorithm be active (instances
        // that raced to make one), the newest signs.
        for row in rows.iter().filter(active) {
            if row.purpose == signing_keys::ID_TOKEN
                && !id_tokens.iter().any(|k| k.alg.as_str() == row.alg)
            {
                id_tokens.push(ActiveKey::open(row, vault)?);
            }
        }
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
            access,
            id_tokens,
            published,
            jwks,
        })
    }

    /// The active access-token key's id.
    pub fn kid(&self) -> &str {
        &self.access.kid
    }

    /// Signs claims as an RFC 9068 access token (`typ: at+jwt`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.access.sign("at+jwt", claims)
    }

    /// Signs claims as a status list (`typ: statuslist+jwt`,
    /// draft-ietf-oauth-status-list §5.1) with the access-token key, which
    /// resource servers already trust.
    pub fn sign_status_list<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.access.sign("statuslist+jwt", claims)
    }

    /// Whether an ID-token key of `alg` is active.
    pub fn has_id_key(&self, alg: SigningAlg) -> bool {
        self.id_tokens.iter().any(|k| k.alg == alg)
    }

    /// Signs claims as an ID token (`typ: JWT`, OpenID Connect Core 1.0
    /// §2) with the active ID-token key of `alg`; `None` if there is none.
    pub fn sign_id<T: Serialize>(
        &self,
        alg: SigningAlg,
        claims: &T,
    ) -> Result<Option<String>, KeyError> {
        self.sign_with_id_key(alg, "JWT", claims)
    }

    /// Signs claims as a logout token (`typ: logout+jwt`, Back-Channel
    /// Logout 1.0 §2.4) with the active ID-token key of `alg`, as the
    /// client's ID tokens are; `None` if there is none.
    pub fn sign_logout<T: Serialize>(
        &self,
        alg: SigningAlg,
        claims: &T,
    ) -> Result<Option<String>, KeyError> {
        self.sign_with_id_key(alg, "logout+jwt", claims)
    }

    fn sign_with_id_key<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<Option<String>, KeyError> {
        self.id_tokens
            .iter()
            .find(|k| k.alg == alg)
            .map(|k| k.sign(typ, claims))
            .transpose()
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

/// Where a running server's keys come from, to reload them.
#[derive(Clone)]
struct Source {
    db: Db,
    vault: KeyVault,
    access_ttl: i64,
    clock: Clock,
}

impl Source {
    async fn load(&self) -> Result<KeySnapshot, KeyError> {
        let (vault, now, ttl) = (self.vault.clone(), self.clock.now(), self.access_ttl);
        self.db
            .read(move |conn| KeySnapshot::load(conn, &vault, now, ttl))
            .await
    }
}

/// The current [`KeySnapshot`], swapped atomically on reload.
#[derive(Clone)]
pub struct KeyRing {
    current: Arc<RwLock<Arc<KeySnapshot>>>,
    /// Set by [`KeyRing::spawn_reloader`].
    source: Arc<OnceLock<Source>>,
}

impl KeyRing {
    /// Starts with a loaded snapshot.
    pub fn new(snapshot: KeySnapshot) -> KeyRing {
        KeyRing {
            current: Arc::new(RwLock::new(Arc::new(snapshot))),
            source: Arc::default(),
        }
    }

    /// The keys in force once an ID-token key of `alg` is: made now if
    /// none is (docs/interface.md "OpenID Connect": created on first
    /// need), stored sealed unless another instance stored one first, and
    /// the keys reloaded at once rather than at the next tick. The key is
    /// generated on the blocking pool (an RSA key takes tens of
    /// milliseconds) and only stored in the write.
    pub async fn with_id_key(&self, alg: SigningAlg) -> Result<Arc<KeySnapshot>, KeyError> {
        let source = self
            .source
            .get()
            .ok_or_else(|| KeyError::Crypto("the key ring has no database to reload from".into()))?
            .clone();
        let new = actix_web::web::block(move || generate(alg))
            .await
            .map_err(|_| KeyError::Crypto("key generation was cancelled".into()))??;
        let (vault, now) = (source.vault.clone(), source.clock.now());
        source
            .db
            .write(move |conn| add_id_key(conn, &vault, new, now))
            .await?;
        self.replace(source.load().await?);
        Ok(self.current())
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
        let source = Source {
            db,
            vault,
            access_ttl,
            clock,
        };
        // A second reloader (there is none) would share the first's source.
        let _ = self.source.set(source.clone());
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(RELOAD_INTERVAL);
            loop {
                tick.tick().await;
                match source.load().await {
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
