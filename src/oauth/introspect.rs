//! `POST /oauth/introspect` (RFC 7662). A client learns about its own
//! tokens only: every other token is `{"active": false}` to it, as if it
//! did not exist (§4: the endpoint must not help a client probe others'
//! tokens, and a username is personal data). The one exception is a
//! resource server, a confidential client registered with
//! `--introspects AUD`, which may introspect the access tokens meant for
//! it (`aud` = AUD), never refresh tokens.
//!
//! Only a confidential client may ask: a public one proves nothing.
//!
//! The answer reflects the current state, not only the token's own
//! claims: a token is inactive once revoked, expired, its client removed,
//! its user disabled or given a new password since it was issued, or,
//! for a client a user registered, once that owner no longer allows it.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::access_token::{standing_in, verify_own, AccessClaims, Holder, LiveAccess};
use super::error::{no_store, OAuthError};
use super::token_request::{self, TokenRequest};
use crate::db::clients::Client;
use crate::db::{owners, AnyConnection};
use crate::state::AppState;

/// The introspection response (RFC 7662 §2.2); only `active` when inactive.
#[derive(Debug, Default, Serialize)]
pub struct Introspection {
    /// Whether the token is live.
    pub active: bool,
    /// Granted scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user's name, for a user's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Expiry (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The subject: a user's id, or the client's for client_credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The access token's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Introspection {
    fn inactive() -> Introspection {
        Introspection::default()
    }
}

/// The handler: reads the request, authenticates the client,
/// [`answer`]s.
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let r = token_request::read(&req, payload, &state)
        .await?
        .authenticate()
        .await?;
    let mut res = HttpResponse::Ok().json(answer(r).await?);
    no_store(&mut res);
    Ok(res)
}

/// What an authenticated client learns about the token it names. An
/// access token's answer needs no connection thread: the token's standing
/// is read with those of concurrent requests ([`Db::access_standing`])
/// and the signature checked here. Anything that does not verify as one
/// of our access tokens may be a refresh token, looked up on a connection thread.
///
/// [`Db::access_standing`]: crate::db::Db::access_standing
pub async fn answer(r: TokenRequest) -> Result<Introspection, OAuthError> {
    // A public client proves nothing but an id anyone can read: letting it
    // ask would let a thief test a stolen refresh token without using it
    // (and so without tripping reuse detection). RFC 7662 §2.1 requires
    // the endpoint to authenticate who asks.
    if r.client.is_public() {
        return Err(OAuthError::InvalidClient(
            "introspection needs a confidential client (one with a secret)".into(),
        ));
    }
    let verified = verify_own(&r.ctx.keys, &r.ctx.issuer.issuer, r.token.expose(), r.now);
    match verified {
        // A JWT is never a refresh token: inactive if it no longer stands.
        Some(claims) => Ok(match standing_in(&r.ctx.db, claims).await? {
            Some(live) => access(&r, live),
            None => Introspection::inactive(),
        }),
        None => {
            let db = r.ctx.db.clone();
            db.read(move |conn| introspect_refresh(conn, &r)).await
        }
    }
}

/// Whether `asker` may learn about this access token: its own, or one
/// for an audience it introspects as a resource server.
fn may_see_access(asker: &Client, claims: &AccessClaims) -> bool {
    claims.client_id == asker.client_id || asker.introspects_audience(&claims.aud)
}

/// The answer for a live access token: its claims, or inactive when
/// `r.client` may not see it.
fn access(r: &TokenRequest, live: LiveAccess) -> Introspection {
    let LiveAccess { claims: c, holder } = live;
    if !may_see_access(&r.client, &c) {
        return Introspection::inactive();
    }
    let username = match holder {
        Holder::User(user) => Some(user.username),
        Holder::Client => None,
    };
    Introspection {
        active: true,
        scope: Some(c.scope),
        client_id: Some(c.client_id),
        username,
        token_type: Some("Bearer"),
        exp: Some(c.exp),
        iat: Some(c.iat),
        sub: Some(c.sub),
        aud: Some(c.aud),
        iss: Some(c.iss),
        jti: Some(c.jti),
    }
}

/// A refresh token is shown only to the client it was issued to: it is
/// that client's credential, never a resource server's business.
fn introspect_refresh(
    conn: &mut AnyConnection,
    r: &TokenRequest,
) -> Result<Introspection, OAuthError> {
    let Some((row, user)) = r.ctx.token_issuer(conn, r.now).live_refresh(&r.token)? else {
        return Ok(Introspection::inactive());
    };
    // The asker authenticated, so when it is the token's client, that
    // client still exists and its audience is at hand; a user's client
    // also needs its owner's leave.
    if row.client_id != r.client.client_id
        || !owners::bound(conn, &r.client)?.admits(&row.scope, row.issued_at, None)
    {
        return Ok(Introspection::inactive());
    }
    let issuer = &r.ctx.issuer.issuer;
    Ok(Introspection {
        active: true,
        scope: Some(row.scope),
        client_id: Some(row.client_id),
        username: Some(user.username),
        token_type: Some("refresh_token"),
        exp: Some(row.expires_at),
        iat: Some(row.issued_at),
        sub: Some(row.user_id),
        aud: Some(r.client.audience.clone().unwrap_or_else(|| issuer.clone())),
        iss: Some(issuer.clone()),
        jti: None,
    })
}
