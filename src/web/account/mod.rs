//! The account page of a signed-in user, as
//! docs/interface.md "OpenID Connect", "Consent is remembered" says:
//! `GET /account` lists the apps the user has allowed and their live
//! sign-in sessions; `POST /account/revoke` takes an app's access back;
//! `POST /account/logout-everywhere` ends every session of the user. Each
//! POST carries the session's CSRF token and answers with a redirect
//! (Post/Redirect/Get).

mod everywhere; // POST /account/logout-everywhere
mod revoke; // POST /account/revoke
mod view; // GET /account

use actix_web::web;

/// Registers the account page's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(view::page))
        .route("/account/revoke", web::post().to(revoke::revoke))
        .route(
            "/account/logout-everywhere",
            web::post().to(everywhere::logout_everywhere),
        );
}

/// The account page's address after a revoke of `client_id`, which the
/// page then confirms.
fn revoked_path(client_id: &str) -> String {
    format!(
        "/account?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("revoked", client_id)
            .finish()
    )
}
