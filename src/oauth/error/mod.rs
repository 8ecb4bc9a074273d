//! OAuth errors and their responses: the only place that turns a
//! protocol error into HTTP. RFC 6749 §5.2 JSON here; the Bearer
//! challenges of a protected resource (RFC 6750 §3) in `bearer`; the
//! authorization endpoint's error redirect (RFC 6749 §4.1.2.1) in
//! `redirect`.

mod bearer;
mod redirect;

pub use redirect::authorization_redirect;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;
use crate::http::form::FormError;
use crate::keys::KeyError;
use crate::login::LoginError;
use crate::password::PasswordError;

/// The cause of a server-side failure, kept for the log (never sent).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// An error of the token, revocation, introspection or metadata endpoints.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Malformed request: missing, repeated or invalid parameter (§5.2).
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// The body exceeds the size limit: 413 (RFC 9110 §15.5.14), so that a
    /// client can tell it from a malformed request; code `invalid_request`.
    #[error("invalid_request: the request body is too large")]
    TooLarge,
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
    /// Too many failed logins from this address: 429 with `Retry-After`
    /// (seconds), code `temporarily_unavailable` (SECURITY.md).
    #[error("too many failed logins from this address")]
    RateLimited(i64),
    /// More password checks than the hashing queue holds: 503 at once with
    /// `Retry-After` (docs/interface.md "Overload").
    #[error("too many logins waiting")]
    Busy,
    /// A dependency (the database) cannot serve now: 503, logged, and the
    /// client may retry (the code is RFC 6749 §4.1.2.1's).
    #[error("temporarily unavailable")]
    Unavailable(#[source] Cause),
    /// A fault of ours: logged with its cause, answered with a bare 500.
    #[error("internal error")]
    Internal(#[source] Cause),
    /// A protected resource (UserInfo) was asked without an access token:
    /// 401 with a bare Bearer challenge (RFC 6750 §3.1).
    #[error("no access token")]
    NoToken,
    /// The access token is missing its mark: invalid, expired, revoked,
    /// or its user changed since: 401 `invalid_token` (RFC 6750 §3.1).
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// The access token lacks the scope this resource needs: 403
    /// `insufficient_scope` (RFC 6750 §3.1), naming it.
    #[error("insufficient_scope: {0} is needed")]
    InsufficientScope(&'static str),
}

impl OAuthError {
    /// The RFC 6749 error code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) | OAuthError::TooLarge => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::RateLimited(_) | OAuthError::Busy | OAuthError::Unavailable(_) => {
                "temporarily_unavailable"
            }
            OAuthError::Internal(_) => "server_error",
            OAuthError::NoToken | OAuthError::InvalidToken(_) => "invalid_token",
            OAuthError::InsufficientScope(_) => "insufficient_scope",
        }
    }

    fn description(&self) -> &str {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidClient(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d)
            | OAuthError::UnsupportedGrantType(d)
            | OAuthError::InvalidScope(d)
            | OAuthError::InvalidToken(d) => d,
            OAuthError::NoToken => "an access token is needed",
            OAuthError::InsufficientScope(_) => "the access token lacks the scope needed",
            OAuthError::TooLarge => "the request body is too large",
            OAuthError::RateLimited(_) => "too many failed logins from this address, retry later",
            OAuthError::Busy => "too many logins are waiting, retry later",
            OAuthError::Unavailable(_) => "the service is temporarily unavailable, retry later",
            OAuthError::Internal(_) => "internal server error",
        }
    }

    /// An internal error from a message, for invariants that have no
    /// error value of their own.
    pub fn internal(msg: &str) -> OAuthError {
        OAuthError::Internal(msg.to_string().into())
    }

    /// The one `invalid_grant` for every failed user login, so that unknown
    /// user, wrong password and disabled user cannot be told apart.
    pub fn bad_credentials() -> OAuthError {
        OAuthError::InvalidGrant("invalid username or password".into())
    }

    /// The cause and its sources on one line, for the log.
    pub fn chain(&self) -> String {
        crate::error_chain::chain(self)
    }
}

impl From<DbError> for OAuthError {
    fn from(e: DbError) -> OAuthError {
        // A row the request's write refers to was deleted while it ran (its
        // client removed, its user deleted): it lost a race to an
        // administrator, which is the answer those deletions give anyway.
        if let DbError::Query(q) = &e {
            if let Some(constraint) = crate::db::foreign_key_violation(q) {
                return match constraint.contains("client_id") {
                    true => OAuthError::InvalidClient("the client was removed meanwhile".into()),
                    false => OAuthError::InvalidGrant("the user was removed meanwhile".into()),
                };
            }
        }
        // No connection to be had (the database is down or saturated), the
        // connection died under the query (a restart), PostgreSQL broke a
        // deadlock or a serialization conflict, or the batch failed as a
        // whole: 503, worth a retry.
        if e.is_unavailable() {
            OAuthError::Unavailable(e.into())
        } else {
            OAuthError::Internal(e.into())
        }
    }
}

