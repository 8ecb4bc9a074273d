//! Periodic clean-up: rows that can no longer matter (expired refresh
//! tokens and authorization codes, revoked access-token ids past their expiry, stale login-failure
//! counts, browser sessions unused for longer than any idle setting, the
//! record of which apps a sign-in reached once it cannot be alive), and,
//! on a tighter beat, the successors kept sealed for retried refreshes
//! once their grace is over.

use std::time::Duration;

use crate::clock::Clock;
use crate::config::MAX_SESSION_IDLE;
use crate::db::{
    self, auth_codes, login_failures, refresh_retries, refresh_tokens, revoked_access_tokens,
    session_clients, sessions, Db, DbError,
};
use crate::oauth::retry::Retries;

/// How often the clean-up runs.
pub const INTERVAL: Duration = Duration::from_secs(600);

/// How often successors kept for retried refreshes are wiped once their
/// grace is over: none outlives its grace by more than this (and none is
/// ever used past it: a retry checks the grace itself).
pub const RETRY_WIPE_INTERVAL: Duration = Duration::from_secs(1);

/// Keep expired refresh tokens this long, so that a late reuse is still
/// recognised as such in logs rather than as an unknown token.
const REFRESH_GRACE_SECS: i64 = 86_400;

/// Keep a username's failure record this long after its last failure
/// (longer than the doubling memory of the lockout, an hour).
const FAILURE_MEMORY_SECS: i64 = 86_400;

/// Deletes what has expired; returns the number of rows removed. Each
/// delete stands alone; the server runs the whole sweep as one
/// [`Db::write`] (on SQLite, one of the writer's jobs).
pub fn sweep(conn: &mut db::AnyConnection, now: i64) -> Result<usize, DbError> {
    let tokens = refresh_tokens::purge_expired(conn, now - REFRESH_GRACE_SECS)?;
    // Used codes are kept as long, so that a late second use still
    // revokes what the first issued (RFC 6749 §4.1.2).
    let codes = auth_codes::purge_expired(conn, now - REFRESH_GRACE_SECS)?;
    let jtis = revoked_access_tokens::purge_expired(conn, now)?;
    let failures = login_failures::purge(conn, now - FAILURE_MEMORY_SECS, now)?;
    // Sessions are checked against the settings whenever they are used,
    // and a dead one is deleted then; this only removes the ones nobody
    // comes back with, once they are dead under any idle setting.
    let idle = sessions::purge_idle(conn, now - MAX_SESSION_IDLE)?;
    // Which apps a sign-in reached, once no session or family of it can
    // be alive (docs/interface.md "Back-channel logout").
    let signed_in = session_clients::purge_expired(conn, now)?;
    Ok(tokens + codes + jtis + failures + idle + signed_in)
}

/// Runs [`sweep`] every [`INTERVAL`] on the current actix runtime.
pub fn spawn(db: Db, clock: Clock) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(INTERVAL);
        loop {
            tick.tick().await;
            let now = clock.now();
            match db.write(move |conn| sweep(conn, now)).await {
                Ok(0) => {}
                Ok(n) => log::info!("removed {n} expired row(s)"),
                Err(e) => log::warn!("clean-up failed: {e}"),
            }
        }
    })
}

/// Wipes the sealed successors ([`refresh_retries`]) whose `grace` is
/// over at `now`; returns how many.
pub fn wipe_retries(conn: &mut db::AnyConnection, now: i64, grace: i64) -> Result<usize, DbError> {
    Ok(refresh_retries::wipe(
        conn,
        Retries::wipe_cutoff(grace, now),
    )?)
}

/// Runs [`wipe_retries`] every [`RETRY_WIPE_INTERVAL`] while the retry
/// grace is on. With it off, once, at start: what a run with a grace left
/// behind is wiped, and nothing more is ever stored.
pub fn spawn_retry_wipe(db: Db, clock: Clock, grace: i64) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(RETRY_WIPE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = clock.now();
            match db.write(move |conn| wipe_retries(conn, now, grace)).await {
                Ok(0) => {}
                Ok(n) => log::debug!("wiped {n} sealed refresh successor(s) past the retry grace"),
                Err(e) => log::warn!("wiping sealed refresh successors failed: {e}"),
            }
            if grace == 0 {
                return;
            }
        }
    })
}
