//! `GET /healthz`: 200 when the database answers, else 503.

use actix_web::{web, HttpResponse};

use crate::state::AppState;

pub(super) async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    if state.db.ping().await {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
    } else {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "unavailable" }))
    }
}
