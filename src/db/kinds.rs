//! The kinds of work the engine's threads run ([`super::engine`]), besides
//! SQLite's group-committed writes ([`super::group_commit`]): any work on
//! a connection, one at a time, and the statements that serve many
//! callers at once (PostgreSQL's refresh rotations, client lookups,
//! access tokens' standing, users' profiles).

use std::collections::HashMap;

use super::access_standing::{self, Asked, Standing};
use super::clients::{self, Client};
use super::engine::{failed_all, Work};
use super::profiles::{self, Profile};
use super::refresh_batch::{self, Rotation};
use super::refresh_tokens::Claim;
use super::{AnyConnection, DbError};

/// Work on a connection that answers its caller itself.
pub(super) type Job = Box<dyn FnOnce(&mut AnyConnection) + Send>;

/// Any storage work, one job at a time on each thread's connection: the
/// server's connection pool.
pub(super) struct Jobs;

impl Work for Jobs {
    type Item = Job;
    type Answer = ();
    const NAME: &'static str = "db";
    const MAX_BATCH: usize = 1;

    fn run(conn: &mut AnyConnection, jobs: Vec<Job>) -> Vec<Result<(), DbError>> {
        jobs.into_iter()
            .map(|job| {
                job(conn);
                Ok(())
            })
            .collect()
    }
}

/// PostgreSQL's refresh rotations, everything queued in one statement
/// ([`refresh_batch::rotate_many`]). One thread, not several: two took
/// turns with batches of three rotations instead of nine, and PostgreSQL
/// spent more CPU on each (`benches/load/run.sh`: 3,600–4,050 refreshes/s
/// against 4,300–4,870 with one). Its connection always uses the
/// statement's generic plan ([`refresh_batch::dedicate`]).
///
/// A rotation's answer is its claim, or (when its token was locked
/// elsewhere and nothing was done) the rotation itself, given back to be
/// made alone.
pub(super) struct Rotations;

impl Work for Rotations {
    type Item = Rotation;
    type Answer = Result<Claim, Box<Rotation>>;
    const NAME: &'static str = "rotate";
    /// Enough to share one statement among all the connections of a
    /// loaded server, few enough that it stays short.
    const MAX_BATCH: usize = 128;

    fn prepare(conn: &mut AnyConnection) -> Result<(), DbError> {
        refresh_batch::dedicate(conn).map_err(DbError::Query)
    }

    /// If the statement fails for something other than the database
    /// being unavailable (a deadlock, say), nothing of it was committed,
    /// and every rotation is handed back to be made alone: one rotation's
    /// failure is then its own, and a retry that waits for a lock does not
    /// hold up this thread.
    fn run(
        conn: &mut AnyConnection,
        rotations: Vec<Rotation>,
    ) -> Vec<Result<Self::Answer, DbError>> {
        let failed = match refresh_batch::rotate_many(conn, &rotations) {
            Ok(claims) => {
                return claims
                    .into_iter()
                    .zip(rotations)
                    .map(|(claim, r)| Ok(claim.ok_or_else(|| Box::new(r))))
                    .collect()
            }
            Err(e) => DbError::Query(e),
        };
        // A deadlock is a race lost, not an outage: made alone, each
        // rotation gets its own try (and more if it loses again).
        let deadlock = matches!(&failed, DbError::Query(e) if super::is_deadlock(e));
        if failed.is_unavailable() && !deadlock {
            return failed_all::<Self>(rotations.len(), failed);
        }
        if rotations.len() == 1 && !deadlock {
            return vec![Err(failed)];
        }
        log::warn!(
            "a statement of {} refresh rotations failed, each is made alone: {}",
            rotations.len(),
            crate::error_chain::chain(&failed)
        );
        rotations
            .into_iter()
            .map(|r| Ok(Err(Box::new(r))))
            .collect()
    }
}

/// Client lookups (client_credentials, introspection, revocation), read
/// with one statement for everything queued (`= ANY($1)` on PostgreSQL,
/// `IN (…)` on SQLite): under load, one statement serves many requests.
pub(super) struct ClientLookups;

impl Work for ClientLookups {
    type Item = String;
    type Answer = Option<Client>;
    const NAME: &'static str = "clients";
    const MAX_BATCH: usize = 128;

    fn run(conn: &mut AnyConnection, ids: Vec<String>) -> Vec<Result<Option<Client>, DbError>> {
        by_key::<Self, _>(ids, |wanted| {
            let found = clients::find_many(conn, wanted)?;
            Ok(found
                .into_iter()
                .map(|c| (c.client_id.clone(), c))
                .collect())
        })
    }
}

/// Users' profiles, for UserInfo: one statement for everything queued,
/// as [`ClientLookups`].
pub(super) struct ProfileLookups;

impl Work for ProfileLookups {
    type Item = String;
    type Answer = Option<Profile>;
    const NAME: &'static str = "profiles";
    const MAX_BATCH: usize = 128;

    fn run(conn: &mut AnyConnection, ids: Vec<String>) -> Vec<Result<Option<Profile>, DbError>> {
        by_key::<Self, _>(ids, |wanted| {
            Ok(profiles::of_many(conn, wanted)?.into_iter().collect())
        })
    }
}

/// A lookup by key for every queued key at once: `read` runs the one
/// statement and answers the rows it found by key; each caller hears the
/// row of its key, or `None`.
fn by_key<W, T>(
    keys: Vec<String>,
    read: impl FnOnce(&[&str]) -> diesel::QueryResult<HashMap<String, T>>,
) -> Vec<Result<Option<T>, DbError>>
where
    W: Work<Answer = Option<T>>,
    T: Clone,
{
    let wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
    match read(&wanted) {
        Ok(found) => keys.iter().map(|k| Ok(found.get(k).cloned())).collect(),
        Err(e) => failed_all::<W>(keys.len(), DbError::Query(e)),
    }
}

/// Access tokens' standing, for introspection ([`access_standing`]).
pub(super) struct Standings;

impl Work for Standings {
    type Item = Asked;
    type Answer = Standing;
    const NAME: &'static str = "standing";
    const MAX_BATCH: usize = 128;

    fn run(conn: &mut AnyConnection, asked: Vec<Asked>) -> Vec<Result<Standing, DbError>> {
        match access_standing::read_many(conn, &asked) {
            Ok(all) => all.into_iter().map(Ok).collect(),
            Err(e) => failed_all::<Self>(asked.len(), DbError::Query(e)),
        }
    }
}
