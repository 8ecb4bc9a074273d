//! Where a refused authorization request is answered. RFC 6749 §4.1.2.1
//! redirects the error to the client, which helps an app that an
//! administrator registered. But a client any user registered in the
//! console would make that redirect a way to send an anonymous visitor
//! anywhere its owner likes (RFC 9700 §4.11.2: an open redirector through
//! the error path), and a visitor who is signed in already would be sent
//! there without seeing a page either. So for such a client an error is
//! shown on authd's own page, and only the answer to its consent form (a
//! POST of a signed-in user, who had the app's name in front of them:
//! `access_denied`, say) goes back to the app. For an administrator's
//! client, errors are redirected as RFC 6749 says.

use oxide_auth::code_grant::error::AuthorizationErrorType;

use super::flow::Flow;

impl Flow<'_> {
    /// Whether an error may be redirected to the bound redirect URI.
    pub(super) fn may_redirect_errors(&self) -> bool {
        match self.client.borrow().as_ref() {
            // `is_owned`, not `owner_id`: a deleted owner leaves the client
            // a user's, not an administrator's.
            Some(client) => !client.is_owned() || (self.owner.is_some() && self.post),
            // Nothing bound: nowhere to redirect (oxide-auth does not ask).
            None => false,
        }
    }
}

/// The sentence authd's page shows instead of the redirect: fixed words
/// per error code (nothing from the request is echoed back) that tell the
/// visitor the fault is the application's.
pub(super) fn page_message(kind: AuthorizationErrorType) -> &'static str {
    match kind {
        AuthorizationErrorType::InvalidRequest => {
            "The application's sign-in request is incomplete or malformed (invalid_request). \
             Its developer needs to fix it."
        }
        AuthorizationErrorType::UnauthorizedClient => {
            "The application is not allowed to sign users in this way (unauthorized_client). \
             Its developer needs to fix its registration."
        }
        AuthorizationErrorType::UnsupportedResponseType => {
            "The application asked for a kind of answer authd does not give \
             (unsupported_response_type). Its developer needs to fix the request."
        }
        AuthorizationErrorType::InvalidScope => {
            "The application asked for access it is not registered for (invalid_scope). \
             Its developer needs to fix the request."
        }
        AuthorizationErrorType::AccessDenied => "The request was denied (access_denied).",
        AuthorizationErrorType::ServerError => {
            "Something went wrong on our side (server_error). Try again later."
        }
        AuthorizationErrorType::TemporarilyUnavailable => {
            "The service cannot answer right now (temporarily_unavailable). \
             Try again in a moment."
        }
    }
}
