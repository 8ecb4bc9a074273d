//! Claiming a refresh token, and rotating it (the claim and the
//! successor, both or neither), as fixed statements: the affected-row
//! count decides a race between concurrent refreshes
//! (docs/design.md "Storage"). The batched form is
//! [`super::refresh_batch`]'s.

use diesel::prelude::*;

use super::connection::on_backend;
use super::refresh_tokens::{find, insert, RefreshToken};
use super::schema::refresh_tokens as rt;
use super::AnyConnection;

/// What [`claim`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This caller marked it used.
    Claimed,
    /// Someone had used it already.
    AlreadyUsed,
    /// Revoked or expired.
    Unusable,
    /// No such token.
    NotFound,
}

/// Marks the token used if, and only if, it is unused, unrevoked,
/// unexpired, no token of its family was revoked, and its user is enabled
/// with the credential generation it was issued under. The affected row
/// count decides a race between concurrent refreshes: exactly one caller
/// gets [`Claim::Claimed`].
pub fn claim(conn: &mut AnyConnection, hash: &str, now: i64) -> QueryResult<Claim> {
    let n = ClaimStatement::<false> { hash, now }.execute(conn)?;
    if n == 1 {
        return Ok(Claim::Claimed);
    }
    why_unclaimed(conn, hash)
}

/// [`claim`]s the token with hash `hash` and, if this caller claimed it,
/// stores `successor`: both or neither. On PostgreSQL that is one
/// statement (the claim's UPDATE feeding the INSERT), atomic without a
/// transaction and one round trip; on SQLite, which has no data-modifying
/// CTE, two statements in the caller's transaction (the writer's batch)
/// or in one of their own.
pub fn rotate(
    conn: &mut AnyConnection,
    hash: &str,
    successor: &RefreshToken,
    now: i64,
) -> QueryResult<Claim> {
    rotate_sealed(conn, hash, successor, None, now)
}

/// [`rotate`], storing with the successor its own token `sealed` when
/// retries are on (`Some`, see [`super::refresh_retries`]): the same
/// statements, one more column each, and the claim wipes the claimed
/// token's own sealed copy, since a used successor is no retry's answer.
/// With `None` the statements are exactly [`rotate`]'s.
pub fn rotate_sealed(
    conn: &mut AnyConnection,
    hash: &str,
    successor: &RefreshToken,
    sealed: Option<&str>,
    now: i64,
) -> QueryResult<Claim> {
    let claimed = match conn {
        AnyConnection::Postgres(_) => {
            let n = match sealed {
                None => RotateStatement::<false> {
                    claim: ClaimStatement { hash, now },
                    successor,
                    sealed,
                }
                .execute(conn)?,
                Some(_) => RotateStatement::<true> {
                    claim: ClaimStatement { hash, now },
                    successor,
                    sealed,
                }
                .execute(conn)?,
            };
            n == 1
        }
        AnyConnection::Sqlite(_) => {
            let both = |conn: &mut AnyConnection| {
                let claimed = match sealed {
                    None => ClaimStatement::<false> { hash, now }.execute(conn)?,
                    Some(_) => ClaimStatement::<true> { hash, now }.execute(conn)?,
                } == 1;
                if claimed {
                    match sealed {
                        None => insert(conn, successor)?,
                        Some(sealed) => {
                            let values = (successor, rt::retry_sealed.eq(sealed));
                            let insert = diesel::insert_into(rt::table).values(values);
                            on_backend!(conn, |c| insert.execute(c)).map(drop)?
                        }
                    }
                }
                Ok::<_, diesel::result::Error>(claimed)
            };
            // The writer's batch is a transaction already (and each write
            // in it has a savepoint): a nested one would only cost.
            if super::in_transaction(conn)? {
                both(conn)?
            } else {
                super::write_tx(conn, both)?
            }
        }
    };
    if claimed {
        return Ok(Claim::Claimed);
    }
    why_unclaimed(conn, hash)
}

/// Why a claim's UPDATE changed no row (rare: it reads once more).
fn why_unclaimed(conn: &mut AnyConnection, hash: &str) -> QueryResult<Claim> {
    Ok(match find(conn, hash)? {
        None => Claim::NotFound,
        Some(row) if row.used_at.is_some() && row.revoked_at.is_none() => Claim::AlreadyUsed,
        Some(_) => Claim::Unusable,
    })
}

