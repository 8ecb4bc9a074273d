//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2): every use returns a new token and retires the old;
//! presenting a retired token revokes its whole family. The rules
//! themselves live in [`crate::oauth::rotation`].

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{read_profile, within_owner, Stored, TokenResponse};
use crate::db::clients::Client;
use crate::db::owners::{self, Bound};
use crate::db::profiles::Profile;
use crate::db::refresh_batch::Rotation;
use crate::db::refresh_tokens::{Claim, RefreshToken};
use crate::db::session_clients::{self, SessionClient};
use crate::db::users::User;
use crate::db::{AnyConnection, DbError};
use crate::grant_type::GrantType;
use crate::mfa::amr::Amr;
use crate::oauth::client_auth::{self, ClientAuth};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::id_token::{IdToken, SignIn};
use crate::oauth::issuer;
use crate::oauth::metadata::OPENID;
use crate::oauth::rotation::{self, Found, Reuse};
use crate::scope::{self, RefreshScopeError, ScopeSet};
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
/// successor, or the revocation of a reused family.
fn exchange(
    conn: &mut AnyConnection,
    ctx: &GrantCtx,
    auth: &ClientAuth,
    presented: &Secret,
    requested: Option<&ScopeSet>,
    now: i64,
    gone: &AtomicBool,
) -> Result<Made, OAuthError> {
    Ok(match decide(conn, auth, presented, requested, now)? {
        Decided::Refused => Made::Rotated(Rotated::Refused),
        Decided::Reused(used) => Made::Reused(Box::new(rotation::reuse(conn, used, now)?)),
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
                Claim::AlreadyUsed => Made::Reused(Box::new(rotation::reuse(conn, token, now)?)),
                Claim::Unusable | Claim::NotFound => Made::Rotated(Rotated::Refused),
            }
        }
    })
}

