//! Many refresh rotations at once. On PostgreSQL that is one statement
//! (and so one commit): the claims' `UPDATE … FROM unnest(…)` as a
//! data-modifying CTE feeding the successors' `INSERT`. A single rotation
//! costs the backend about 225 µs, almost all of it per statement (parse
//! of the bind, executor start, commit, wake-ups), against about 50 µs a
//! rotation in a statement of 16 (`benches/load/pg_rotation.sh`).
//!
//! The statement locks the tokens it claims in `token_hash` order first,
//! as every statement that locks several tokens does (revocations, a
//! client's removal): two of them can then only wait for each other, never
//! deadlock. That costs about 10 µs a rotation.
//!
//! Each rotation keeps its own meaning: its claim has the conditions of
//! [`refresh_tokens::rotate`], its successor is stored if and only if its
//! claim succeeded, and its answer is its own [`Claim`].

use std::collections::{HashMap, HashSet};

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

use super::refresh_tokens::{self, Claim, RefreshToken, STANDING};
use super::AnyConnection;

/// One rotation to make: claim the token with hash `hash` at `now` and,
/// if claimed, store `successor`.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// SHA-256 of the presented token.
    pub hash: String,
    /// Its successor, to store if the claim succeeds.
    pub successor: RefreshToken,
    /// The time of the claim (Unix seconds).
    pub now: i64,
}

/// Makes every rotation of `batch`, answering for each in order. The same
/// token twice in one batch is claimed once, by its first presentation:
/// the later one is then a reuse ([`Claim::AlreadyUsed`]), exactly as if
/// it had come after. On PostgreSQL one statement, atomic on its own; on
/// SQLite one transaction (or the caller's).
pub fn rotate_many(conn: &mut AnyConnection, batch: &[Rotation]) -> QueryResult<Vec<Claim>> {
    let mut seen = HashSet::new();
    let firsts: Vec<&Rotation> = batch
        .iter()
        .filter(|r| seen.insert(r.hash.as_str()))
        .collect();
    let claimed: HashSet<String> = match &mut *conn {
        AnyConnection::Postgres(pg) => RotateMany::new(&firsts).load(pg)?.into_iter().collect(),
        AnyConnection::Sqlite(_) => return one_by_one(conn, batch),
    };
    // Why each unclaimed token was refused: read once per token (rare).
    let mut why: HashMap<&str, Claim> = HashMap::new();
    let mut answered = HashSet::new();
    let mut claims = Vec::with_capacity(batch.len());
    for r in batch {
        let hash = r.hash.as_str();
        let first = answered.insert(hash);
        let claim = match (claimed.contains(hash), first) {
            (true, true) => Claim::Claimed,
            (true, false) => Claim::AlreadyUsed,
            (false, _) => match why.get(hash) {
                Some(claim) => *claim,
                None => {
                    let claim = refresh_tokens::why_unclaimed(conn, hash)?;
                    why.insert(hash, claim);
                    claim
                }
            },
        };
        claims.push(claim);
    }
    Ok(claims)
}

/// SQLite, which has no data-modifying CTE: each rotation in turn, in one
/// transaction (the writer's batch, or one of its own).
fn one_by_one(conn: &mut AnyConnection, batch: &[Rotation]) -> QueryResult<Vec<Claim>> {
    let each = |conn: &mut AnyConnection| {
        batch
            .iter()
            .map(|r| refresh_tokens::rotate(conn, &r.hash, &r.successor, r.now))
            .collect::<QueryResult<Vec<_>>>()
    };
    if super::in_transaction(conn)? {
        each(conn)
    } else {
        super::write_tx(conn, each)
    }
}

/// The statement, over one array per column. Fixed SQL whatever the batch
/// size, so it is prepared once per connection and its plan reused.
struct RotateMany<'a> {
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
}

impl<'a> RotateMany<'a> {
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
        }
    }
}

impl QueryFragment<Pg> for RotateMany<'_> {
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
        out.push_sql(
            ") AS i (old, now, token_hash, family_id, parent_hash, user_id, client_id, scope, \
             issued_at, expires_at, used_at, revoked_at, generation, family_expires_at)), \
             locked AS MATERIALIZED (SELECT token_hash FROM refresh_tokens \
             WHERE token_hash IN (SELECT old FROM input) ORDER BY token_hash FOR UPDATE), \
             claimed AS (UPDATE refresh_tokens SET used_at = input.now \
             FROM input JOIN locked ON locked.token_hash = input.old \
             WHERE refresh_tokens.token_hash = input.old \
             AND refresh_tokens.used_at IS NULL AND refresh_tokens.revoked_at IS NULL \
             AND refresh_tokens.expires_at > input.now \
             AND refresh_tokens.family_expires_at > input.now",
        );
        out.push_sql(STANDING);
        out.push_sql(
            " RETURNING refresh_tokens.token_hash), \
             stored AS (INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, \
             user_id, client_id, scope, issued_at, expires_at, used_at, revoked_at, \
             generation, family_expires_at) SELECT input.token_hash, input.family_id, \
             input.parent_hash, input.user_id, input.client_id, input.scope, \
             input.issued_at, input.expires_at, input.used_at, input.revoked_at, \
             input.generation, input.family_expires_at \
             FROM input JOIN claimed ON claimed.token_hash = input.old) \
             SELECT token_hash FROM claimed",
        );
        Ok(())
    }
}

impl QueryId for RotateMany<'_> {
    type QueryId = RotateMany<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for RotateMany<'_> {
    type SqlType = Text;
}

impl RunQueryDsl<PgConnection> for RotateMany<'_> {}
