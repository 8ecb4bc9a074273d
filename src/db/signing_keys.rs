//! The `signing_keys` table.

use diesel::prelude::*;

use super::schema::signing_keys;
use super::AnyConnection;

/// A stored signing key. No `Debug`: it carries the private key.
#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    /// Key id, the JWT header's `kid`.
    pub kid: String,
    /// JWS algorithm name (`ES256`, `RS256`, `EdDSA`).
    pub alg: String,
    /// The private key, sealed by [`crate::keys::KeyVault`].
    pub private_key_sealed: String,
    /// The public JWK as JSON.
    pub public_jwk: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// When a newer key took over (or it was revoked); `None` for the
    /// active key and a staged one.
    pub retired_at: Option<i64>,
    /// What it signs: [`ACCESS`] or [`ID_TOKEN`].
    pub purpose: String,
    /// When it began to sign; `None` while it is staged (published, signing
    /// nothing).
    pub activated_at: Option<i64>,
    /// When it was revoked: no longer published or trusted.
    pub revoked_at: Option<i64>,
}

/// The purpose of the one active access-token key.
pub const ACCESS: &str = "access";

/// The purpose of ID-token keys: one active per algorithm.
pub const ID_TOKEN: &str = "id_token";

/// Inserts a key.
pub fn insert(conn: &mut AnyConnection, key: &SigningKeyRow) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(key)
        .execute(conn)
        .map(drop)
}

/// Retires every active key that `keep` takes over from: the other
/// access-token keys, or for an ID-token key, the others of its algorithm.
/// Staged keys stay staged.
pub fn retire_others(
    conn: &mut AnyConnection,
    keep: &SigningKeyRow,
    now: i64,
) -> QueryResult<usize> {
    let others = signing_keys::table
        .filter(signing_keys::kid.ne(&keep.kid))
        .filter(signing_keys::purpose.eq(&keep.purpose))
        .filter(signing_keys::activated_at.is_not_null())
        .filter(signing_keys::retired_at.is_null());
    let set = signing_keys::retired_at.eq(Some(now));
    if keep.purpose == ACCESS {
        diesel::update(others).set(set).execute(conn)
    } else {
        diesel::update(others.filter(signing_keys::alg.eq(&keep.alg)))
            .set(set)
            .execute(conn)
    }
}

/// Every key, newest first.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .select(SigningKeyRow::as_select())
        .load(conn)
}

/// Retires `kid` if it is still active: the conditional update by which
/// one instance, and only one, takes over from it. Returns the rows changed
/// (0 when another instance retired it first).
pub fn retire(conn: &mut AnyConnection, kid: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::activated_at.is_not_null())
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::retired_at.eq(Some(now)))
    .execute(conn)
}

/// Locks the active access-token key's row until the transaction ends (an
/// update that changes nothing): instances staging at once on PostgreSQL
/// take turns, so the second finds the first's staged key.
pub fn lock_active(conn: &mut AnyConnection) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::purpose.eq(ACCESS))
            .filter(signing_keys::activated_at.is_not_null())
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::purpose.eq(ACCESS))
    .execute(conn)
}

/// Makes the staged key `kid` sign from `now`; 0 rows if it is not staged.
pub fn activate(conn: &mut AnyConnection, kid: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::activated_at.is_null())
            .filter(signing_keys::revoked_at.is_null()),
    )
    .set(signing_keys::activated_at.eq(Some(now)))
    .execute(conn)
}

/// Revokes `kid`: retired (if it was not) and marked revoked. Returns the
/// rows changed (0 when unknown or already revoked).
pub fn revoke(conn: &mut AnyConnection, kid: &str, now: i64) -> QueryResult<usize> {
    let key = signing_keys::table
        .filter(signing_keys::kid.eq(kid))
        .filter(signing_keys::revoked_at.is_null());
    diesel::update(key.filter(signing_keys::retired_at.is_null()))
        .set(signing_keys::retired_at.eq(Some(now)))
        .execute(conn)?;
    diesel::update(key)
        .set(signing_keys::revoked_at.eq(Some(now)))
        .execute(conn)
}

/// The key `kid`, if stored.
pub fn find(conn: &mut AnyConnection, kid: &str) -> QueryResult<Option<SigningKeyRow>> {
    signing_keys::table
        .find(kid)
        .select(SigningKeyRow::as_select())
        .first(conn)
        .optional()
}

/// The newest staged key of `purpose` and `alg`, if any.
pub fn staged(
    conn: &mut AnyConnection,
    purpose: &str,
    alg: &str,
) -> QueryResult<Option<SigningKeyRow>> {
    signing_keys::table
        .filter(signing_keys::activated_at.is_null())
        .filter(signing_keys::revoked_at.is_null())
        .filter(signing_keys::purpose.eq(purpose))
        .filter(signing_keys::alg.eq(alg))
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .select(SigningKeyRow::as_select())
        .first(conn)
        .optional()
}

/// The active ID-token keys, one per algorithm.
pub fn active_id_keys(conn: &mut AnyConnection) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .filter(signing_keys::activated_at.is_not_null())
        .filter(signing_keys::retired_at.is_null())
        .filter(signing_keys::purpose.eq(ID_TOKEN))
        .select(SigningKeyRow::as_select())
        .load(conn)
}

/// The newest active access-token key, if any.
pub fn active(conn: &mut AnyConnection) -> QueryResult<Option<SigningKeyRow>> {
    signing_keys::table
        .filter(signing_keys::activated_at.is_not_null())
        .filter(signing_keys::retired_at.is_null())
        .filter(signing_keys::purpose.eq(ACCESS))
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .select(SigningKeyRow::as_select())
        .first(conn)
        .optional()
}
