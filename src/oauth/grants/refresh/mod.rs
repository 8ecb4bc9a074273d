//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2): every use returns a new token and retires the old;
//! presenting a retired token revokes its whole family, unless it is a
//! retry within `--refresh-retry-grace` ([`crate::oauth::retry`]). The
//! rules themselves live in [`crate::oauth::rotation`]; what a presented
//! token is, and what its answer issues, in [`decide`].

mod decide;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use self::decide::{decide, Decided, Retried, Successor};
use super::{Stored, TokenResponse};
use crate::db::refresh_tokens::{Claim, RefreshToken};
use crate::db::session_clients::{self, SessionClient};
use crate::db::{AnyConnection, DbError};
use crate::oauth::client_auth::ClientAuth;
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::rotation::{self, Reuse};
use crate::scope::ScopeSet;
use crate::secret::Secret;

fn invalid() -> OAuthError {
    OAuthError::InvalidGrant("refresh token is invalid, expired or revoked".into())
}

/// Runs the grant: read (the client, the token, its user and the user's
/// scopes in one query; authenticate the client, narrow the scope), write
/// (claim the token and store its successor, or revoke a reused family),
/// then, after the commit, sign. Where the read runs depends on the
/// backend ([`crate::db`]'s table): with a single writer (SQLite) the
/// writer makes the read itself, in the write's transaction; otherwise
/// (PostgreSQL) a connection thread reads and the rotation joins a
/// statement shared with concurrent ones ([`Db::rotate`]).
///
/// [`Db::rotate`]: crate::db::Db::rotate
pub async fn run(
    ctx: GrantCtx,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, OAuthError> {
    let outcome = if ctx.db.single_writer() {
        in_one_write(&ctx, auth, presented, requested).await?
    } else {
        read_then_rotate(&ctx, auth, presented, requested).await?
    };
    match outcome {
        Rotated::New(stored) => TokenResponse::signed(&ctx, *stored).await,
        Rotated::Retried(retried) => {
            let t = &retried.used;
            crate::audit::refresh_retried(&t.user_id, &t.client_id, &t.family_id);
            TokenResponse::signed(&ctx, *retried.stored).await
        }
        Rotated::Refused => Err(invalid()),
    }
}

/// The read and the write as one job of the single writer: its
/// connection's page cache outlives its commits, while every commit
/// empties a reading connection's (WAL), so the writer reads the token's
/// pages from memory, and its write then finds them there too; one hand-off
/// instead of two.
///
/// The job runs in a task of its own: a client that hangs up once it has
/// presented a used token (a thief replaying one, say) must not call off
/// the revocation. A live token's rotation is skipped instead when its
/// client has gone before the write began (its retry would count as
/// reuse).
async fn in_one_write(
    ctx: &GrantCtx,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<Rotated, OAuthError> {
    let hang_up = HangUp::default();
    let gone = hang_up.0.clone();
    let task_ctx = ctx.clone();
    let task = actix_web::rt::spawn(async move {
        let job_ctx = task_ctx.clone();
        let made = task_ctx
            .db
            .write(move |conn| {
                // The time of the write, which every rule reads.
                let now = job_ctx.clock.now();
                exchange(
                    conn,
                    &job_ctx,
                    &auth,
                    &presented,
                    requested.as_ref(),
                    now,
                    &gone,
                )
            })
            .await?;
        Ok::<_, OAuthError>(match made {
            Made::Rotated(rotated) => rotated,
            Made::Reused(reuse) => {
                // Committed by now: the family is revoked.
                reuse.audit();
                task_ctx.metrics.refresh_reused();
                Rotated::Refused
            }
        })
    });
    let rotated = task.await.map_err(|_| DbError::Blocking)??;
    drop(hang_up);
    Ok(rotated)
}

/// Set when the request's future is dropped (its client hung up).
#[derive(Default)]
struct HangUp(Arc<AtomicBool>);

impl Drop for HangUp {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the single writer's job did.
enum Made {
    Rotated(Rotated),
    /// A used token presented again: its family revoked, to audit once
    /// committed.
    Reused(Box<Reuse>),
}

/// Inside the writer's transaction: the read, then the claim and the
/// successor, or the revocation of a reused family (or, for a retry
/// within the grace, nothing: its answer is stored already).
fn exchange(
    conn: &mut AnyConnection,
    ctx: &GrantCtx,
    auth: &ClientAuth,
    presented: &Secret,
    requested: Option<&ScopeSet>,
    now: i64,
    gone: &AtomicBool,
) -> Result<Made, OAuthError> {
    let retries = ctx.retries();
    Ok(
        match decide(conn, auth, presented, requested, now, retries.as_ref())? {
            Decided::Refused => Made::Rotated(Rotated::Refused),
            Decided::Reused(used) => Made::Reused(Box::new(rotation::reuse(conn, used, now)?)),
            Decided::Retried(retry) => Made::Rotated(Rotated::Retried(retry.answer(ctx, now)?)),
            // Left unclaimed: nobody would receive its successor.
            Decided::Live(_) if gone.load(Ordering::Relaxed) => Made::Rotated(Rotated::Refused),
            Decided::Live(successor) => {
                let (rotation, token, stored, unrecorded) = successor.prepare(ctx, now)?;
                match rotation.make_alone(conn)? {
                    Claim::Claimed => {
                        if let Some(row) = unrecorded {
                            session_clients::record(conn, &row)?;
                        }
                        Made::Rotated(Rotated::New(stored))
                    }
                    // Cannot follow a read made in this same job of the
                    // single writer (nothing writes in between); were it
                    // to, it would be reuse.
                    Claim::AlreadyUsed => {
                        Made::Reused(Box::new(rotation::reuse(conn, token, now)?))
                    }
                    Claim::Unusable | Claim::NotFound => Made::Rotated(Rotated::Refused),
                }
            }
        },
    )
}

/// The read on a connection thread, then the rotation, batched with
/// concurrent ones. The read, and the revocation of a reuse it finds, run
/// in a task of their own, for the reason [`in_one_write`] gives; a live
/// token's rotation stays with the request, to be withdrawn if its client
/// goes before it starts.
///
/// With the retry grace on, a rotation that loses its claim to a
/// concurrent one reads again: the token is used now, and the read tells
/// a retry (answered with the winner's successor) from reuse.
async fn read_then_rotate(
    ctx: &GrantCtx,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<Rotated, OAuthError> {
    let again = ctx
        .retries()
        .map(|_| (auth.clone(), presented.clone(), requested.clone()));
    let first = actix_web::rt::spawn(read(ctx.clone(), auth, presented, requested));
    Ok(match first.await.map_err(|_| DbError::Blocking)?? {
        Next::Refused => Rotated::Refused,
        Next::Retried(retried) => Rotated::Retried(retried),
        Next::Rotate(successor) => match store(ctx, *successor, again.is_none()).await? {
            AfterClaim::Done(rotated) => rotated,
            AfterClaim::Lost => {
                // `store` revoked the family itself when retries are off.
                let Some((auth, presented, requested)) = again else {
                    return Ok(Rotated::Refused);
                };
                let again = actix_web::rt::spawn(read(ctx.clone(), auth, presented, requested));
                match again.await.map_err(|_| DbError::Blocking)?? {
                    Next::Retried(retried) => Rotated::Retried(retried),
                    // Refused, its family revoked if it was reuse; a used
                    // token never reads as live again.
                    Next::Refused | Next::Rotate(_) => Rotated::Refused,
                }
            }
        },
    })
}

/// What a read on a connection thread leads to.
enum Next {
    /// A refusal (a used token's family revoked by then).
    Refused,
    /// A live token: the rotation to make.
    Rotate(Box<Successor>),
    /// A retry within the grace: its answer.
    Retried(Retried),
}

/// Reads the token and authenticates the client: what to do next.
async fn read(
    ctx: GrantCtx,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<Next, OAuthError> {
    let now = ctx.clock.now();
    let retries = ctx.retries();
    let found = ctx
        .db
        .read(move |conn| {
            decide(
                conn,
                &auth,
                &presented,
                requested.as_ref(),
                now,
                retries.as_ref(),
            )
        })
        .await?;
    match found {
        Decided::Live(successor) => Ok(Next::Rotate(Box::new(successor))),
        Decided::Retried(retry) => Ok(Next::Retried(retry.answer(&ctx, now)?)),
        Decided::Refused => Ok(Next::Refused),
        Decided::Reused(used) => {
            revoke(&ctx, used, ctx.clock.now()).await?;
            Ok(Next::Refused)
        }
    }
}

/// What [`store`] did.
enum AfterClaim {
    /// Rotated, or refused.
    Done(Rotated),
    /// The token was used since the read (a second presentation raced
    /// this one), and its family left alone: the caller decides.
    Lost,
}

/// Makes the rotation the read decided. A claim lost to a concurrent
/// one is reuse: with `revoke_lost`, the family is revoked here;
/// otherwise the caller reads again ([`read_then_rotate`]).
async fn store(
    ctx: &GrantCtx,
    successor: Successor,
    revoke_lost: bool,
) -> Result<AfterClaim, OAuthError> {
    let now = ctx.clock.now();
    let (rotation, token, stored, unrecorded) = successor.prepare(ctx, now)?;
    Ok(match ctx.db.rotate(rotation).await? {
        Claim::Claimed => {
            if let Some(row) = unrecorded {
                // The rotation is committed: a failure here must not
                // cost the client its new tokens.
                if let Err(e) = record(ctx, row).await {
                    log::warn!(
                        "cannot record a refresh's session for logout: {}",
                        e.chain()
                    );
                }
            }
            AfterClaim::Done(Rotated::New(stored))
        }
        // Used since the read: a second presentation raced this one.
        Claim::AlreadyUsed if revoke_lost => {
            revoke(ctx, token, now).await?;
            AfterClaim::Done(Rotated::Refused)
        }
        Claim::AlreadyUsed => AfterClaim::Lost,
        // Revoked, expired, or its user changed since the read.
        Claim::Unusable | Claim::NotFound => AfterClaim::Done(Rotated::Refused),
    })
}

/// Records a family's client for its session's logout, in a write of its
/// own (the batched rotation's statement cannot carry it): only for a
/// family that no exchange recorded, once.
async fn record(ctx: &GrantCtx, row: SessionClient) -> Result<(), OAuthError> {
    ctx.db
        .write(move |conn| Ok::<_, OAuthError>(session_clients::record(conn, &row)?))
        .await
}

/// A used token presented again: its family revoked (RFC 9700 §4.14.2),
/// committed before this returns, then audited. A task of its own: once
/// the reuse is known, a client that hangs up must not call it off, as
/// dropping a queued write would. (Known during the read or after the
/// rotation's statement; one whose client hangs up while its rotation's
/// statement runs hears nothing, and a reuse found there revokes nothing.)
async fn revoke(ctx: &GrantCtx, token: RefreshToken, now: i64) -> Result<(), OAuthError> {
    let (db, metrics) = (ctx.db.clone(), ctx.metrics.clone());
    let revocation = actix_web::rt::spawn(async move {
        let reuse = db
            .write(move |conn| rotation::reuse(conn, token, now).map_err(DbError::Query))
            .await?;
        // Committed by now: the family is revoked.
        reuse.audit();
        metrics.refresh_reused();
        Ok::<_, DbError>(())
    });
    revocation.await.map_err(|_| DbError::Blocking)??;
    Ok(())
}

/// What the grant did: a successor stored, a retry answered with the
/// successor stored before, or a refusal (after a reuse, once its family
/// revocation has committed).
enum Rotated {
    New(Box<Stored>),
    Retried(Retried),
    Refused,
}
