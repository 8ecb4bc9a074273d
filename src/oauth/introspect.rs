//! `POST /oauth/introspect` (RFC 7662). Confidential clients (resource
//! servers) may introspect any token; a public client, which cannot prove
//! who it is, only its own. Anything not live is `{"active": false}`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::access_token::verify_own;
use super::client_auth::{read_token_request, DbRegistrar};
use super::error::{no_store, OAuthError};
use crate::app::AppState;
use crate::db::{self, clients, refresh_tokens, revoked_access_tokens, users, AnyConnection};
use crate::keys::KeySnapshot;
use crate::secret::Secret;

fn inactive() -> Value {
    json!({ "active": false })
}

fn username(conn: &mut AnyConnection, sub: &str) -> Result<Option<users::User>, OAuthError> {
    Ok(users::by_id(conn, sub)?)
}

fn introspect_access(
    conn: &mut AnyConnection,
    keys: &KeySnapshot,
    issuer: &str,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let Some(c) = verify_own(keys, issuer, token) else {
        return Ok(None);
    };
    if revoked_access_tokens::is_revoked(conn, &c.jti)? {
        return Ok(Some(inactive()));
    }
    let mut out = json!({
        "active": true, "scope": c.scope, "client_id": c.client_id, "sub": c.sub,
        "exp": c.exp, "iat": c.iat, "iss": c.iss, "aud": c.aud, "jti": c.jti,
        "token_type": "Bearer",
    });
    // A user's token: add the username; a disabled user's tokens are dead.
    if c.sub != c.client_id {
        match username(conn, &c.sub)? {
            Some(u) if !u.disabled => out["username"] = u.username.into(),
            _ => return Ok(Some(inactive())),
        }
    }
    Ok(Some(out))
}

fn introspect_refresh(
    conn: &mut AnyConnection,
    issuer: &str,
    token: &Secret,
    now: i64,
) -> Result<Option<Value>, OAuthError> {
    let Some(row) = refresh_tokens::find(conn, &token.hash())? else {
        return Ok(None);
    };
    let live = row.used_at.is_none() && row.revoked_at.is_none() && row.expires_at > now;
    let user = username(conn, &row.user_id)?;
    let client = clients::find(conn, &row.client_id)?;
    match (live, user, client) {
        (true, Some(u), Some(c)) if !u.disabled && row.issued_at >= u.tokens_valid_after => {
            Ok(Some(json!({
                "active": true, "scope": row.scope, "client_id": row.client_id,
                "sub": row.user_id, "username": u.username, "exp": row.expires_at,
                "iat": row.issued_at, "iss": issuer,
                "aud": c.audience.unwrap_or_else(|| issuer.to_string()),
                "token_type": "refresh_token",
            })))
        }
        _ => Ok(Some(inactive())),
    }
}

/// The handler.
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (auth, token) = read_token_request(&req, payload).await?;
    let keys = state.keys.current();
    let issuer = state.issuer.clone();
    let body = state
        .db
        .run(move |conn| {
            let client = DbRegistrar::new(conn).authenticate(&auth)?;
            let now = db::now();
            let found = match introspect_access(conn, &keys, &issuer, token.expose())? {
                Some(v) => Some(v),
                None => introspect_refresh(conn, &issuer, &token, now)?,
            };
            let body = match found {
                Some(v) if v["active"] == true => {
                    let own = v["client_id"] == client.client_id.as_str();
                    if client.is_public() && !own {
                        inactive()
                    } else {
                        v
                    }
                }
                _ => inactive(),
            };
            Ok::<_, OAuthError>(body)
        })
        .await?;
    let mut res = HttpResponse::Ok().json(body);
    no_store(&mut res);
    Ok(res)
}
