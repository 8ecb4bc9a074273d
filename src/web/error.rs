//! Errors of the browser pages and their HTML answers: the only place
//! that turns a page's failure into HTTP. Causes go to the log, never to
//! the page.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::page;
use crate::db::DbError;
use crate::login::LoginError;
use crate::manage::ManageError;

/// The cause of a server-side failure, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a page could not be served.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The request is malformed (e.g. a form body that cannot be read).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A form of a session came without that session's CSRF token.
    #[error("missing or wrong CSRF token")]
    Forbidden,
    /// No such page, or nothing of the user's at this address (another
    /// user's client looks exactly like a missing one).
    #[error("not found")]
    NotFound,
    /// An authorization request that must not be redirected (unknown
    /// client, missing or unregistered redirect URI, RFC 6749 §4.1.2.1):
    /// `400` with a page saying why.
    #[error("invalid authorization request: {0}")]
    InvalidAuthorization(&'static str),
    /// A logout request that cannot be served (RP-Initiated Logout 1.0
    /// §2: a `client_id` that disagrees with the `id_token_hint`):
    /// `400` with a page saying why, and no redirect.
    #[error("invalid logout request: {0}")]
    InvalidLogout(&'static str),
    /// The page needs a logged-in user: `303` to this login URL.
    #[error("login required")]
    LoginRequired(String),
    /// The database cannot serve now: `503`, retry.
    #[error("temporarily unavailable")]
    Unavailable(#[source] Cause),
    /// A fault of ours: a bare `500`.
    #[error("internal error")]
    Internal(#[source] Cause),
}

impl From<DbError> for WebError {
    fn from(e: DbError) -> WebError {
        if e.is_unavailable() {
            WebError::Unavailable(e.into())
        } else {
            WebError::Internal(e.into())
        }
    }
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> WebError {
        DbError::Query(e).into()
    }
}

/// For a management operation's storage failure; a refusal a user should
/// see is mapped by the page that knows what it means (the console's).
impl From<ManageError> for WebError {
    fn from(e: ManageError) -> WebError {
        match e {
            ManageError::Db(e) => e.into(),
            other => WebError::Internal(other.into()),
        }
    }
}

/// For the storage and hashing failures of a login; the outcomes a user
/// should see (bad credentials, limits) are pages of their own.
impl From<LoginError> for WebError {
    fn from(e: LoginError) -> WebError {
        match e {
            LoginError::Db(e) => e.into(),
            other => WebError::Internal(other.into()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl WebError {
    fn page(&self) -> (&'static str, &'static str) {
        match self {
            WebError::BadRequest(_) => ("Bad request", "The request could not be understood."),
            WebError::Forbidden => (
                "Form expired",
                "This form has expired or did not come from this site. Go back, \
                 reload the page and try again.",
            ),
            WebError::NotFound => ("Not found", "There is nothing at this address."),
            WebError::InvalidAuthorization(why) => ("This sign-in link does not work", why),
            WebError::InvalidLogout(why) => ("This sign-out link does not work", why),
            WebError::LoginRequired(_) => ("Sign in required", "Please sign in."),
            WebError::Unavailable(_) => (
                "Temporarily unavailable",
                "The service cannot answer right now. Try again in a moment.",
            ),
            WebError::Internal(_) => ("Something went wrong", "Internal server error."),
        }
    }

    /// The cause and its sources on one line, for the log.
    fn chain(&self) -> String {
        crate::error_chain::chain(self)
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_)
            | WebError::InvalidAuthorization(_)
            | WebError::InvalidLogout(_) => StatusCode::BAD_REQUEST,
            WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::LoginRequired(_) => StatusCode::SEE_OTHER,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::LoginRequired(to) => return page::see_other(to).finish(),
            WebError::Internal(_) => log::error!("page: {}", self.chain()),
            WebError::Unavailable(_) => log::warn!("page: {}", self.chain()),
            _ => {}
        }
        let (title, message) = self.page();
        let mut b = page::builder(self.status_code());
        if matches!(self, WebError::Unavailable(_)) {
            b.insert_header((header::RETRY_AFTER, "1"));
        }
        page::html(b, &ErrorPage { title, message })
    }
}
