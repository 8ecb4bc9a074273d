//! HTTP routes outside the OAuth protocol endpoints.

mod health;
mod home;

use actix_web::web;

/// Registers the home page and the health check.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/healthz", web::get().to(health::healthz));
}
