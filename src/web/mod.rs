//! HTTP routes outside the OAuth protocol endpoints.

mod health;

use actix_web::web;

/// Registers every route of the server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz));
}