/// The read on a connection thread, then the rotation, batched with
/// concurrent ones. The read, and the revocation of a reuse it finds, run
/// in a task of their own, for the reason [`in_one_write`] gives; a live
/// token's rotation stays with the request, to be withdrawn if its client
/// goes before it starts.
async fn read_then_rotate(
    ctx: &GrantCtx,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<Rotated, OAuthError> {
    let read = actix_web::rt::spawn(read(ctx.clone(), auth, presented, requested));
    Ok(match read.await.map_err(|_| DbError::Blocking)?? {
        None => Rotated::Refused,
        Some(successor) => successor.store(ctx).await?,
    })
}

/// Reads the token and authenticates the client: the rotation to make, or
/// `None` for a refusal (a used token's family revoked by then).
async fn read(
    ctx: GrantCtx,
    auth: ClientAuth,
    presented: Secret,
    requested: Option<ScopeSet>,
) -> Result<Option<Successor>, OAuthError> {
    let now = ctx.clock.now();
    let found = ctx
        .db
        .read(move |conn| decide(conn, &auth, &presented, requested.as_ref(), now))
        .await?;
    match found {
        Decided::Live(successor) => Ok(Some(successor)),
        Decided::Refused => Ok(None),
        Decided::Reused(used) => {
            revoke(&ctx, used, ctx.clock.now()).await?;
            Ok(None)
        }
    }
}

/// What `presented` is for the authenticated client, without writing.
fn decide(
    conn: &mut AnyConnection,
    auth: &ClientAuth,
    presented: &Secret,
    requested: Option<&ScopeSet>,
    now: i64,
) -> Result<Decided, OAuthError> {
    let (client, found) = rotation::look_up(conn, presented, auth.client_id(), now)?;
    let client = client_auth::check(client, auth, Some(GrantType::RefreshToken))?;
    Ok(match found {
        Found::Invalid => Decided::Refused,
        Found::Used(row) => Decided::Reused(row),
        Found::Live {
            token,
            user,
            scopes,
        } => {
            // A scope refused here leaves the token unclaimed, as §6 wants
            // for a failed request.
            let bound = owners::bound(conn, &client)?;
            let granted = narrow_scope(&token, &scopes, &client, &bound, requested)?;
            // A user's client that resumed after its owner's password
            // change: what it held before is dead.
            if !bound.admits("", token.issued_at, None) {
                return Ok(Decided::Refused);
            }
            let profile = read_profile(conn, &user, &granted)?;
            // Recorded at the exchange that started the family; a family
            // older than that is recorded at its first refresh with an ID
            // token.
            let recorded = !granted.contains(OPENID)
                || session_clients::exists(conn, &sign_in_of(&token).sid, &client.client_id)?;
            Decided::Live(Successor {
                token,
                user: Box::new((user, profile)),
                client: Box::new(client),
                granted,
                recorded,
            })
        }
    })
}

/// What the read found the presented token to be.
enum Decided {
    /// Not a token the read could rotate or call reused: a refusal.
    Refused,
    /// Used already: its family is to be revoked.
    Reused(RefreshToken),
    /// Live: to be rotated.
    Live(Successor),
}

/// A live token's rotation, decided by the read: claim `token` and store
/// its successor, issued for `granted`.
struct Successor {
    token: RefreshToken,
    /// The user, with their profile when the ID token needs it.
    user: Box<(User, Option<Profile>)>,
    client: Box<Client>,
    granted: ScopeSet,
    /// Whether the client is recorded as signed in through the family's
    /// session (for logout), as the read found.
    recorded: bool,
}

/// The family's sign-in: the same `auth_time`, `sid` and `amr`, and no
/// nonce (OpenID Connect Core 1.0 §12.2). A family older than OpenID
/// Connect stands for a sign-in when its token was issued.
fn sign_in_of(token: &RefreshToken) -> SignIn {
    SignIn {
        auth_time: token.auth_time.unwrap_or(token.issued_at),
        sid: token.sid.clone().unwrap_or_else(|| token.family_id.clone()),
        nonce: None,
        amr: Amr::parse(token.amr.as_deref()),
    }
}

impl Successor {
    /// The rotation to make at `now` (the time of the write, not of the
    /// read before it), the token it claims, what to sign once it is
    /// made, and the session's record for logout if the family has none.
    #[allow(clippy::type_complexity)]
    fn prepare(
        self,
        ctx: &GrantCtx,
        now: i64,
    ) -> Result<(Rotation, RefreshToken, Box<Stored>, Option<SessionClient>), OAuthError> {
        let Successor {
            token,
            user,
            client,
            granted,
            recorded,
        } = self;
        // The successor inherits the family's generation.
        let grant = ctx.grant(
            &token.user_id,
            &client,
            &granted,
            Some(token.generation),
            false,
            now,
        )?;
        let (next, unsigned) = issuer::successor(&ctx.issuer, now, &token, &grant);
        let rotation = Rotation {
            hash: token.token_hash.clone(),
            successor: next,
            now,
        };
        let sign_in = sign_in_of(&token);
        let subject = (&user.0, user.1.as_ref());
        let id_token = IdToken::for_grant(&ctx.issuer, now, (subject, &client), &granted, sign_in)?;
        let unrecorded = match &id_token {
            Some(id_token) if !recorded => Some(id_token.session_client(&ctx.issuer, now)),
            _ => None,
        };
        Ok((
            rotation,
            token,
            Box::new((unsigned, granted, id_token)),
            unrecorded,
        ))
    }

    async fn store(self, ctx: &GrantCtx) -> Result<Rotated, OAuthError> {
        let now = ctx.clock.now();
        let (rotation, token, stored, unrecorded) = self.prepare(ctx, now)?;
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
                Rotated::New(stored)
            }
            // Used since the read: a second presentation raced this one.
            Claim::AlreadyUsed => {
                revoke(ctx, token, now).await?;
                Rotated::Refused
            }
            // Revoked, expired, or its user changed since the read.
            Claim::Unusable | Claim::NotFound => Rotated::Refused,
        })
    }
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

/// What the grant did: a successor stored, or a refusal (after a reuse,
/// once its family revocation has committed).
enum Rotated {
    New(Box<Stored>),
    Refused,
}

/// Within the original grant (§6), and still within what the client (for
/// a user's client, as its owner `bound`s it) and the user's roles
/// (`user_scopes`, read with the token) allow today.
fn narrow_scope(
    claimed: &RefreshToken,
    user_scopes: &BTreeSet<String>,
    client: &Client,
    bound: &Bound,
    requested: Option<&ScopeSet>,
) -> Result<ScopeSet, OAuthError> {
    let original = scope::parse([claimed.scope.as_str()]).unwrap_or_default();
    let registered = scope::parse([client.scopes.as_str()]).unwrap_or_default();
    let registered = within_owner(bound, registered)?;
    scope::for_refresh(&original, requested, &registered, user_scopes).map_err(|e| {
        OAuthError::InvalidScope(
            match e {
                RefreshScopeError::ExceedsGrant => "the requested scope exceeds the original grant",
                RefreshScopeError::NoneLeft => "none of the requested scopes is still granted",
            }
            .into(),
        )
    })
}
