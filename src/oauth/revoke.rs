//! `POST /oauth/revoke` (RFC 7009). A refresh token revokes its whole
//! family; an access token's `jti` is remembered until it expires. Unknown
//! or foreign tokens still get 200 (§2.2), so that nothing can be probed.

use actix_web::{web, HttpRequest, HttpResponse};

use super::access_token::verify_own;
use super::client_auth::{read_token_request, DbRegistrar};
use super::error::{no_store, OAuthError};
use crate::app::AppState;
use crate::db::{self, refresh_tokens, revoked_access_tokens};

/// The handler.
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (auth, token) = read_token_request(&req, payload).await?;
    let keys = state.keys.current();
    let issuer = state.issuer.clone();
    state
        .db
        .run(move |conn| {
            let client = DbRegistrar::new(conn).authenticate(&auth)?;
            let now = db::now();
            if let Some(row) = refresh_tokens::find(conn, &token.hash())? {
                if row.client_id == client.client_id {
                    db::write_tx(conn, |conn| {
                        refresh_tokens::revoke_family(conn, &row.family_id, now)
                    })?;
                }
                return Ok::<_, OAuthError>(());
            }
            if let Some(claims) = verify_own(&keys, &issuer, token.expose()) {
                if claims.client_id == client.client_id {
                    db::write_tx(conn, |conn| {
                        revoked_access_tokens::purge_expired(conn, now)?;
                        revoked_access_tokens::insert(conn, &claims.jti, claims.exp)
                    })?;
                }
            }
            Ok(())
        })
        .await?;
    let mut res = HttpResponse::Ok().finish();
    no_store(&mut res);
    Ok(res)
}
