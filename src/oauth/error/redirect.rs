//! The error an authorization redirect carries back to the client
//! (RFC 6749 §4.1.2.1).

use oxide_auth::code_grant::error::{AuthorizationError, AuthorizationErrorType};

use super::{wire_description, OAuthError};

/// The code of an authorization error redirect (RFC 6749 §4.1.2.1) for
/// one of ours.
fn redirect_type(e: &OAuthError) -> AuthorizationErrorType {
    match e {
        OAuthError::UnauthorizedClient(_) => AuthorizationErrorType::UnauthorizedClient,
        OAuthError::InvalidScope(_) => AuthorizationErrorType::InvalidScope,
        OAuthError::RateLimited(_) | OAuthError::Busy | OAuthError::Unavailable(_) => {
            AuthorizationErrorType::TemporarilyUnavailable
        }
        OAuthError::Internal(_) => AuthorizationErrorType::ServerError,
        _ => AuthorizationErrorType::InvalidRequest,
    }
}

/// Completes the error that an authorization redirect carries back to the
/// client (RFC 6749 §4.1.2.1) and returns its `error_description`, within
/// the RFC's character set. oxide-auth's flow picks the code from what it
/// saw; where authd refused the request itself (`refusal`: a client not
/// registered for the grant, PKCE, the scope policy, a repeated
/// parameter), that code replaces it. The description is not handed to
/// oxide-auth, which would send it as `description` rather than
/// `error_description`: the authorization endpoint adds it to the
/// redirect itself.
pub fn authorization_redirect(
    err: &mut AuthorizationError,
    refusal: Option<&OAuthError>,
) -> String {
    if let Some(refusal) = refusal {
        err.set_type(redirect_type(refusal));
        return wire_description(refusal.description());
    }
    match err.kind() {
        AuthorizationErrorType::AccessDenied => "the user denied the request",
        AuthorizationErrorType::UnsupportedResponseType => "only response_type=code is supported",
        AuthorizationErrorType::InvalidScope => "the requested scope is malformed",
        AuthorizationErrorType::UnauthorizedClient => "this client may not use this grant",
        AuthorizationErrorType::ServerError => "internal server error",
        AuthorizationErrorType::TemporarilyUnavailable => {
            "the service is temporarily unavailable, retry later"
        }
        AuthorizationErrorType::InvalidRequest => "the authorization request is invalid",
    }
    .to_string()
}