/// The claim's conditional UPDATE, written out rather than built with
/// the query builder: diesel never caches an UPDATE's prepared statement
/// (its SET list can depend on the values), and this one, with its two
/// subqueries, runs once per refresh on SQLite's single writer. The SQL is
/// fixed, so it is prepared once per connection.
///
/// Conditions: unused, unrevoked, unexpired (idle and family lifetime), no
/// token of its family revoked, and its user enabled with the credential
/// generation it was issued under (the refresh grant reads the user before
/// this write, so the claim itself must refuse a password change or a
/// disable that landed in between).
///
/// `WIPE` (retries on, [`rotate_sealed`]) also clears the claimed token's
/// sealed copy of itself: a distinct type, so that each SQL text has a
/// prepared statement of its own.
struct ClaimStatement<'a, const WIPE: bool> {
    hash: &'a str,
    now: i64,
}

type Backend = <AnyConnection as diesel::Connection>::Backend;

/// The claim's conditions on the token's standing beyond its own row: no
/// token of its family revoked, and its user enabled with the credential
/// generation it was issued under. Shared with the batched rotation
/// ([`super::refresh_batch`]).
pub(super) const STANDING: &str = " AND NOT EXISTS (SELECT 1 FROM refresh_tokens AS family \
     WHERE family.family_id = refresh_tokens.family_id \
     AND family.revoked_at IS NOT NULL) \
     AND EXISTS (SELECT 1 FROM users WHERE users.id = refresh_tokens.user_id \
     AND NOT users.disabled \
     AND users.credential_generation = refresh_tokens.generation)";

impl<const WIPE: bool> diesel::query_builder::QueryFragment<Backend> for ClaimStatement<'_, WIPE> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Backend>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text};
        out.push_sql("UPDATE refresh_tokens SET used_at = ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        if WIPE {
            out.push_sql(", retry_sealed = NULL");
        }
        out.push_sql(" WHERE token_hash = ");
        out.push_bind_param::<Text, _>(self.hash)?;
        out.push_sql(" AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(" AND family_expires_at > ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(STANDING);
        Ok(())
    }
}

impl<const WIPE: bool> diesel::query_builder::QueryId for ClaimStatement<'_, WIPE> {
    type QueryId = ClaimStatement<'static, WIPE>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const WIPE: bool> RunQueryDsl<AnyConnection> for ClaimStatement<'_, WIPE> {}

/// PostgreSQL's rotation in one statement: the claim as a data-modifying
/// CTE, and the successor inserted only for the row it claimed. Its
/// INSERT's row count is the claim's. Fixed SQL, prepared once (once per
/// `SEALED`: with retries on, the successor's `retry_sealed` too).
struct RotateStatement<'a, const SEALED: bool> {
    claim: ClaimStatement<'a, SEALED>,
    successor: &'a RefreshToken,
    sealed: Option<&'a str>,
}

impl<const SEALED: bool> diesel::query_builder::QueryFragment<Backend>
    for RotateStatement<'_, SEALED>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Backend>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text};
        let t = self.successor;
        out.push_sql("WITH claimed AS (");
        self.claim.walk_ast(out.reborrow())?;
        out.push_sql(
            " RETURNING 1) INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, \
             user_id, client_id, scope, issued_at, expires_at, used_at, revoked_at, \
             generation, family_expires_at, auth_time, sid, amr",
        );
        if SEALED {
            out.push_sql(", retry_sealed");
        }
        out.push_sql(") SELECT ");
        out.push_bind_param::<Text, _>(&t.token_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&t.family_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&t.parent_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&t.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&t.client_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&t.scope)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&t.issued_at)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&t.expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&t.used_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&t.revoked_at)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&t.generation)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&t.family_expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&t.auth_time)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&t.sid)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&t.amr)?;
        if SEALED {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(&self.sealed)?;
        }
        out.push_sql(" FROM claimed");
        Ok(())
    }
}

impl<const SEALED: bool> diesel::query_builder::QueryId for RotateStatement<'_, SEALED> {
    type QueryId = RotateStatement<'static, SEALED>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const SEALED: bool> RunQueryDsl<AnyConnection> for RotateStatement<'_, SEALED> {}
