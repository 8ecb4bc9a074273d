//! Back-Channel Logout 1.0 (docs/interface.md "Back-channel logout"):
//! when a session ends, every client that got an ID token in it and
//! registered a `backchannel_logout_uri` is sent a logout token.
//!
//! The session's end queues the notices in its own transaction
//! ([`crate::db::session_ends`]); this background task delivers them, so
//! that a slow or dead app never holds up a logout, and a restart loses
//! nothing (the queue is a table). Each instance polls the queue, claims
//! what is due with a lease ([`crate::db::logout_notices`]) and sends each
//! claimed notice in a task of its own; a failure is tried again after a
//! back-off that doubles, and given up (audited) after
//! [`MAX_ATTEMPTS`].

mod send; // the POST to the app: timeouts, no redirects
mod token; // the logout token's claims and signature

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use crate::audit;
use crate::clock::Clock;
use crate::config::IssuerSettings;
use crate::db::logout_notices::{self, Notice};
use crate::db::{Db, DbError};
use crate::keys::KeyRing;

pub use token::{LogoutClaims, BACKCHANNEL_LOGOUT_EVENT};

/// Deliveries tried per notice before it is given up.
pub const MAX_ATTEMPTS: i64 = 6;

/// The pause after the first failed attempt; each later one doubles it
/// (10 s, 20 s, 40 s, 80 s, 160 s: the last try about five minutes after
/// the first).
pub const FIRST_RETRY_SECS: i64 = 10;

/// How often the queue is read when nothing wakes the task: notices that
/// the command line (another process) or another instance queued, and
/// retries that come due, wait at most this long.
const POLL: Duration = Duration::from_secs(1);

/// How long a claim lasts: longer than one delivery can take
/// ([`send::TIMEOUT`]), so that no other instance takes a notice still in
/// flight; a crashed instance's claims lapse after it.
const LEASE_SECS: i64 = 60;

/// Deliveries in flight at once, per instance.
const IN_FLIGHT: usize = 32;

/// The pause before the next attempt, after `failed` failed ones.
pub fn backoff_secs(failed: i64) -> i64 {
    FIRST_RETRY_SECS.saturating_mul(1 << (failed - 1).clamp(0, 20))
}

/// The handle that wakes the delivery task once a request has queued
/// notices, so that they leave at once rather than at the next poll.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Outbox {
    wake: Arc<Notify>,
}

impl Outbox {
    /// A handle with no task yet ([`spawn`] starts it).
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Tells the task that notices are queued.
    pub fn wake(&self) {
        // Stored if the task is busy: the next wait returns at once.
        self.wake.notify_one();
    }
}

/// What the delivery task needs.
#[derive(Clone)]
struct Ctx {
    db: Db,
    keys: KeyRing,
    issuer: Arc<IssuerSettings>,
    clock: Clock,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
}

/// Starts the delivery task on the current actix runtime; it runs until
/// the returned handle is aborted. `Err` when no HTTP client can be made.
pub fn spawn(
    outbox: &Outbox,
    db: Db,
    keys: KeyRing,
    issuer: Arc<IssuerSettings>,
    clock: Clock,
) -> Result<actix_web::rt::task::JoinHandle<()>, String> {
    let ctx = Ctx {
        db,
        keys,
        issuer,
        clock,
        http: send::client()?,
        slots: Arc::new(Semaphore::new(IN_FLIGHT)),
    };
    let wake = outbox.wake.clone();
    Ok(actix_web::rt::spawn(async move {
        loop {
            // Woken by a logout here, or the poll's time is up.
            let _ = tokio::time::timeout(POLL, wake.notified()).await;
            if let Err(e) = round(&ctx).await {
                log::warn!("back-channel logout: cannot read the queue: {e}");
            }
        }
    }))
}