/// A form the protocol cannot read is `invalid_request` (RFC 6749 §5.2),
/// or 413 when it is too large.
impl From<FormError> for OAuthError {
    fn from(e: FormError) -> OAuthError {
        match e {
            FormError::TooLarge => OAuthError::TooLarge,
            other => OAuthError::InvalidRequest(other.to_string()),
        }
    }
}

impl From<LoginError> for OAuthError {
    fn from(e: LoginError) -> OAuthError {
        match e {
            LoginError::BadCredentials => OAuthError::bad_credentials(),
            LoginError::TooManyFailures(secs) => OAuthError::RateLimited(secs),
            LoginError::Busy => OAuthError::Busy,
            LoginError::Db(e) => e.into(),
            LoginError::Hash(e) => e.into(),
        }
    }
}

impl From<diesel::result::Error> for OAuthError {
    fn from(e: diesel::result::Error) -> OAuthError {
        OAuthError::from(DbError::Query(e))
    }
}

impl From<KeyError> for OAuthError {
    fn from(e: KeyError) -> OAuthError {
        OAuthError::Internal(e.into())
    }
}

impl From<PasswordError> for OAuthError {
    fn from(e: PasswordError) -> OAuthError {
        OAuthError::Internal(e.into())
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// The longest `error_description` sent, in characters.
const MAX_DESCRIPTION: usize = 200;

/// A description as it may go on the wire. RFC 6749 §5.2 allows only
/// %x20-21 / %x23-5B / %x5D-7E, and some descriptions quote what the client
/// sent (a grant type, a scope, a parameter name): anything else becomes
/// `?`, and the text is cut short, so that no request can make us echo
/// control characters or kilobytes of its own bytes.
fn wire_description(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_DESCRIPTION + 3));
    for (i, c) in text.chars().enumerate() {
        if i == MAX_DESCRIPTION {
            out.push_str("...");
            break;
        }
        let allowed = matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
        out.push(if allowed { c } else { '?' });
    }
    out
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
            OAuthError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            OAuthError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Busy | OAuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthError::NoToken | OAuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            OAuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The body and headers; the cause is logged by [`log_failures`], which
    /// knows the endpoint.
    fn error_response(&self) -> HttpResponse {
        if let Some(res) = bearer::response(self) {
            return res;
        }
        let mut res = HttpResponse::build(self.status_code()).json(Body {
            error: self.code(),
            error_description: &wire_description(self.description()),
        });
        if matches!(self, OAuthError::InvalidClient(_)) {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="authd""#),
            );
        }
        let retry_after = match self {
            OAuthError::RateLimited(secs) => Some((*secs).max(1)),
            OAuthError::Busy | OAuthError::Unavailable(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        no_store(&mut res);
        res
    }
}

/// Middleware for the protocol routes: logs a 5xx answer's cause with the
/// method and path that failed (the response itself carries no detail).
pub async fn log_failures(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if let Some(err) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<OAuthError>())
    {
        let (method, path) = (res.request().method(), res.request().path());
        match err {
            OAuthError::Internal(_) => log::error!("{method} {path}: {}", err.chain()),
            OAuthError::Unavailable(_) => log::warn!("{method} {path}: {}", err.chain()),
            _ => {}
        }
    }
    Ok(res)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver error as diesel reports it.
    struct Info(&'static str, Option<&'static str>);

    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.1
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn driver(kind: diesel::result::DatabaseErrorKind, info: Info) -> OAuthError {
        OAuthError::from(diesel::result::Error::DatabaseError(kind, Box::new(info)))
    }

    #[test]
    fn a_lost_race_is_never_a_500() {
        use diesel::result::DatabaseErrorKind::{ForeignKeyViolation, Unknown};
        let deadlock = driver(Unknown, Info("deadlock detected", None));
        assert_eq!(deadlock.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(deadlock.code(), "temporarily_unavailable");
        let user = Info("violates", Some("refresh_tokens_user_id_fkey"));
        assert_eq!(driver(ForeignKeyViolation, user).code(), "invalid_grant");
        let client = Info("violates", Some("refresh_tokens_client_id_fkey"));
        assert_eq!(driver(ForeignKeyViolation, client).code(), "invalid_client");
        let other = driver(Unknown, Info("something else", None));
        assert_eq!(other.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn too_large_is_413_invalid_request() {
        let res = OAuthError::TooLarge.error_response();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(OAuthError::TooLarge.code(), "invalid_request");
    }

    #[test]
    fn descriptions_keep_to_the_rfc_character_set() {
        assert_eq!(
            wire_description("grant_type 'a\u{1}\"\\é\n'"),
            "grant_type 'a?????'"
        );
        let long = wire_description(&"x".repeat(10_000));
        assert_eq!(long.len(), MAX_DESCRIPTION + 3);
        assert_eq!(
            wire_description("parameter 'scope' is repeated"),
            "parameter 'scope' is repeated"
        );
    }
}
