//! The developer console: a logged-in user's own client apps.
//!
//! `GET /console` lists them and offers the create form;
//! `POST /console/clients` creates one; `GET /console/clients/{id}` shows
//! one (and, right after a create or rotation, its secret, once);
//! `POST /console/clients/{id}/rotate`, `…/resume` and `…/delete` change it. Every
//! change is a POST carrying the session's CSRF token. A user reaches only
//! the clients they created: the owner is part of every query, and
//! another user's client answers 404, like one that does not exist.
//! Clients made with the CLI belong to nobody and never appear here.

mod client; // GET /console/clients/{id}, POST …/rotate, …/resume and …/delete
mod create; // POST /console/clients
mod list; // GET /console
pub mod reveal; // a new secret's one trip to its page

use actix_web::{web, HttpRequest};

use crate::audit::Actor;
use crate::login::client_ip;
use crate::state::AppState;
use crate::web::session::Session;

/// Registers the console's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(list::page))
        .route("/console/clients", web::post().to(create::create))
        .route("/console/clients/{client_id}", web::get().to(client::page))
        .route(
            "/console/clients/{client_id}/rotate",
            web::post().to(client::rotate),
        )
        .route(
            "/console/clients/{client_id}/resume",
            web::post().to(client::resume),
        )
        .route(
            "/console/clients/{client_id}/delete",
            web::post().to(client::delete),
        );
}

/// The path of a client's page.
fn client_path(client_id: &str) -> String {
    format!(
        "/console/clients/{}",
        url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect::<String>()
    )
}

/// Who the audit trail says made a change.
fn actor<'a>(session: &'a Session, req: &HttpRequest, state: &AppState) -> Actor<'a> {
    Actor::Console {
        user_id: &session.user_id,
        remote: client_ip(req, state.logins.trusted_proxies()),
    }
}

/// A grant the create form offers, with the words it shows.
pub struct GrantOption {
    /// The wire name (the checkbox's value).
    pub value: &'static str,
    /// What it is called on the page.
    pub label: &'static str,
    /// When to use it.
    pub hint: &'static str,
}

/// The grants, in the order the form lists them: authorization code first,
/// the flow RFC 9700 recommends for apps with users.
pub const GRANT_OPTIONS: &[GrantOption] = &[
    GrantOption {
        value: "authorization_code",
        label: "Authorization code",
        hint: "With PKCE: users sign in on authd's own pages. Recommended.",
    },
    GrantOption {
        value: "refresh_token",
        label: "Refresh token",
        hint: "Keeps users signed in without asking them again.",
    },
    GrantOption {
        value: "client_credentials",
        label: "Client credentials",
        hint: "The app acts on its own behalf. Confidential clients only.",
    },
    GrantOption {
        value: "password",
        label: "Password",
        hint: "The app sees the user's password. For legacy apps only.",
    },
];
