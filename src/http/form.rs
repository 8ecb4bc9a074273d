//! Reading an `application/x-www-form-urlencoded` request body (RFC 6749
//! §3.2) with the protocol's rules: bounded size, strictly UTF-8 values
//! (Appendix B; see [`super::urlencoded`]), no repeated parameter (§3.1),
//! and an empty value counts as absent (§3.1). Its refusals are
//! [`FormError`]s, which the protocol answers as `invalid_request` and the
//! pages as a 400.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use super::urlencoded::{self, NotUtf8};
use crate::redact::known_param;

/// Largest accepted body: token requests are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Why a form was refused; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// Another content type.
    #[error("the body must be application/x-www-form-urlencoded")]
    NotForm,
    /// The body could not be read (the client went away, say).
    #[error("the request body could not be read")]
    Unreadable,
    /// Over [`MAX_BODY`].
    #[error("the request body is too large")]
    TooLarge,
    /// A name or value not UTF-8 once percent-decoded.
    #[error("every parameter must be UTF-8 once percent-decoded")]
    NotUtf8,
    /// A NUL in a name or value.
    #[error("parameters must not contain NUL characters")]
    Nul,
    /// A parameter sent twice: its name when it is one we know (an
    /// unknown "name" may be a secret sent without its "=").
    #[error("{}", match .0 { Some(name) => format!("parameter '{name}' is repeated"), None => "a parameter is repeated".into() })]
    Repeated(Option<&'static str>),
    /// A required parameter absent or empty.
    #[error("missing parameter '{0}'")]
    Missing(String),
}

/// The bytes of an `application/x-www-form-urlencoded` body of at most
/// [`MAX_BODY`] bytes: what every form reader starts with.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<web::BytesMut, FormError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(FormError::NotForm);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| FormError::Unreadable)?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FormError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

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
    pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Form, FormError> {
        Form::parse(&read_body(req, payload).await?)
    }

    /// Parses a form body. Values are decoded strictly: one whose
    /// percent-decoding is not UTF-8 (Appendix B) is refused.
    pub fn parse(body: &[u8]) -> Result<Form, FormError> {
        let mut params = HashMap::new();
        for pair in urlencoded::pairs(body) {
            let (key, value) = pair.map_err(|NotUtf8| FormError::NotUtf8)?;
            // No legitimate parameter holds a NUL, and PostgreSQL text
            // cannot store one: refuse it here rather than fail later.
            if key.contains('\0') || value.contains('\0') {
                return Err(FormError::Nul);
            }
            if params.contains_key(&key) {
                return Err(FormError::Repeated(known_param(&key)));
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

    /// The parameter's value, or a refusal naming it.
    pub fn require(&self, name: &str) -> Result<&str, FormError> {
        self.get(name)
            .ok_or_else(|| FormError::Missing(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_parameter_is_refused_by_name_when_known() {
        let err = Form::parse(b"grant_type=password&scope=a&scope=b").unwrap_err();
        assert_eq!(err, FormError::Repeated(Some("scope")));
        assert_eq!(err.to_string(), "parameter 'scope' is repeated");
        let err = Form::parse(b"s3cr3t&s3cr3t").unwrap_err();
        assert_eq!(err.to_string(), "a parameter is repeated");
    }

    #[test]
    fn nul_is_refused() {
        assert_eq!(Form::parse(b"username=a%00b").unwrap_err(), FormError::Nul);
    }

    #[test]
    fn a_value_not_utf8_once_decoded_is_refused() {
        for body in [
            &b"password=pass%FEword"[..],
            b"pass%FEword=x",
            b"password=\xff",
        ] {
            assert_eq!(
                Form::parse(body).unwrap_err(),
                FormError::NotUtf8,
                "{body:?}"
            );
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
