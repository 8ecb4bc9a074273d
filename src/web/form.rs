//! Reading the body of an HTML form whose fields may repeat (the
//! console's `grant` and `redirect_uri` checkboxes and rows). The protocol
//! endpoints refuse a repeated parameter (RFC 6749 §3.1) and use
//! [`crate::http::form::Form`]; a browser sends one pair per checked box,
//! so a page form keeps every value, in order. Values are decoded as
//! strictly as the protocol's (valid UTF-8, no NUL) and the body is
//! bounded.

use actix_web::{web, HttpRequest};

use super::error::WebError;
use super::session::Session;
use crate::http::form::{self, FormError};
use crate::http::urlencoded;

/// The fields of a submitted form, in the order sent.
#[derive(Default)]
pub struct PageForm {
    fields: Vec<(String, String)>,
}

/// No `Debug` of the values: a form may carry a password.
impl std::fmt::Debug for PageForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.fields.iter().map(|(name, _)| name))
            .finish()
    }
}

impl PageForm {
    /// Reads an `application/x-www-form-urlencoded` body; anything else,
    /// a body over [`form::MAX_BODY`], or a value that is not UTF-8 is a 400.
    pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<PageForm, WebError> {
        let body = form::read_body(req, payload).await.map_err(|e| match e {
            FormError::NotForm => WebError::BadRequest("a form must be urlencoded"),
            FormError::TooLarge => WebError::BadRequest("the form is too large"),
            _ => WebError::BadRequest("the form could not be read"),
        })?;
        PageForm::parse(&body)
    }

    /// Reads the form of a signed-in page ([`PageForm::read`]), which
    /// must carry `session`'s CSRF token: else [`WebError::Forbidden`].
    pub async fn read_checked(
        req: &HttpRequest,
        payload: web::Payload,
        session: &Session,
    ) -> Result<PageForm, WebError> {
        let form = PageForm::read(req, payload).await?;
        match session.csrf_matches(form.get("csrf_token")) {
            true => Ok(form),
            false => Err(WebError::Forbidden),
        }
    }

    /// Parses a form body.
    pub fn parse(body: &[u8]) -> Result<PageForm, WebError> {
        let mut fields = Vec::new();
        for pair in urlencoded::pairs(body) {
            let (name, value) =
                pair.map_err(|_| WebError::BadRequest("a form value is not UTF-8"))?;
            // PostgreSQL text cannot hold a NUL, and no field needs one.
            if name.contains('\0') || value.contains('\0') {
                return Err(WebError::BadRequest("a form value holds a NUL"));
            }
            fields.push((name, value));
        }
        Ok(PageForm { fields })
    }

    /// The field's first non-empty value.
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// Every non-empty value of the field, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Whether a checkbox of this name was checked (sent at all).
    pub fn checked(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }
}

/// A library message (lower case, no full stop: "user name must be 1 to
/// 64 characters") as a sentence for a form's alert.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_kept_in_order_and_empty_ones_dropped() {
        let f =
            PageForm::parse(b"grant=password&grant=refresh_token&redirect_uri=&public=on").unwrap();
        assert_eq!(
            f.all("grant").collect::<Vec<_>>(),
            ["password", "refresh_token"]
        );
        assert_eq!(f.all("redirect_uri").count(), 0);
        assert_eq!(f.get("grant"), Some("password"));
        assert!(f.checked("public") && !f.checked("other"));
    }

    #[test]
    fn messages_become_sentences() {
        assert_eq!(sentence("name too long"), "Name too long.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn bad_bytes_are_refused() {
        assert!(PageForm::parse(b"name=%FF").is_err());
        assert!(PageForm::parse(b"name=a%00b").is_err());
    }
}
