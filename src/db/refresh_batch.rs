//! Many refresh rotations at once. On PostgreSQL that is one statement
//! (and so one commit): the claims' `UPDATE … FROM unnest(…)` as a
//! data-modifying CTE feeding the successors' `INSERT`. A single rotation
//! costs the backend about 225 µs, almost all of it per statement (parse
//! of the bind, executor start, commit, wake-ups), against about 50 µs a
//! rotation in a statement of 16 (pgbench, both shapes).
//!
//! The statement first locks the tokens it claims in `token_hash` order,
//! as every statement that locks several tokens does (revocations, a
//! client's removal), and skips tokens locked elsewhere, which are then
//! rotated alone on a connection thread and wait for that lock by
//! themselves, instead of holding up every rotation of the batch. It still waits for a lock on
//! a user or client row, which the successors' foreign keys share (a
//! client's removal takes one only after locking the client's tokens).
//!
//! Each rotation keeps its own meaning: its claim has the conditions of
//! [`refresh_tokens::rotate`], its successor is stored if and only if its
//! claim succeeded, and its answer is its own [`Claim`].

use std::collections::{HashMap, HashSet};

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

use super::refresh_tokens::{self, Claim, RefreshToken, STANDING};
use super::AnyConnection;

/// One rotation to make: claim the token with hash `hash` at `now` and,
/// if claimed, store `successor`.
#[derive(Clone)]
pub struct Rotation {
    /// SHA-256 of the presented token.
    pub hash: String,
    /// Its successor, to store if the claim succeeds.
    pub successor: RefreshToken,
    /// The successor's own token sealed, stored with it while retried
    /// refreshes are on ([`super::refresh_retries`]); `None` when off.
    pub sealed: Option<String>,
    /// The time of the claim (Unix seconds).
    pub now: i64,
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("hash", &self.hash)
            .field("successor", &self.successor)
            .field("sealed", &self.sealed.as_ref().map(|_| "[redacted]"))
            .field("now", &self.now)
            .finish()
    }
}

impl Rotation {
    /// Makes this rotation on its own ([`refresh_tokens::rotate_sealed`]).
    pub fn make_alone(&self, conn: &mut AnyConnection) -> QueryResult<Claim> {
        let sealed = self.sealed.as_deref();
        refresh_tokens::rotate_sealed(conn, &self.hash, &self.successor, sealed, self.now)
    }
}

/// Makes every rotation of `batch`, answering for each in order: its
/// [`Claim`], or `None` when its token was locked by another transaction
/// (a revocation, a client's removal, a rotation made alone) or is not
/// stored:
/// that rotation was not tried, and the caller makes it alone
/// ([`refresh_tokens::rotate`]), so that a lock held elsewhere holds up
/// only the rotations of its own tokens. The same token twice in one batch is claimed once, by its
/// first presentation: the later one is then a reuse
/// ([`Claim::AlreadyUsed`]), exactly as if it had come after.
///
/// On PostgreSQL one statement, atomic on its own, whose result says what
/// became of each token: nothing is read after it commits. On SQLite
/// (whose single writer is the only one) one transaction, or the caller's.
pub fn rotate_many(
    conn: &mut AnyConnection,
    batch: &[Rotation],
) -> QueryResult<Vec<Option<Claim>>> {
    let pg = match conn {
        AnyConnection::Postgres(pg) => pg,
        AnyConnection::Sqlite(_) => return one_by_one(conn, batch),
    };
    let mut seen = HashSet::new();
    let firsts: Vec<&Rotation> = batch
        .iter()
        .filter(|r| seen.insert(r.hash.as_str()))
        .collect();
    if firsts.is_empty() {
        return Ok(Vec::new());
    }
    let mut claimed = HashSet::new();
    let mut locked = HashMap::new();
    // With retries on, every rotation stores its successor sealed.
    let rows = match firsts.iter().any(|r| r.sealed.is_some()) {
        false => RotateMany::<false>::new(&firsts).load::<(String, String, bool)>(pg)?,
        true => RotateMany::<true>::new(&firsts).load::<(String, String, bool)>(pg)?,
    };
    for (kind, hash, used) in rows {
        if kind == "claimed" {
            claimed.insert(hash);
        } else {
            locked.insert(hash, used);
        }
    }
    let mut answered = HashSet::new();
    Ok(batch
        .iter()
        .map(|r| {
            let hash = r.hash.as_str();
            let first = answered.insert(hash);
            if claimed.contains(hash) {
                return Some(if first {
                    Claim::Claimed
                } else {
                    Claim::AlreadyUsed
                });
            }
            // As [`refresh_tokens::rotate`] tells why a claim failed, from
            // the row as the statement locked it (the newest version).
            // Not locked: locked elsewhere, or not stored (deleted since
            // the caller read it), which rotating alone tells apart.
            match locked.get(hash) {
                Some(true) => Some(Claim::AlreadyUsed),
                Some(false) => Some(Claim::Unusable),
                None => None,
            }
        })
        .collect())
}

