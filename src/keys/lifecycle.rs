//! A key's life (docs/interface.md "Token lifecycle", Keys): staged
//! (published, signing nothing), active (signing), retired (published while
//! its tokens may live), revoked (neither published nor trusted). Each
//! change is one transaction, audited once it commits.

use super::{alg_of, generate, sealed, KeyError, KeyVault, NewKey, SigningAlg, PUBLISH_GRACE_SECS};
use crate::db::signing_keys::{self, SigningKeyRow, ACCESS, ID_TOKEN};
use crate::db::{self, AnyConnection};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, signing nothing yet.
    Staged,
    /// Signing.
    Active,
    /// Replaced; published while its tokens may live.
    Retired,
    /// Withdrawn: not published, its tokens refused.
    Revoked,
}

impl KeyState {
    /// The name `keys list` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Staged => "staged",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }
}

/// The state of a stored key.
pub fn state(row: &SigningKeyRow) -> KeyState {
    match (row.revoked_at, row.activated_at, row.retired_at) {
        (Some(_), _, _) => KeyState::Revoked,
        (None, None, _) => KeyState::Staged,
        (None, Some(_), Some(_)) => KeyState::Retired,
        (None, Some(_), None) => KeyState::Active,
    }
}

/// Whether the key is in the JWKS: staged or active, or retired less than
/// one access-token lifetime (plus grace) ago; never once revoked.
pub fn is_published(row: &SigningKeyRow, now: i64, access_ttl: i64) -> bool {
    match (state(row), row.retired_at) {
        (KeyState::Revoked, _) => false,
        (KeyState::Retired, Some(retired)) => now < retired + access_ttl + PUBLISH_GRACE_SECS,
        _ => true,
    }
}

/// Where the key material of new keys comes from.
pub(super) enum Material {
    /// Generated where it is needed (an admin command, on a connection of
    /// its own).
    Generate,
    /// Generated before the write ([`super::schedule`]): inside a write
    /// of the server, an RSA key's generation would hold the database (on
    /// SQLite, every other write) for tens of milliseconds. A key it lacks
    /// is [`KeyError::Unprepared`].
    Made(Vec<NewKey>),
}

impl Material {
    /// A new key of `alg`.
    fn key(&mut self, alg: SigningAlg) -> Result<NewKey, KeyError> {
        match self {
            Material::Generate => generate(alg),
            Material::Made(keys) => match keys.iter().position(|k| k.alg == alg) {
                Some(i) => Ok(keys.swap_remove(i)),
                None => Err(KeyError::Unprepared(alg)),
            },
        }
    }
}

/// The algorithms of the keys that staging, or activating, the next keys
/// after an access-token key of `alg` would generate, given every stored
/// key: one for each next key (the access-token key of `alg`, an ID-token
/// key for each active one's algorithm) that is not staged yet.
pub(super) fn to_generate(
    rows: &[SigningKeyRow],
    alg: SigningAlg,
) -> Result<Vec<SigningAlg>, KeyError> {
    let staged = |purpose: &str, alg: SigningAlg| {
        rows.iter()
            .any(|r| r.purpose == purpose && r.alg == alg.as_str() && state(r) == KeyState::Staged)
    };
    let mut algs = Vec::new();
    if !staged(ACCESS, alg) {
        algs.push(alg);
    }
    let mut id_algs = Vec::new();
    for id in rows
        .iter()
        .filter(|r| r.purpose == ID_TOKEN && state(r) == KeyState::Active)
    {
        let id_alg = alg_of(id)?;
        if !id_algs.contains(&id_alg) {
            id_algs.push(id_alg);
        }
    }
    algs.extend(id_algs.into_iter().filter(|a| !staged(ID_TOKEN, *a)));
    Ok(algs)
}

/// Stages a next access-token key of `alg`, and a next ID-token key for
/// each algorithm that has an active one, unless one is staged already:
/// they are published at once and sign nothing until [`rotate`]. Returns
/// the staged access-token key.
pub fn stage(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    alg: SigningAlg,
    now: i64,
) -> Result<SigningKeyRow, KeyError> {
    stage_with(conn, vault, alg, now, &mut Material::Generate)
}

/// [`stage`], with new keys from `material`.
pub(super) fn stage_with(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    alg: SigningAlg,
    now: i64,
    material: &mut Material,
) -> Result<SigningKeyRow, KeyError> {
    let (row, made) = db::write_tx(conn, |conn| {
        signing_keys::lock_active(conn)?;
        let mut made = Vec::new();
        let row = staged_or_new(conn, vault, (ACCESS, alg), now, &mut made, material)?;
        for active in signing_keys::active_id_keys(conn)? {
            let next = (ID_TOKEN, alg_of(&active)?);
            staged_or_new(conn, vault, next, now, &mut made, material)?;
        }
        Ok::<_, KeyError>((row, made))
    })?;
    for new in made {
        crate::audit::key_staged(&new.kid, &new.alg, &new.purpose);
    }
    Ok(row)
}

fn staged_or_new(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    (purpose, alg): (&str, SigningAlg),
    now: i64,
    made: &mut Vec<SigningKeyRow>,
    material: &mut Material,
) -> Result<SigningKeyRow, KeyError> {
    if let Some(row) = signing_keys::staged(conn, purpose, alg.as_str())? {
        return Ok(row);
    }
    let row = sealed(vault, material.key(alg)?, purpose, now, false)?;
    signing_keys::insert(conn, &row)?;
    made.push(row.clone());
    Ok(row)
}

