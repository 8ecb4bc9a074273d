//! The pages of RP-initiated logout (docs/interface.md "Logout"): the
//! confirmation, whose form posts the session's CSRF token and the
//! request's parameters back to the `end_session_endpoint`, and the page
//! that says the user is signed out (when no app is to be returned to).

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::{consent, page};

/// What the confirmation page shows and posts back. No `Debug`: it
/// carries the session's CSRF token.
pub struct Confirm<'a> {
    /// Who is signed in.
    pub username: &'a str,
    /// The app that asks, when one was identified.
    pub client_name: Option<&'a str>,
    /// Where the form posts.
    pub action: &'a str,
    /// The session's CSRF token.
    pub csrf_token: &'a str,
    /// The identified app, posted back as `client_id`.
    pub client_id: Option<&'a str>,
    /// Posted back as it came.
    pub post_logout_redirect_uri: Option<&'a str>,
    /// Posted back as it came.
    pub state: Option<&'a str>,
    /// Where the browser will go once confirmed, if anywhere.
    pub destination: Option<&'a url::Url>,
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct ConfirmPage<'a> {
    username: &'a str,
    client_name: Option<&'a str>,
    action: &'a str,
    csrf_token: &'a str,
    fields: Vec<(&'static str, &'a str)>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage;

/// The confirmation page (200). Its `form-action` also allows the
/// destination's origin: browsers apply it to the redirect after the post.
pub fn confirm(c: &Confirm<'_>) -> HttpResponse {
    let mut b = page::builder(StatusCode::OK);
    if let Some(to) = c.destination {
        b.insert_header((
            header::CONTENT_SECURITY_POLICY,
            page::CONTENT_SECURITY_POLICY.replace(
                "form-action 'self'",
                &format!("form-action {}", consent::form_targets(to.as_str())),
            ),
        ));
    }
    let fields = [
        ("client_id", c.client_id),
        ("post_logout_redirect_uri", c.post_logout_redirect_uri),
        ("state", c.state),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect();
    page::html(
        b,
        &ConfirmPage {
            username: c.username,
            client_name: c.client_name,
            action: c.action,
            csrf_token: c.csrf_token,
            fields,
        },
    )
}

/// The "you are signed out" page (200).
pub fn done() -> HttpResponse {
    page::html(page::builder(StatusCode::OK), &SignedOutPage)
}
