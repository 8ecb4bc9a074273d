//! The `refresh_tokens` table. Tokens are stored by SHA-256 only; each
//! belongs to a family (every token rotated from one original grant).

use std::collections::BTreeSet;

use diesel::prelude::*;

pub(super) use super::refresh_claims::STANDING;
pub use super::refresh_claims::{claim, rotate, rotate_sealed, Claim};

use super::clients::Client;
use super::connection::on_backend;
use super::schema::refresh_tokens as rt;
use super::schema::users;
use super::users::User;
use super::AnyConnection;

/// A stored refresh token (only its hash: `Debug` shows no secret).
/// `None` is inserted as NULL, not as the column's default: the INSERT's
/// SQL is then the same for every token, and its prepared statement is
/// cached (diesel never caches one that says `DEFAULT` for some rows).
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = rt, treat_none_as_default_value = false)]
pub struct RefreshToken {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// The family (the first token's grant).
    pub family_id: String,
    /// The token this one replaced.
    pub parent_hash: Option<String>,
    /// The user.
    pub user_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The scope of the original grant.
    pub scope: String,
    /// Issue time (Unix seconds).
    pub issued_at: i64,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// When it was exchanged (rotated).
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// The user's credential generation when the family began.
    pub generation: i64,
    /// The family's absolute end (RFC 9700 §4.14.2: a bounded lifetime).
    pub family_expires_at: i64,
    /// When the user entered the credential the family began with, for
    /// its ID tokens (OpenID Connect Core 1.0 §12.2); `None` in families
    /// older than OpenID Connect.
    pub auth_time: Option<i64>,
    /// The sign-in session the family began in (`sid`).
    pub sid: Option<String>,
    /// What that sign-in used (`amr` values, space-separated); `None` in
    /// families older than second factors: a password.
    pub amr: Option<String>,
}

/// Inserts a token.
pub fn insert(conn: &mut AnyConnection, token: &RefreshToken) -> QueryResult<()> {
    let insert = diesel::insert_into(rt::table).values(token);
    on_backend!(conn, |c| insert.execute(c)).map(drop)
}

/// The token with this hash, in whatever state.
pub fn find(conn: &mut AnyConnection, hash: &str) -> QueryResult<Option<RefreshToken>> {
    rt::table
        .find(hash)
        .select(RefreshToken::as_select())
        .get_result(conn)
        .optional()
}

/// The token with this hash, its user (`None` if gone) and whether any
/// token of its family was revoked (see [`family_revoked`]): all that
/// deciding its state needs, in one query (one round trip).
pub fn find_with_user(
    conn: &mut AnyConnection,
    hash: &str,
) -> QueryResult<Option<(RefreshToken, Option<User>, bool)>> {
    let family = diesel::alias!(rt as family);
    rt::table
        .left_join(users::table)
        .filter(rt::token_hash.eq(hash))
        .select((
            RefreshToken::as_select(),
            Option::<User>::as_select(),
            diesel::dsl::exists(
                family.filter(
                    family
                        .field(rt::family_id)
                        .eq(rt::family_id)
                        .and(family.field(rt::revoked_at).is_not_null()),
                ),
            ),
        ))
        .get_result(conn)
        .optional()
}

/// All that a refresh reads, in one query (one round trip): the client
/// `client_id` names (to authenticate) and, if the token with this hash is
/// stored, the token with its user, whether its family was revoked (see
/// [`family_revoked`]) and the scopes the user's roles grant today (what
/// a refresh narrows its scope to). The query starts from the client and
/// joins the rest in, one row per scope, the other columns repeated.
/// `None` when no such client is registered.
pub fn find_for_refresh(
    conn: &mut AnyConnection,
    client_id: &str,
    hash: &str,
) -> QueryResult<Option<(Client, Option<ForRefresh>)>> {
    use super::schema::{clients, role_scopes, user_roles};
    let family = diesel::alias!(rt as family);
    type Row = (
        Client,
        Option<RefreshToken>,
        Option<User>,
        bool,
        Option<String>,
    );
    // Built in each arm: `as_select` is typed by the backend.
    let rows: Vec<Row> = on_backend!(conn, |c| {
        clients::table
            // Owned: the family subquery needs a `'static` FROM clause.
            .left_join(rt::table.on(rt::token_hash.eq(hash.to_string())))
            .left_join(users::table.on(users::id.nullable().eq(rt::user_id.nullable())))
            .left_join(
                user_roles::table.on(user_roles::user_id.nullable().eq(users::id.nullable())),
            )
            .left_join(
                role_scopes::table.on(role_scopes::role_name
                    .nullable()
                    .eq(user_roles::role_name.nullable())),
            )
            .filter(clients::client_id.eq(client_id))
            .select((
                Client::as_select(),
                Option::<RefreshToken>::as_select(),
                Option::<User>::as_select(),
                diesel::dsl::exists(
                    family.filter(
                        family
                            .field(rt::family_id)
                            .nullable()
                            .eq(rt::family_id.nullable())
                            .and(family.field(rt::revoked_at).is_not_null()),
                    ),
                ),
                role_scopes::scope.nullable(),
            ))
            .load(c)
    })?;
    let mut rows = rows.into_iter();
    let Some((client, token, user, family_revoked, first)) = rows.next() else {
        return Ok(None);
    };
    let token = token.map(|token| ForRefresh {
        token,
        user,
        family_revoked,
        scopes: first
            .into_iter()
            .chain(rows.filter_map(|(.., scope)| scope))
            .collect(),
    });
    Ok(Some((client, token)))
}