/// Makes the staged access-token key of `alg` the active one (a new key if
/// none is staged), and likewise renews every active ID-token key, all in
/// one transaction. Older keys are retired but stay published (see
/// [`is_published`]).
pub fn rotate(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    alg: SigningAlg,
    now: i64,
) -> Result<SigningKeyRow, KeyError> {
    let rotation = db::write_tx(conn, |conn| {
        take_over(conn, vault, alg, now, None, &mut Material::Generate)
    })?;
    // Without `replaces`, a rotation always happens.
    let rotation = rotation.ok_or_else(|| KeyError::Crypto("rotation did not happen".into()))?;
    rotation.audit();
    Ok(rotation.key)
}

/// What one rotation activated.
pub(super) struct Rotation {
    /// The access-token key now signing.
    pub key: SigningKeyRow,
    /// The ID-token keys now signing.
    pub renewed: Vec<SigningKeyRow>,
    /// How many access-token keys it retired.
    pub retired: usize,
}

impl Rotation {
    /// Audits the rotation, once its transaction has committed.
    pub fn audit(&self) {
        crate::audit::key_rotated(&self.key.kid, &self.key.alg, self.retired);
        for new in &self.renewed {
            crate::audit::key_rotated(&new.kid, &new.alg, 0);
        }
    }
}

/// The rotation inside the caller's transaction, new keys (where none is
/// staged) from `material`. With `replaces`, only if that key is still
/// the active one: the conditional update that lets one instance, and
/// only one, rotate (`None` when another did first).
pub(super) fn take_over(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    alg: SigningAlg,
    now: i64,
    replaces: Option<&str>,
    material: &mut Material,
) -> Result<Option<Rotation>, KeyError> {
    let mut retired = 0;
    if let Some(old) = replaces {
        retired = signing_keys::retire(conn, old, now)?;
        if retired == 0 {
            return Ok(None);
        }
    }
    let row = activate_next(conn, vault, (ACCESS, alg), now, material)?;
    retired += signing_keys::retire_others(conn, &row, now)?;
    let mut renewed = Vec::new();
    for old in signing_keys::active_id_keys(conn)? {
        let next = (ID_TOKEN, alg_of(&old)?);
        let new = activate_next(conn, vault, next, now, material)?;
        signing_keys::retire_others(conn, &new, now)?;
        renewed.push(new);
    }
    Ok(Some(Rotation {
        key: row,
        renewed,
        retired,
    }))
}

/// Activates the staged key of `purpose` and `alg`, or a new one from
/// `material`.
fn activate_next(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    (purpose, alg): (&str, SigningAlg),
    now: i64,
    material: &mut Material,
) -> Result<SigningKeyRow, KeyError> {
    if let Some(mut row) = signing_keys::staged(conn, purpose, alg.as_str())? {
        if signing_keys::activate(conn, &row.kid, now)? == 1 {
            row.activated_at = Some(now);
            return Ok(row);
        }
    }
    let row = sealed(vault, material.key(alg)?, purpose, now, true)?;
    signing_keys::insert(conn, &row)?;
    Ok(row)
}

/// What `keys revoke` did.
pub struct Revoked {
    /// The revoked key.
    pub key: SigningKeyRow,
    /// The key that took over, when the revoked one was active.
    pub successor: Option<SigningKeyRow>,
}

/// Revokes `kid`: out of the JWKS, never signing again, its tokens refused
/// by authd's own checks. When it was active, the staged key of its
/// purpose and algorithm (or a new one) takes over in the same
/// transaction.
pub fn revoke(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    kid: &str,
    now: i64,
) -> Result<Revoked, KeyError> {
    let revoked = db::write_tx(conn, |conn| {
        let key = signing_keys::find(conn, kid)?.ok_or_else(|| KeyError::NotFound(kid.into()))?;
        let was = state(&key);
        signing_keys::revoke(conn, kid, now)?;
        let successor = match was {
            KeyState::Active => Some(activate_next(
                conn,
                vault,
                (&key.purpose, alg_of(&key)?),
                now,
                &mut Material::Generate,
            )?),
            _ => None,
        };
        let key = signing_keys::find(conn, kid)?.ok_or_else(|| KeyError::NotFound(kid.into()))?;
        Ok::<_, KeyError>(Revoked { key, successor })
    })?;
    crate::audit::key_revoked(
        &revoked.key.kid,
        &revoked.key.alg,
        revoked.successor.as_ref().map(|s| s.kid.as_str()),
    );
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(activated: Option<i64>, retired: Option<i64>, revoked: Option<i64>) -> SigningKeyRow {
        SigningKeyRow {
            kid: "k".into(),
            alg: "ES256".into(),
            private_key_sealed: String::new(),
            public_jwk: String::new(),
            created_at: 100,
            retired_at: retired,
            purpose: ACCESS.into(),
            activated_at: activated,
            revoked_at: revoked,
        }
    }

    #[test]
    fn states_and_publication() {
        let staged = row(None, None, None);
        assert_eq!(state(&staged), KeyState::Staged);
        assert!(is_published(&staged, 10_000, 900));
        let active = row(Some(100), None, None);
        assert_eq!(state(&active), KeyState::Active);
        assert!(is_published(&active, 10_000, 900));
        let retired = row(Some(100), Some(1000), None);
        assert_eq!(state(&retired), KeyState::Retired);
        assert!(is_published(&retired, 1000 + 900, 900));
        assert!(!is_published(
            &retired,
            1000 + 900 + PUBLISH_GRACE_SECS,
            900
        ));
        let revoked = row(Some(100), Some(1000), Some(1000));
        assert_eq!(state(&revoked), KeyState::Revoked);
        assert!(!is_published(&revoked, 1000, 900));
        assert!(!is_published(&row(None, Some(5), Some(5)), 5, 900));
    }
}
