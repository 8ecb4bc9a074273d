//! What a presented refresh token is, read without writing: refused,
//! reused, live (to rotate) or, within the retry grace, a retry (to answer
//! with its successor again); and what a live token's rotation or a
//! retry's answer issues.

use std::collections::BTreeSet;

use super::super::{read_profile, within_owner, Stored};
use crate::db::clients::Client;
use crate::db::owners::{self, Bound};
use crate::db::profiles::Profile;
use crate::db::refresh_batch::Rotation;
use crate::db::refresh_tokens::RefreshToken;
use crate::db::session_clients::{self, SessionClient};
use crate::db::users::User;
use crate::db::AnyConnection;
use crate::grant_type::GrantType;
use crate::mfa::amr::Amr;
use crate::oauth::client_auth::{self, ClientAuth};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::id_token::{IdToken, SignIn};
use crate::oauth::issuer::{self, Unsigned};
use crate::oauth::metadata::OPENID;
use crate::oauth::retry::Retries;
use crate::oauth::rotation::{self, Found};
use crate::scope::{self, RefreshScopeError, ScopeSet};
use crate::secret::Secret;

/// What `presented` is for the authenticated client, without writing.
/// With `retries` (the grace on), a used token is first checked for a
/// retry ([`Retries::successor_of`]); without, it is reuse at once, with
/// no further read.
pub(super) fn decide(
    conn: &mut AnyConnection,
    auth: &ClientAuth,
    presented: &Secret,
    requested: Option<&ScopeSet>,
    now: i64,
    retries: Option<&Retries>,
) -> Result<Decided, OAuthError> {
    let (client, found) = rotation::look_up(conn, presented, auth.client_id(), now)?;
    let client = client_auth::check(client, auth, Some(GrantType::RefreshToken))?;
    match found {
        Found::Invalid => Ok(Decided::Refused),
        Found::Used(row) => match retries {
            Some(retries) => retried(conn, retries, client, row, requested, now),
            None => Ok(Decided::Reused(row)),
        },
        Found::Live {
            token,
            user,
            scopes,
        } => live(conn, client, token, user, &scopes, requested),
    }
}

/// A live token of `client`: the rotation to make, unless its scope or
/// its owner's bound refuses it.
fn live(
    conn: &mut AnyConnection,
    client: Client,
    token: RefreshToken,
    user: User,
    scopes: &BTreeSet<String>,
    requested: Option<&ScopeSet>,
) -> Result<Decided, OAuthError> {
    // A scope refused here leaves the token unclaimed, as §6 wants
    // for a failed request.
    let bound = owners::bound(conn, &client)?;
    let granted = narrow_scope(&token, scopes, &client, &bound, requested)?;
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
    Ok(Decided::Live(Successor {
        token,
        user: Box::new((user, profile)),
        client: Box::new(client),
        granted,
        recorded,
    }))
}

/// The used token `used` presented again by its client: a retry if it
/// is within the grace and its successor is unused and live (answered
/// with that successor, for the scope asked now), else reuse.
fn retried(
    conn: &mut AnyConnection,
    retries: &Retries,
    client: Client,
    used: RefreshToken,
    requested: Option<&ScopeSet>,
    now: i64,
) -> Result<Decided, OAuthError> {
    let Some(successor) = retries.successor_of(conn, &used, now)? else {
        return Ok(Decided::Reused(used));
    };
    // The successor's own standing, as if it were presented: its user,
    // family and lifetime, and the scope its user's roles grant now.
    let (_, found) = rotation::look_up(conn, &successor, &client.client_id, now)?;
    let Found::Live {
        token,
        user,
        scopes,
    } = found
    else {
        // Used since (a race with its own refresh), or dead.
        return Ok(Decided::Reused(used));
    };
    Ok(match live(conn, client, token, user, &scopes, requested)? {
        Decided::Live(live) => Decided::Retried(Box::new(Retry {
            successor: live,
            token: successor,
            used,
        })),
        refused => refused,
    })
}

