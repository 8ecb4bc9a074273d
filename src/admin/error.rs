//! The admin API's errors and their one rendering: JSON
//! `{"error", "error_description"}` with 400 (invalid input), 404, 409
//! (a taken name, a role in use); the description is the message the
//! command line prints for the same refusal, word for word. A refused
//! token is answered as the protocol answers it (RFC 6750 §3, rendered
//! by `oauth::error`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;
use crate::keys::KeyError;
use crate::manage::ManageError;
use crate::oauth::error::OAuthError;
use crate::password::PasswordError;

/// What a request's path names, so that "unknown" of that kind is a 404
/// while an unknown thing named in the body (a role granted to a user) is
/// invalid input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `/users/{username}`.
    User,
    /// `/roles/{name}`.
    Role,
    /// `/clients/{client_id}`.
    Client,
    /// A collection: nothing unknown is the path's.
    Collection,
}

/// An admin request that failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The token was missing, bad, or without `authd:admin`.
    #[error(transparent)]
    Auth(#[from] OAuthError),
    /// The body is not what the operation takes.
    #[error("{0}")]
    Body(String),
    /// The operation refused, or storage failed.
    #[error("{0}")]
    Manage(ManageError, Subject),
    /// A signing key could not be made (a fault of ours: 500).
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl From<DbError> for AdminError {
    fn from(e: DbError) -> AdminError {
        AdminError::Manage(ManageError::Db(e), Subject::Collection)
    }
}

impl AdminError {
    /// `e` from an operation on what the path names.
    pub fn about(subject: Subject) -> impl Fn(ManageError) -> AdminError {
        move |e| AdminError::Manage(e, subject)
    }

    /// The status and error code of a refusal by the manage layer.
    fn manage_status(e: &ManageError, subject: Subject) -> (StatusCode, &'static str) {
        let conflict = (StatusCode::CONFLICT, "conflict");
        let not_found = (StatusCode::NOT_FOUND, "not_found");
        let invalid = (StatusCode::BAD_REQUEST, "invalid_request");
        match e {
            ManageError::UserExists(_)
            | ManageError::RoleExists(_)
            | ManageError::ClientExists(_)
            | ManageError::RoleInUse(..) => conflict,
            ManageError::UnknownUser(_) if subject == Subject::User => not_found,
            ManageError::UnknownRole(_) if subject == Subject::Role => not_found,
            ManageError::UnknownClient(_) if subject == Subject::Client => not_found,
            ManageError::Password(PasswordError::Busy) => unavailable(),
            ManageError::Password(p) if !crate::password::refuses_password(p) => internal(),
            ManageError::Db(db) if db.is_unavailable() => unavailable(),
            ManageError::Db(_) => internal(),
            _ => invalid,
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AdminError::Auth(e) => (e.status_code(), e.code()),
            AdminError::Body(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AdminError::Manage(e, subject) => AdminError::manage_status(e, *subject),
            AdminError::Keys(_) => internal(),
        }
    }

    /// The cause and its sources on one line, for the log.
    pub fn chain(&self) -> String {
        crate::error_chain::chain(self)
    }
}

fn unavailable() -> (StatusCode, &'static str) {
    (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
}

fn internal() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
}

/// The error body; the OpenAPI document names it `Error`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// A code: `invalid_request`, `not_found`, `conflict`,
    /// `invalid_token`, `insufficient_scope`, `server_error`,
    /// `temporarily_unavailable`.
    pub error: &'a str,
    /// What went wrong and what to do, as the command line says it.
    pub error_description: &'a str,
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        if let AdminError::Auth(e) = self {
            return e.error_response();
        }
        let (status, code) = self.status_and_code();
        let description = match status {
            // The cause is for the log (`log_failures`), not the caller.
            StatusCode::INTERNAL_SERVER_ERROR => "internal server error".to_string(),
            StatusCode::SERVICE_UNAVAILABLE => {
                "the service is temporarily unavailable, retry later".to_string()
            }
            _ => self.to_string(),
        };
        let mut res = HttpResponse::build(status).json(ErrorBody {
            error: code,
            error_description: &description,
        });
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        res
    }
}