/// Readies a connection that will run rotations and little else (the
/// PostgreSQL rotation thread's): left to choose, PostgreSQL plans the
/// statement anew for each small batch (0.7 ms, as long as running it),
/// while its generic plan (index lookups for every row) suits every size.
pub fn dedicate(conn: &mut AnyConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        AnyConnection::Postgres(pg) => pg.batch_execute("SET plan_cache_mode = force_generic_plan"),
        AnyConnection::Sqlite(_) => Ok(()),
    }
}

/// SQLite, which has no data-modifying CTE: each rotation in turn, in one
/// transaction (the writer's batch, or one of its own).
fn one_by_one(conn: &mut AnyConnection, batch: &[Rotation]) -> QueryResult<Vec<Option<Claim>>> {
    let each = |conn: &mut AnyConnection| {
        batch
            .iter()
            .map(|r| r.make_alone(conn).map(Some))
            .collect::<QueryResult<Vec<_>>>()
    };
    if super::in_transaction(conn)? {
        each(conn)
    } else {
        super::write_tx(conn, each)
    }
}

/// A successor's columns, in the order of the statement's arrays.
const COLUMNS: &str = "token_hash, family_id, parent_hash, user_id, client_id, scope, \
     issued_at, expires_at, used_at, revoked_at, generation, family_expires_at, auth_time, sid, \
     amr";

/// The statement, over one array per column. Fixed SQL whatever the batch
/// size, so it is prepared once per connection and its plan reused (once
/// per `SEALED`: with retries on, the successors' `retry_sealed` too, and
/// the claims wipe the claimed tokens' own).
struct RotateMany<'a, const SEALED: bool> {
    old: Vec<&'a str>,
    now: Vec<i64>,
    token_hash: Vec<&'a str>,
    family_id: Vec<&'a str>,
    parent_hash: Vec<Option<&'a str>>,
    user_id: Vec<&'a str>,
    client_id: Vec<&'a str>,
    scope: Vec<&'a str>,
    issued_at: Vec<i64>,
    expires_at: Vec<i64>,
    used_at: Vec<Option<i64>>,
    revoked_at: Vec<Option<i64>>,
    generation: Vec<i64>,
    family_expires_at: Vec<i64>,
    auth_time: Vec<Option<i64>>,
    sid: Vec<Option<&'a str>>,
    amr: Vec<Option<&'a str>>,
    retry_sealed: Vec<Option<&'a str>>,
}

