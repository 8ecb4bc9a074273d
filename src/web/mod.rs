//! HTTP routes outside the OAuth protocol endpoints: the home page and the
//! health check, whose pages are askama templates on a shared layout.

mod assets; // the stylesheet
mod health; // GET /healthz
mod home; // GET /
pub mod page; // HTML responses and their security headers

use actix_web::web;

/// Registers the home page, the health check and the stylesheet.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/healthz", web::get().to(health::healthz))
        .route("/static/authd.css", web::get().to(assets::stylesheet));
}
