//! Periodic clean-up: rows that can no longer matter (expired refresh
//! tokens and authorization codes, revoked access-token ids past their expiry, stale login-failure
//! counts, browser sessions unused for longer than any idle setting, the
//! record of which apps a sign-in reached once it cannot be alive).

use std::time::Duration;

use crate::clock::Clock;
use crate::config::MAX_SESSION_IDLE;
use crate::db::{
    self, auth_codes, login_failures, refresh_tokens, revoked_access_tokens, session_clients,
    sessions, Db, DbError,
};

/// How often the clean-up runs.
pub const INTERVAL: Duration = Duration::from_secs(600);

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
