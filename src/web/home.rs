//! `GET /`: a page for people who open the server in a browser, naming the
//! issuer and the endpoints, and who is signed in (with a sign-out
//! button).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::WebError;
use super::{page, session};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    issuer: &'a str,
    /// The signed-in user's name and the session's CSRF token.
    signed_in: Option<(&'a str, &'a str)>,
}

pub(super) async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let session = session::current(&req, &state).await?;
    Ok(page::html(
        page::builder(StatusCode::OK),
        &Index {
            issuer: &state.issuer.issuer,
            signed_in: session
                .as_ref()
                .map(|s| (s.username.as_str(), s.csrf_token())),
        },
    ))
}
