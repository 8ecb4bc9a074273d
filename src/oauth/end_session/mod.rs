//! The `end_session_endpoint` (OpenID Connect RP-Initiated Logout 1.0;
//! docs/interface.md "Logout"), `GET` or `POST` on [`PATH`]: ends the
//! browser's session and, when an identified app registered the
//! `post_logout_redirect_uri`, sends the browser back there with `state`.
//!
//! Without a valid `id_token_hint` that names this very session, nothing
//! ends before the user confirms on our page (a form with the session's
//! CSRF token, posted back here): another site must not be able to log a
//! user out. An unregistered URI is never redirected to; the user sees our
//! "signed out" page instead. The session ends through
//! [`crate::web::session::end`], so the apps that signed in through it
//! hear of it (back-channel logout).

mod hint; // the id_token_hint: an ID token of ours, maybe expired
mod request; // the parameters, the asking app, the destination

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use self::request::{asking_client, destination, names_session, Asked, Refused};
use crate::audit;
use crate::http::form::Form;
use crate::login::client_ip;
use crate::state::AppState;
use crate::web::cookies::{self, Jar};
use crate::web::error::WebError;
use crate::web::session::{self, Session};
use crate::web::{page, signed_out};

/// Where the endpoint is mounted (the metadata's `end_session_endpoint`).
pub const PATH: &str = "/oauth/logout";

/// The handler of `GET` and `POST` on [`PATH`].
pub async fn end_session(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = match *req.method() {
        Method::POST => Form::read(&req, payload).await,
        _ => Form::parse(req.query_string().as_bytes()),
    }
    .map_err(|_| {
        WebError::InvalidLogout("its parameters could not be read (one is repeated, or not UTF-8)")
    })?;
    let asked = Asked::of(&form);
    let keys = state.keys.current();
    let hint = asked
        .id_token_hint
        .as_deref()
        .and_then(|token| hint::verify(&keys, &state.issuer.issuer, token));
    let client_id = asking_client(hint.as_ref(), asked.client_id.as_deref()).map_err(
        |Refused::ClientMismatch| {
            WebError::InvalidLogout("client_id names another app than the id_token_hint")
        },
    )?;
    let client = match &client_id {
        Some(id) => state.db.client(id).await?,
        None => None,
    };
    let to = destination(client.as_ref(), &asked);
    let Some(session) = session::current(&req, &state).await? else {
        // Nothing to end: straight on.
        return Ok(finish(&state, to));
    };
    let confirmed = match &asked.csrf_token {
        // Our confirmation form: its token must be the session's.
        Some(_) if !session.csrf_matches(asked.csrf_token.as_deref()) => {
            return Err(WebError::Forbidden)
        }
        Some(_) => true,
        None => names_session(hint.as_ref(), &session.user_id, &session.sid()),
    };
    if !confirmed {
        let page = signed_out::Confirm {
            username: &session.username,
            client_name: client.as_ref().map(|c| c.name.as_str()),
            action: PATH,
            csrf_token: session.csrf_token(),
            client_id: client.as_ref().map(|c| c.client_id.as_str()),
            post_logout_redirect_uri: asked.post_logout_redirect_uri.as_deref(),
            state: asked.state.as_deref(),
            destination: to.as_ref(),
        };
        return Ok(signed_out::confirm(&page));
    }
    end(&req, &state, session, client_id.as_deref(), to.is_some()).await?;
    Ok(finish(&state, to))
}

/// Ends the session, and audits it.
async fn end(
    req: &HttpRequest,
    state: &AppState,
    session: Session,
    client_id: Option<&str>,
    redirected: bool,
) -> Result<(), WebError> {
    let user_id = session.user_id.clone();
    session::end(state, session).await?;
    let remote = client_ip(req, state.logins.trusted_proxies());
    audit::logout_requested(&user_id, client_id, redirected, remote);
    Ok(())
}

/// The answer once nothing (more) is to be ended: the session cookie
/// cleared, and the browser sent to the destination or shown our page.
fn finish(state: &AppState, to: Option<url::Url>) -> HttpResponse {
    let removal = Jar::Session.removal(cookies::secure(state));
    match to {
        Some(url) => page::see_other(url.as_str()).cookie(removal).finish(),
        None => {
            let mut res = signed_out::done();
            // The page renders; a failed cookie header changes nothing.
            let _ = res.add_cookie(&removal);
            res
        }
    }
}
