//! `GET /oauth/status/{id}`: a status list as `application/statuslist+jwt`
//! (draft-ietf-oauth-status-list §8.1). The bits are read from the
//! database, so every instance serves those any instance set; a list made
//! is kept for the rest of the second, so that a flood of fetches signs at
//! most once a second per list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::indices::StatusIndices;
use super::{list, list_uri};
use crate::db::{revoked_access_tokens, status_blocks};
use crate::oauth::error::OAuthError;
use crate::state::AppState;

/// The media type of a status list token (§10.2).
pub const MEDIA_TYPE: &str = "application/statuslist+jwt";

/// This instance's status lists: the indices it hands out, and the lists it
/// signed this second. Cheap to clone.
#[derive(Clone, Default)]
pub struct StatusLists {
    /// The indices this instance hands out.
    pub indices: StatusIndices,
    /// List id → (the second it was made, the signed list).
    made: Arc<Mutex<HashMap<i64, (i64, Arc<str>)>>>,
}

impl StatusLists {
    /// No block reserved, nothing made yet.
    pub fn new() -> StatusLists {
        StatusLists::default()
    }

    fn made(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (i64, Arc<str>)>> {
        // A map of finished entries: whole after any panic.
        self.made.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The list made at second `now`, if any.
    fn kept(&self, list_id: i64, now: i64) -> Option<Arc<str>> {
        self.made()
            .get(&list_id)
            .filter(|(at, _)| *at == now)
            .map(|(_, jwt)| jwt.clone())
    }

    fn keep(&self, list_id: i64, now: i64, jwt: Arc<str>) {
        let mut made = self.made();
        // Only this second's lists are worth keeping.
        made.retain(|_, (at, _)| *at == now);
        made.insert(list_id, (now, jwt));
    }

    /// Forgets the lists made, so that this instance's next answer shows a
    /// revocation it just stored.
    pub fn forget(&self) {
        self.made().clear();
    }
}

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