/// What the read found the presented token to be.
pub(super) enum Decided {
    /// Not a token the read could rotate or call reused: a refusal.
    Refused,
    /// Used already: its family is to be revoked.
    Reused(RefreshToken),
    /// Live: to be rotated.
    Live(Successor),
    /// Used already, but retried within the grace: answered again with
    /// its successor.
    Retried(Box<Retry>),
}

/// A retry within the grace: `used` presented again, to be answered with
/// its successor's `token`, live as `successor` says.
pub(super) struct Retry {
    successor: Successor,
    token: Secret,
    used: RefreshToken,
}

impl Retry {
    /// The answer at `now`: a new access token (and ID token) for the
    /// successor's grant, with the successor's own refresh token. Nothing
    /// is written: the successor is stored already.
    pub(super) fn answer(self, ctx: &GrantCtx, now: i64) -> Result<Retried, OAuthError> {
        let Retry {
            successor,
            token,
            used,
        } = self;
        let (grant, id_token) = successor.grant_and_id_token(ctx, now)?;
        let unsigned = Unsigned::new(&ctx.issuer, now, &grant, Some(token));
        Ok(Retried {
            stored: Box::new((unsigned, successor.granted, id_token.0)),
            used: Box::new(used),
        })
    }
}

/// A retry's answer, to sign, and the token that was retried (to audit).
pub(super) struct Retried {
    pub stored: Box<Stored>,
    pub used: Box<RefreshToken>,
}

/// A live token's rotation, decided by the read: claim `token` and store
/// its successor, issued for `granted`.
pub(super) struct Successor {
    token: RefreshToken,
    /// The user, with their profile when the ID token needs it.
    user: Box<(User, Option<Profile>)>,
    client: Box<Client>,
    granted: ScopeSet,
    /// Whether the client is recorded as signed in through the family's
    /// session (for logout), as the read found.
    recorded: bool,
}

/// The ID token of an answer, and the session's record for logout that
/// it needs if the family has none.
struct IdTokenOf(Option<IdToken>, Option<SessionClient>);

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

/// What [`Successor::prepare`] gives: the rotation, the token it claims,
/// what to sign once it is made, and the session's record for logout if
/// the family has none.
pub(super) type Prepared = (Rotation, RefreshToken, Box<Stored>, Option<SessionClient>);

impl Successor {
    /// The grant at `now` (the successor inherits the family's
    /// generation) and its ID token.
    fn grant_and_id_token(
        &self,
        ctx: &GrantCtx,
        now: i64,
    ) -> Result<(oxide_auth::primitives::grant::Grant, IdTokenOf), OAuthError> {
        let (token, client) = (&self.token, &self.client);
        let grant = ctx.grant(
            &token.user_id,
            client,
            &self.granted,
            Some(token.generation),
            false,
            now,
        )?;
        let subject = (&self.user.0, self.user.1.as_ref());
        let id_token = IdToken::for_grant(
            &ctx.issuer,
            now,
            (subject, client),
            &self.granted,
            sign_in_of(token),
        )?;
        let unrecorded = match &id_token {
            Some(id_token) if !self.recorded => Some(id_token.session_client(&ctx.issuer, now)),
            _ => None,
        };
        Ok((grant, IdTokenOf(id_token, unrecorded)))
    }

    /// The rotation to make at `now` (the time of the write, not of the
    /// read before it). With `retries`, its successor's token is sealed
    /// to be stored with it.
    pub(super) fn prepare(self, ctx: &GrantCtx, now: i64) -> Result<Prepared, OAuthError> {
        let (grant, IdTokenOf(id_token, unrecorded)) = self.grant_and_id_token(ctx, now)?;
        let (next, unsigned) = issuer::successor(&ctx.issuer, now, &self.token, &grant);
        let sealed = match (ctx.retries(), unsigned.refresh()) {
            (Some(retries), Some(token)) => Some(retries.seal(token)?),
            _ => None,
        };
        let rotation = Rotation {
            hash: self.token.token_hash.clone(),
            successor: next,
            sealed,
            now,
        };
        Ok((
            rotation,
            self.token,
            Box::new((unsigned, self.granted, id_token)),
            unrecorded,
        ))
    }
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
