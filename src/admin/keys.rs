//! `GET /admin/v1/keys`: the signing keys and their states, as `authd
//! keys list` shows them (never a private key).

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{AdminError, Subject};
use crate::manage::keys::{self, KeyView};
use crate::state::AppState;

/// Every signing key, newest first.
#[utoipa::path(get, path = "/admin/v1/keys", operation_id = "list_keys", tag = "keys",
    responses((status = 200, description = "Every signing key", body = Vec<KeyView>)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (now, ttl) = (state.clock.now(), state.issuer.access_ttl);
    super::read(&req, &state, Subject::Collection, move |conn| {
        keys::list(conn, now, ttl)
    })
    .await
}
