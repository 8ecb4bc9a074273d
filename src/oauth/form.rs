//! Reading an `application/x-www-form-urlencoded` request body (RFC 6749
//! §3.2) with the protocol's rules: bounded size, strictly UTF-8 values
//! (Appendix B; see [`super::urlencoded`]), no repeated parameter (§3.1),
//! and an empty value counts as absent (§3.1).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use super::error::OAuthError;
use super::urlencoded::{self, NotUtf8};
use crate::redact::known_param;

/// Largest accepted body: token requests are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// The parameters of a form body.
#[derive(Default)]
pub struct Form {
    params: HashMap<String, String>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::redact::form_debug(f, self.params.keys().map(String::as_str))
    }
}

impl Form {
    /// Reads and parses the body of a protocol POST.
    pub async fn read(req: &HttpRequest, mut payload: web::Payload) -> Result<Form, OAuthError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::InvalidRequest(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| {
                OAuthError::InvalidRequest("the request body could not be read".into())
            })?;
            if body.len() + chunk.len() > MAX_BODY {
                return Err(OAuthError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Form::parse(&body)
    }

    /// Parses a form body. Values are decoded strictly: one whose
    /// percent-decoding is not UTF-8 (Appendix B) is `invalid_request`.
    pub fn parse(body: &[u8]) -> Result<Form, OAuthError> {
        let mut params = HashMap::new();
        for pair in urlencoded::pairs(body) {
            let (key, value) = pair.map_err(|NotUtf8| {
                OAuthError::InvalidRequest(
                    "every parameter must be UTF-8 once percent-decoded".into(),
                )
            })?;
            // No legitimate parameter holds a NUL, and PostgreSQL text
            // cannot store one: refuse it here rather than fail later.
            if key.contains('\0') || value.contains('\0') {
                return Err(OAuthError::InvalidRequest(
                    "parameters must not contain NUL characters".into(),
                ));
            }
            if params.contains_key(&key) {
                // Name only parameters we know: an unknown "name" may be a
                // secret sent without its "=".
                return Err(OAuthError::InvalidRequest(match known_param(&key) {
                    Some(name) => format!("parameter '{name}' is repeated"),
                    None => "a parameter is repeated".into(),
                }));
            }
            params.insert(key, value);
        }
        Ok(Form { params })
    }

    /// The parameter's value; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The parameter's value, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::InvalidRequest(format!("missing parameter '{name}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameter_is_invalid_request() {
        let err = Form::parse(b"grant_type=password&scope=a&scope=b").unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }

    #[test]
    fn nul_is_invalid_request() {
        assert_eq!(
            Form::parse(b"username=a%00b").unwrap_err().code(),
            "invalid_request"
        );
    }

    #[test]
    fn value_not_utf8_once_decoded_is_invalid_request() {
        for body in [
            &b"password=pass%FEword"[..],
            b"pass%FEword=x",
            b"password=\xff",
        ] {
            let err = Form::parse(body).unwrap_err();
            assert_eq!(err.code(), "invalid_request", "{body:?}");
        }
    }

    #[test]
    fn decodes_and_treats_empty_as_absent() {
        let f = Form::parse(b"username=al%20ice&password=a+b&scope=").unwrap();
        assert_eq!(f.get("username"), Some("al ice"));
        assert_eq!(f.get("password"), Some("a b"));
        assert_eq!(f.get("scope"), None);
        assert!(f.require("scope").is_err());
    }
}