/// Claims what is due (as many as there are free slots) and starts a
/// delivery for each.
async fn round(ctx: &Ctx) -> Result<(), DbError> {
    let free = ctx.slots.available_permits();
    if free == 0 {
        return Ok(());
    }
    let now = ctx.clock.now();
    let due = ctx
        .db
        .read(move |conn| logout_notices::due(conn, now, free as i64).map_err(DbError::from))
        .await?;
    if due.is_empty() {
        return Ok(());
    }
    let claimed = ctx
        .db
        .write(move |conn| {
            let mut won = Vec::new();
            for notice in due {
                if logout_notices::claim(conn, &notice.id, now, now + LEASE_SECS)? {
                    won.push(notice);
                }
            }
            Ok::<_, DbError>(won)
        })
        .await?;
    for notice in claimed {
        let Ok(slot) = ctx.slots.clone().try_acquire_owned() else {
            // Claimed but no slot: its lease lapses and it is taken again.
            break;
        };
        let ctx = ctx.clone();
        actix_web::rt::spawn(async move {
            deliver(&ctx, notice).await;
            drop(slot);
        });
    }
    Ok(())
}

/// Why an attempt did not deliver.
enum Failed {
    /// The client is gone or no longer listens: nothing to retry.
    NoOneToTell(&'static str),
    /// Worth another try.
    Retry(String),
}

/// One attempt at a claimed notice, and what it leaves in the queue.
async fn deliver(ctx: &Ctx, notice: Notice) {
    let attempt = notice.attempts + 1;
    let outcome = attempt_once(ctx, &notice).await;
    let now = ctx.clock.now();
    let id = notice.id.clone();
    let stored = match &outcome {
        Ok(()) | Err(Failed::NoOneToTell(_)) => {
            ctx.db
                .write(move |conn| logout_notices::remove(conn, &id).map_err(DbError::from))
                .await
        }
        Err(Failed::Retry(_)) if attempt >= MAX_ATTEMPTS => {
            ctx.db
                .write(move |conn| logout_notices::remove(conn, &id).map_err(DbError::from))
                .await
        }
        Err(Failed::Retry(why)) => {
            let (why, next) = (why.clone(), now + backoff_secs(attempt));
            ctx.db
                .write(move |conn| {
                    logout_notices::retry_at(conn, &id, attempt, next, &why).map_err(DbError::from)
                })
                .await
        }
    };
    if let Err(e) = stored {
        // The lease lapses and the notice is tried again: at worst sent twice.
        log::warn!("back-channel logout: cannot record an attempt: {e}");
        return;
    }
    let who = audit::Notified {
        client_id: &notice.client_id,
        user_id: &notice.user_id,
        sid: &notice.sid,
        attempts: attempt,
    };
    match outcome {
        Ok(()) => audit::backchannel_logout(&who, "delivered"),
        Err(Failed::NoOneToTell(why)) => {
            log::info!(
                "back-channel logout for client {} dropped: {why}",
                notice.client_id
            )
        }
        Err(Failed::Retry(why)) if attempt >= MAX_ATTEMPTS => {
            log::warn!(
                "back-channel logout to client {} given up after {attempt} attempts: {why}",
                notice.client_id
            );
            audit::backchannel_logout(&who, "given_up");
        }
        Err(Failed::Retry(why)) => log::info!(
            "back-channel logout to client {} failed (attempt {attempt} of {MAX_ATTEMPTS}, \
             next in {} s): {why}",
            notice.client_id,
            backoff_secs(attempt)
        ),
    }
}

/// Reads the client now (its URI may have changed, or it may be gone),
/// signs a fresh logout token and posts it.
async fn attempt_once(ctx: &Ctx, notice: &Notice) -> Result<(), Failed> {
    let client = ctx
        .db
        .client(&notice.client_id)
        .await
        .map_err(|e| Failed::Retry(format!("database: {e}")))?
        .ok_or(Failed::NoOneToTell("the client was removed"))?;
    let uri = client
        .backchannel_logout_uri
        .clone()
        .ok_or(Failed::NoOneToTell(
            "the client has no back-channel logout URI",
        ))?;
    if crate::redirect_uri::check_backchannel(&uri).is_err() {
        return Err(Failed::NoOneToTell(
            "its back-channel logout URI breaks the rule for one",
        ));
    }
    let now = ctx.clock.now();
    let token = token::sign(&ctx.keys, &ctx.issuer.issuer, &client, notice, now)
        .await
        .map_err(|e| Failed::Retry(format!("signing: {e}")))?;
    send::post(&ctx.http, &uri, &token)
        .await
        .map_err(Failed::Retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles() {
        let pauses: Vec<i64> = (1..MAX_ATTEMPTS).map(backoff_secs).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160]);
        assert_eq!(backoff_secs(0), 10);
        assert!(backoff_secs(100) > 0, "no overflow");
    }
}