/// What [`find_for_refresh`] read.
pub struct ForRefresh {
    /// The token.
    pub token: RefreshToken,
    /// Its user (`None` if gone).
    pub user: Option<User>,
    /// Whether any token of its family was revoked.
    pub family_revoked: bool,
    /// The scopes the user's roles grant.
    pub scopes: BTreeSet<String>,
}

/// Whether any token of the family was revoked: then the whole family is
/// dead, including a successor that a concurrent rotation inserted after a
/// revocation's UPDATE took its snapshot (PostgreSQL, READ COMMITTED).
pub fn family_revoked(conn: &mut AnyConnection, family_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        rt::table
            .filter(rt::family_id.eq(family_id))
            .filter(rt::revoked_at.is_not_null()),
    ))
    .get_result(conn)
}

/// Revokes every token of a family (reuse detection, RFC 7009 revocation).
pub fn revoke_family(conn: &mut AnyConnection, family_id: &str, now: i64) -> QueryResult<usize> {
    if let AnyConnection::Postgres(pg) = conn {
        let live = "family_id = $2 AND revoked_at IS NULL";
        return revoke_in_order(pg, live, &[family_id], now);
    }
    diesel::update(
        rt::table
            .filter(rt::family_id.eq(family_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// Revokes every live refresh token of a user (password set, disable).
pub fn revoke_for_user(conn: &mut AnyConnection, user_id: &str, now: i64) -> QueryResult<usize> {
    if let AnyConnection::Postgres(pg) = conn {
        let live = "user_id = $2 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > $1";
        return revoke_in_order(pg, live, &[user_id], now);
    }
    diesel::update(
        rt::table
            .filter(rt::user_id.eq(user_id))
            .filter(rt::revoked_at.is_null())
            .filter(rt::used_at.is_null())
            .filter(rt::expires_at.gt(now)),
    )
    .set(rt::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// Revokes every family of `user_id` with `client_id` (the user revoked
/// the app on the account page). Used tokens are marked too, not only the
/// live ones: on PostgreSQL a rotation that commits while this runs
/// inserts a successor this statement does not see, and its family's
/// revoked parent ([`family_revoked`]) is what stops that successor.
pub fn revoke_for_user_client(
    conn: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> QueryResult<usize> {
    if let AnyConnection::Postgres(pg) = conn {
        let live = "user_id = $2 AND client_id = $3 AND revoked_at IS NULL";
        return revoke_in_order(pg, live, &[user_id, client_id], now);
    }
    diesel::update(
        rt::table
            .filter(rt::user_id.eq(user_id))
            .filter(rt::client_id.eq(client_id))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// PostgreSQL: sets `revoked_at = now` on the rows `live` selects (SQL
/// over `$1` = now and `$2`, `$3`, … = `keys`), locking them in `token_hash` order
/// first. Two revocations (a family's and a user's, say) that lock
/// overlapping rows in the order of different indexes can deadlock, and
/// PostgreSQL then aborts one; in one order, one waits for the other.
/// SQLite's single writer never runs two writes at once. (Written out:
/// diesel's query builder takes no locking subquery in an UPDATE.)
pub(super) fn revoke_in_order(
    pg: &mut diesel::PgConnection,
    live: &'static str,
    keys: &[&str],
    now: i64,
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Text};
    let query = diesel::sql_query(format!(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE token_hash IN \
         (SELECT token_hash FROM refresh_tokens WHERE {live} ORDER BY token_hash FOR UPDATE)"
    ))
    .into_boxed()
    .bind::<BigInt, _>(now);
    keys.iter()
        .fold(query, |q, key| q.bind::<Text, _>(key.to_string()))
        .execute(pg)
}

/// Deletes tokens that expired before `cutoff`, except a revoked one
/// whose family has not ended: it is the family's tombstone. A
/// revocation racing a rotation on PostgreSQL can miss the successor,
/// which stays dead only because its family has a revoked token
/// ([`family_revoked`]); purging that token would bring it back.
///
/// On PostgreSQL it skips rows another transaction has locked (a
/// revocation, a client removal): it never waits, so it never takes part
/// in a deadlock, and the next run gets them.
pub fn purge_expired(conn: &mut AnyConnection, cutoff: i64) -> QueryResult<usize> {
    if let AnyConnection::Postgres(pg) = conn {
        return diesel::sql_query(
            "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash \
             FROM refresh_tokens WHERE expires_at < $1 \
             AND (revoked_at IS NULL OR family_expires_at < $1) FOR UPDATE SKIP LOCKED)",
        )
        .bind::<diesel::sql_types::BigInt, _>(cutoff)
        .execute(pg);
    }
    diesel::delete(
        rt::table.filter(rt::expires_at.lt(cutoff)).filter(
            rt::revoked_at
                .is_null()
                .or(rt::family_expires_at.lt(cutoff)),
        ),
    )
    .execute(conn)
}