impl<'a, const SEALED: bool> RotateMany<'a, SEALED> {
    fn new(batch: &[&'a Rotation]) -> Self {
        fn col<'a, T>(batch: &[&'a Rotation], f: impl Fn(&'a Rotation) -> T) -> Vec<T> {
            batch.iter().map(|r| f(r)).collect()
        }
        RotateMany {
            old: col(batch, |r| r.hash.as_str()),
            now: col(batch, |r| r.now),
            token_hash: col(batch, |r| r.successor.token_hash.as_str()),
            family_id: col(batch, |r| r.successor.family_id.as_str()),
            parent_hash: col(batch, |r| r.successor.parent_hash.as_deref()),
            user_id: col(batch, |r| r.successor.user_id.as_str()),
            client_id: col(batch, |r| r.successor.client_id.as_str()),
            scope: col(batch, |r| r.successor.scope.as_str()),
            issued_at: col(batch, |r| r.successor.issued_at),
            expires_at: col(batch, |r| r.successor.expires_at),
            used_at: col(batch, |r| r.successor.used_at),
            revoked_at: col(batch, |r| r.successor.revoked_at),
            generation: col(batch, |r| r.successor.generation),
            family_expires_at: col(batch, |r| r.successor.family_expires_at),
            auth_time: col(batch, |r| r.successor.auth_time),
            sid: col(batch, |r| r.successor.sid.as_deref()),
            amr: col(batch, |r| r.successor.amr.as_deref()),
            retry_sealed: match SEALED {
                true => col(batch, |r| r.sealed.as_deref()),
                false => Vec::new(),
            },
        }
    }
}

impl<const SEALED: bool> QueryFragment<Pg> for RotateMany<'_, SEALED> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH input AS (SELECT * FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.old)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.now)?;
        for texts in [&self.token_hash, &self.family_id] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Text>, _>(texts)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.parent_hash)?;
        for texts in [&self.user_id, &self.client_id, &self.scope] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Text>, _>(texts)?;
        }
        for times in [&self.issued_at, &self.expires_at] {
            out.push_sql(", ");
            out.push_bind_param::<Array<BigInt>, _>(times)?;
        }
        for times in [&self.used_at, &self.revoked_at] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<BigInt>>, _>(times)?;
        }
        for numbers in [&self.generation, &self.family_expires_at] {
            out.push_sql(", ");
            out.push_bind_param::<Array<BigInt>, _>(numbers)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<BigInt>>, _>(&self.auth_time)?;
        for texts in [&self.sid, &self.amr] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Text>>, _>(texts)?;
        }
        if SEALED {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Text>>, _>(&self.retry_sealed)?;
        }
        // With `SEALED`, a successor's sealed copy is one more column, and
        // a claim wipes the claimed token's own.
        let sealed = if SEALED { ", retry_sealed" } else { "" };
        out.push_sql(") AS i (old, now, ");
        out.push_sql(COLUMNS);
        out.push_sql(sealed);
        out.push_sql(
            ")), \
             locked AS MATERIALIZED (SELECT token_hash, used_at, revoked_at FROM refresh_tokens \
             WHERE token_hash IN (SELECT old FROM input) \
             ORDER BY token_hash FOR UPDATE SKIP LOCKED), \
             claimed AS (UPDATE refresh_tokens SET used_at = input.now",
        );
        if SEALED {
            out.push_sql(", retry_sealed = NULL");
        }
        out.push_sql(
            " FROM input \
             WHERE refresh_tokens.token_hash = input.old \
             AND refresh_tokens.token_hash IN (SELECT token_hash FROM locked) \
             AND refresh_tokens.used_at IS NULL AND refresh_tokens.revoked_at IS NULL \
             AND refresh_tokens.expires_at > input.now \
             AND refresh_tokens.family_expires_at > input.now",
        );
        out.push_sql(STANDING);
        out.push_sql(" RETURNING input.*), stored AS (INSERT INTO refresh_tokens (");
        out.push_sql(COLUMNS);
        out.push_sql(sealed);
        out.push_sql(") SELECT ");
        out.push_sql(COLUMNS);
        out.push_sql(sealed);
        out.push_sql(
            " FROM claimed) \
             SELECT 'claimed', old, false FROM claimed \
             UNION ALL SELECT 'locked', token_hash, used_at IS NOT NULL AND revoked_at IS NULL \
             FROM locked",
        );
        Ok(())
    }
}

impl<const SEALED: bool> QueryId for RotateMany<'_, SEALED> {
    type QueryId = RotateMany<'static, SEALED>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const SEALED: bool> Query for RotateMany<'_, SEALED> {
    type SqlType = (Text, Text, Bool);
}

impl<const SEALED: bool> RunQueryDsl<PgConnection> for RotateMany<'_, SEALED> {}
