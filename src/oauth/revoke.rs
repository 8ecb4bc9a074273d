//! `POST /oauth/revoke` (RFC 7009). A refresh token revokes its whole
//! family; an access token's `jti` is remembered until it expires. Unknown
//! or foreign tokens still get 200 (§2.2), so that nothing can be probed;
//! the audit trail records what each request did.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{no_store, OAuthError};
use super::token_request::{authenticated, TokenRequest};
use crate::audit::{self, Revoked};
use crate::db::{self, refresh_tokens, revoked_access_tokens, AnyConnection};
use crate::state::AppState;

/// The handler.
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    authenticated(&req, payload, &state, revoke_token).await?;
    let mut res = HttpResponse::Ok().finish();
    no_store(&mut res);
    Ok(res)
}

fn revoke_token(conn: &mut AnyConnection, r: TokenRequest) -> Result<(), OAuthError> {
    let client_id = r.client.client_id.as_str();
    let record = |what| audit::revocation(client_id, r.remote, what);
    if let Some(row) = refresh_tokens::find(conn, &r.token.hash())? {
        if row.client_id != client_id {
            record(Revoked::Nothing);
            return Ok(());
        }
        let count = db::write_tx(conn, |conn| {
            refresh_tokens::revoke_family(conn, &row.family_id, r.now)
        })?;
        record(Revoked::RefreshFamily {
            user_id: &row.user_id,
            family_id: &row.family_id,
            count,
        });
        return Ok(());
    }
    let live = r
        .ctx
        .token_issuer(conn, r.now)
        .live_access(r.token.expose())?;
    let Some(claims) = live.map(|l| l.claims).filter(|c| c.client_id == client_id) else {
        record(Revoked::Nothing);
        return Ok(());
    };
    db::write_tx(conn, |conn| {
        revoked_access_tokens::insert(conn, &claims.jti, claims.exp)
    })?;
    record(Revoked::AccessToken {
        subject: &claims.sub,
        jti: &claims.jti,
    });
    Ok(())
}
