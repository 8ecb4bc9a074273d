//! `GET /static/authd.css`: the pages' one stylesheet, built into the
//! binary. A file rather than an inline `<style>`, so that the pages'
//! Content-Security-Policy needs no `'unsafe-inline'`.

use actix_web::http::header;
use actix_web::HttpResponse;

const STYLESHEET: &str = include_str!("../../static/authd.css");

/// `GET /static/authd.css`.
pub(super) async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // An hour: a new version reaches browsers soon after an upgrade.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}
