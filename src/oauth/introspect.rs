//! `POST /oauth/introspect` (RFC 7662). Confidential clients (resource
//! servers) may introspect any token; a public client, which cannot prove
//! who it is, only its own. Anything not live is `{"active": false}`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::error::{no_store, OAuthError};
use super::token_request::{authenticated, TokenRequest};
use crate::db::{clients, users, AnyConnection};
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

/// The handler.
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let body = authenticated(&req, payload, &state, |conn, r| {
        let found = match introspect_access(conn, &r)? {
            Some(found) => found,
            None => introspect_refresh(conn, &r)?,
        };
        let own = found.client_id.as_deref() == Some(r.client.client_id.as_str());
        Ok(if r.client.is_public() && !own {
            Introspection::inactive()
        } else {
            found
        })
    })
    .await?;
    let mut res = HttpResponse::Ok().json(body);
    no_store(&mut res);
    Ok(res)
}

/// `None` when `token` is not one of our access tokens at all.
fn introspect_access(
    conn: &mut AnyConnection,
    r: &TokenRequest,
) -> Result<Option<Introspection>, OAuthError> {
    let Some(c) = r
        .ctx
        .token_issuer(conn, r.now)
        .live_access(r.token.expose())?
    else {
        return Ok(None);
    };
    // A user's token carries the username; a disabled user's tokens are dead.
    let username = if c.sub == c.client_id {
        None
    } else {
        match users::by_id(conn, &c.sub)? {
            Some(u) if !u.disabled => Some(u.username),
            _ => return Ok(Some(Introspection::inactive())),
        }
    };
    Ok(Some(Introspection {
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
    }))
}

fn introspect_refresh(
    conn: &mut AnyConnection,
    r: &TokenRequest,
) -> Result<Introspection, OAuthError> {
    let Some((row, user)) = r.ctx.token_issuer(conn, r.now).live_refresh(&r.token)? else {
        return Ok(Introspection::inactive());
    };
    let Some(client) = clients::find(conn, &row.client_id)? else {
        return Ok(Introspection::inactive());
    };
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
        aud: Some(client.audience.unwrap_or_else(|| issuer.clone())),
        iss: Some(issuer.clone()),
        jti: None,
    })
}
