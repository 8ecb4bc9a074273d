//! `GET /oauth/status/{id}`: a status list as `application/statuslist+jwt`
//! (draft-ietf-oauth-status-list §8.1). The bits are read from the
//! database, so every instance serves those any instance set; a list made
//! is kept for the rest of the second, so that a flood of fetches signs at
//! most once a second per list.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::{list, list_uri};
use crate::db::{revoked_access_tokens, status_blocks};
use crate::oauth::error::OAuthError;
use crate::state::AppState;

/// The media type of a status list token (§10.2).
pub const MEDIA_TYPE: &str = "application/statuslist+jwt";

/// The handler.
pub async fn status_list(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let Ok(list_id) = path.parse::<i64>() else {
        return Ok(HttpResponse::NotFound().finish());
    };
    let now = state.clock.now();
    let jwt = match state.status.kept(list_id, now) {
        Some(jwt) => jwt,
        None => {
            let Some(revoked) = state
                .db
                .read(move |conn| -> Result<_, OAuthError> {
                    if !status_blocks::list_exists(conn, list_id)? {
                        return Ok(None);
                    }
                    Ok(Some(revoked_access_tokens::revoked_in_list(
                        conn, list_id, now,
                    )?))
                })
                .await?
            else {
                return Ok(HttpResponse::NotFound().finish());
            };
            let uri = list_uri(&state.issuer.issuer, list_id);
            let keys = state.keys.current();
            let jwt: Arc<str> =
                list::signed(&keys, uri, &revoked, now, state.issuer.status_list_ttl)?.into();
            state.status.keep(list_id, now, jwt.clone());
            jwt
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, MEDIA_TYPE))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(jwt.to_string()))
}
