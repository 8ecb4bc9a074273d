//! The `auth_codes` table: authorization codes (RFC 6749 §4.1.2), stored
//! by SHA-256 only. A code is used at most once: the conditional UPDATE in
//! [`claim`] decides between concurrent exchanges.

use diesel::prelude::*;

use super::schema::auth_codes as ac;
use super::AnyConnection;

/// A stored code (only its hash: `Debug` shows no secret; the PKCE
/// challenge is public by design, RFC 7636 §4.3).
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = ac)]
pub struct AuthCode {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user who consented.
    pub user_id: String,
    /// The redirect URI of the authorization request, exactly as sent.
    pub redirect_uri: String,
    /// The scope consented to, space-separated.
    pub scope: String,
    /// The PKCE challenge (RFC 7636 §4.2).
    pub code_challenge: String,
    /// Its method; always `S256` here.
    pub code_challenge_method: String,
    /// Issue time (Unix seconds).
    pub issued_at: i64,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// When it was exchanged.
    pub used_at: Option<i64>,
    /// The user's credential generation at consent.
    pub generation: i64,
    /// The refresh-token family the exchange started, if any.
    pub family_id: Option<String>,
    /// The `jti` of the access token the exchange issued.
    pub access_jti: Option<String>,
    /// That access token's expiry.
    pub access_expires_at: Option<i64>,
    /// The authorization request's `nonce`, for the ID token (OpenID
    /// Connect Core 1.0 §3.1.2.1).
    pub nonce: Option<String>,
    /// When the user entered their password, for the ID token.
    pub auth_time: Option<i64>,
    /// The sign-in session the code was issued in (`sid`).
    pub sid: Option<String>,
    /// What that sign-in used (`amr` values, space-separated).
    pub amr: Option<String>,
}

/// Inserts a new code.
pub fn insert(conn: &mut AnyConnection, code: &AuthCode) -> QueryResult<()> {
    diesel::insert_into(ac::table)
        .values(code)
        .execute(conn)
        .map(drop)
}

/// The code with this hash, in whatever state.
pub fn find(conn: &mut AnyConnection, hash: &str) -> QueryResult<Option<AuthCode>> {
    ac::table
        .find(hash)
        .select(AuthCode::as_select())
        .get_result(conn)
        .optional()
}

/// What [`claim`] found.
#[derive(Debug, Clone)]
pub enum Claim {
    /// This caller marked it used (the row as it is now).
    Claimed(AuthCode),
    /// It had been used already (a second use, RFC 6749 §4.1.2).
    Used(AuthCode),
    /// Expired, unknown, or issued to another client.
    Unusable,
}

/// Marks the code used if, and only if, it belongs to `client_id`, is
/// unused and has not expired at `now`. The affected row count decides a
/// race between two exchanges: exactly one gets [`Claim::Claimed`]. A code
/// of another client is not touched (its presenter proves nothing about
/// the rightful client, so it must not be able to burn it).
pub fn claim(
    conn: &mut AnyConnection,
    hash: &str,
    client_id: &str,
    now: i64,
) -> QueryResult<Claim> {
    let n = diesel::update(
        ac::table
            .filter(ac::code_hash.eq(hash))
            .filter(ac::client_id.eq(client_id))
            .filter(ac::used_at.is_null())
            .filter(ac::expires_at.gt(now)),
    )
    .set(ac::used_at.eq(Some(now)))
    .execute(conn)?;
    let row = find(conn, hash)?;
    Ok(match row {
        Some(row) if row.client_id != client_id => Claim::Unusable,
        Some(row) if n == 1 => Claim::Claimed(row),
        Some(row) if row.used_at.is_some() => Claim::Used(row),
        _ => Claim::Unusable,
    })
}

/// Records the tokens an exchange issued from the code, so that a second
/// use can revoke them.
pub fn link_tokens(
    conn: &mut AnyConnection,
    hash: &str,
    family_id: Option<&str>,
    access_jti: &str,
    access_expires_at: i64,
) -> QueryResult<usize> {
    diesel::update(ac::table.find(hash))
        .set((
            ac::family_id.eq(family_id),
            ac::access_jti.eq(Some(access_jti)),
            ac::access_expires_at.eq(Some(access_expires_at)),
        ))
        .execute(conn)
}

/// Deletes the codes `user_id` got for `client_id` that were not yet
/// exchanged (the user revoked the app): exchanging one is then
/// `invalid_grant`. Used codes stay, for their reuse detection.
pub fn delete_unused(
    conn: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
) -> QueryResult<usize> {
    diesel::delete(
        ac::table
            .filter(ac::user_id.eq(user_id))
            .filter(ac::client_id.eq(client_id))
            .filter(ac::used_at.is_null()),
    )
    .execute(conn)
}

/// Deletes codes that expired before `cutoff`.
pub fn purge_expired(conn: &mut AnyConnection, cutoff: i64) -> QueryResult<usize> {
    diesel::delete(ac::table.filter(ac::expires_at.lt(cutoff))).execute(conn)
}

/// Deletes the codes issued in the sign-in session `sid` that were not
/// exchanged yet: the session's logout ends them too, so that no app gets
/// an ID token for a session that has already ended (and never hears of
/// its end).
pub fn delete_unused_of_sid(conn: &mut AnyConnection, sid: &str) -> QueryResult<usize> {
    diesel::delete(
        ac::table
            .filter(ac::sid.eq(sid))
            .filter(ac::used_at.is_null()),
    )
    .execute(conn)
}
