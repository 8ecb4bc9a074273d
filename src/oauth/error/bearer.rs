//! The answers of a protected resource (UserInfo) to a request whose
//! access token does not do (RFC 6750 §3): a `WWW-Authenticate: Bearer`
//! challenge with `realm`, and `error`, `error_description` (and `scope`
//! for `insufficient_scope`) unless the request had no token at all
//! (§3.1: then the challenge says nothing more). The body is the usual
//! JSON error, or empty when there was no token.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use super::{no_store, wire_description, Body, OAuthError};

/// The realm of authd's challenges, as the resource servers' (see
/// `authd_resource`).
const REALM: &str = "authd";

/// The response for a Bearer error; `None` for every other error.
pub(super) fn response(e: &OAuthError) -> Option<HttpResponse> {
    let scope = match e {
        OAuthError::NoToken => {
            let challenge = format!(r#"Bearer realm="{REALM}""#);
            return Some(finish(HttpResponse::Unauthorized().finish(), &challenge));
        }
        OAuthError::InvalidToken(_) => None,
        OAuthError::InsufficientScope(scope) => Some(*scope),
        _ => return None,
    };
    // Within RFC 6750 §3's character set (that of RFC 6749's
    // descriptions), so that no quote or backslash ends up in the header.
    let description = wire_description(e.description());
    let mut challenge = format!(
        r#"Bearer realm="{REALM}", error="{}", error_description="{description}""#,
        e.code()
    );
    if let Some(scope) = scope {
        challenge.push_str(&format!(r#", scope="{scope}""#));
    }
    let body = Body {
        error: e.code(),
        error_description: &description,
    };
    let res = HttpResponse::build(e.status_code()).json(body);
    Some(finish(res, &challenge))
}

fn finish(mut res: HttpResponse, challenge: &str) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    no_store(&mut res);
    res
}
