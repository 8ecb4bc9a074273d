//! OAuth errors and their RFC 6749 §5.2 responses: the only place that
//! turns a protocol error into HTTP.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;
use crate::keys::KeyError;
use crate::password::PasswordError;

/// An error of the token, revocation or introspection endpoints.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Malformed request: missing, repeated or invalid parameter (§5.2).
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed (§5.2): 401 with a Basic challenge.
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// Bad credentials, code or refresh token (§5.2).
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// The client may not use this grant type (§5.2).
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// The grant type is unknown (§5.2).
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// The scope is invalid, unknown or exceeds what is allowed (§5.2).
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// A fault of ours; logged, answered with a bare 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl OAuthError {
    /// The RFC 6749 error code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::Internal(_) => "server_error",
        }
    }

    fn description(&self) -> &str {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidClient(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d)
            | OAuthError::UnsupportedGrantType(d)
            | OAuthError::InvalidScope(d) => d,
            OAuthError::Internal(_) => "internal server error",
        }
    }

    /// The one `invalid_grant` for every failed user login, so that unknown
    /// user, wrong password and disabled user cannot be told apart.
    pub fn bad_credentials() -> OAuthError {
        OAuthError::InvalidGrant("invalid username or password".into())
    }
}

impl From<DbError> for OAuthError {
    fn from(e: DbError) -> OAuthError {
        OAuthError::Internal(e.to_string())
    }
}

impl From<diesel::result::Error> for OAuthError {
    fn from(e: diesel::result::Error) -> OAuthError {
        OAuthError::Internal(e.to_string())
    }
}

impl From<KeyError> for OAuthError {
    fn from(e: KeyError) -> OAuthError {
        OAuthError::Internal(e.to_string())
    }
}

impl From<PasswordError> for OAuthError {
    fn from(e: PasswordError) -> OAuthError {
        OAuthError::Internal(e.to_string())
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub fn no_store(res: &mut HttpResponse) {
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            OAuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let OAuthError::Internal(detail) = self {
            log::error!("token endpoint: {detail}");
        }
        let mut res = HttpResponse::build(self.status_code()).json(Body {
            error: self.code(),
            error_description: self.description(),
        });
        if matches!(self, OAuthError::InvalidClient(_)) {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="authd""#),
            );
        }
        no_store(&mut res);
        res
    }
}

/// 405 with `Allow: POST` for the POST-only protocol endpoints.
pub async fn method_not_allowed() -> HttpResponse {
    let mut res = HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .json(Body {
            error: "invalid_request",
            error_description: "this endpoint accepts only POST",
        });
    no_store(&mut res);
    res
}
