//! HTTP routes outside the OAuth protocol endpoints.

mod health;
mod home;

use actix_web::web;

/// Registers every route of the server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/healthz", web::get().to(health::healthz));
}
