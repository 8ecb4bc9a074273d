//! The authorization request's OpenID Connect parameters (Core 1.0
//! §3.1.2.1): `prompt` (`none`, `login`, `consent`), `max_age` and
//! `login_hint`; `nonce` goes with the code (see `checks`). Read by the
//! flow's extension, so that a malformed one is refused with the request's
//! `state` like any other (an error redirect), and applied by the owner
//! solicitor (see `consent`):
//!
//! - a sign-in older than `max_age`, or `prompt=login`, sends the browser
//!   to the login page, which comes back to the request without them (the
//!   login that just happened satisfies both, and they would otherwise
//!   send it round again);
//! - `prompt=none` never shows a page: where the login or the consent page
//!   would be, the client gets `login_required` or `consent_required`
//!   (Core 1.0 §3.1.2.6), redirected with `state` and `iss`; with consent
//!   remembered (see `consent`), a signed-in `prompt=none` gets the code;
//! - `prompt=consent` shows the consent page even when remembered.

use oxide_auth::code_grant::authorization::Request;

use super::flow::{Flow, Owner, Shown};
use super::PATH;
use crate::oauth::error::OAuthError;

/// The longest `login_hint` carried to the login page (a username).
const MAX_HINT: usize = 256;

/// The request's OpenID Connect parameters.
#[derive(Debug, Default, Clone)]
pub struct OpenIdParams {
    /// `prompt=none`.
    pub none: bool,
    /// `prompt=login`.
    pub login: bool,
    /// `prompt=consent`: the consent page even if remembered.
    pub consent: bool,
    /// `max_age`, seconds.
    pub max_age: Option<i64>,
    /// `login_hint`: the username to prefill.
    pub login_hint: Option<String>,
}

impl OpenIdParams {
    /// Reads them from the request; an unknown `prompt` value, `none` with
    /// another, or a `max_age` that is not a non-negative integer is
    /// `invalid_request`.
    pub fn read(request: &dyn Request) -> Result<OpenIdParams, OAuthError> {
        let mut params = OpenIdParams::default();
        if let Some(prompt) = request.extension("prompt") {
            let values: Vec<&str> = prompt.split(' ').filter(|v| !v.is_empty()).collect();
            for value in &values {
                match *value {
                    "none" => params.none = true,
                    "login" => params.login = true,
                    "consent" => params.consent = true,
                    _ => {
                        return Err(OAuthError::InvalidRequest(
                            "prompt takes none, login or consent".into(),
                        ))
                    }
                }
            }
            if params.none && values.len() > 1 {
                return Err(OAuthError::InvalidRequest(
                    "prompt=none cannot be combined with another value".into(),
                ));
            }
        }
        if let Some(max_age) = request.extension("max_age") {
            let seconds = max_age
                .parse::<u32>()
                .map_err(|_| OAuthError::InvalidRequest("max_age must be whole seconds".into()))?;
            params.max_age = Some(i64::from(seconds));
        }
        params.login_hint = request
            .extension("login_hint")
            .filter(|h| !h.is_empty() && h.len() <= MAX_HINT)
            .map(|h| h.into_owned());
        Ok(params)
    }
}

impl Flow<'_> {
    /// Whether the signed-in `owner` must enter their password again first.
    pub(super) fn needs_login(&self, owner: &Owner) -> bool {
        let params = self.openid.borrow();
        let too_old = params
            .max_age
            .is_some_and(|max| self.now - owner.session.auth_time > max);
        params.login || too_old
    }

    /// `prompt=none`.
    pub(super) fn silent(&self) -> bool {
        self.openid.borrow().none
    }

    /// The login page, and where it comes back to.
    pub(super) fn login(&self) -> Shown {
        Shown::Login {
            back: after_login(&self.here),
            hint: self.openid.borrow().login_hint.clone(),
        }
    }

    /// A `prompt=none` refusal (Core 1.0 §3.1.2.6), redirected to the
    /// client with the request's `state` where errors may be (see
    /// `errors`), else shown on authd's page.
    pub(super) fn silent_refusal(&self, error: &'static str, state: Option<String>) -> Shown {
        if !self.may_redirect_errors() {
            return Shown::NotRedirected(match error {
                "login_required" => {
                    "The application asked to sign you in without a page \
                                     (prompt=none), but you are not signed in."
                }
                _ => {
                    "The application asked to sign you in without a page (prompt=none), \
                      but it needs your consent."
                }
            });
        }
        let description = match error {
            "login_required" => "the user is not signed in",
            _ => "the user has not consented to this client",
        };
        let Some(uri) = self.redirect_uri.borrow().clone() else {
            return Shown::NotRedirected("The request has no redirect_uri.");
        };
        match url::Url::parse(&uri) {
            Ok(mut url) => {
                {
                    let mut query = url.query_pairs_mut();
                    query.append_pair("error", error);
                    query.append_pair("error_description", description);
                    if let Some(state) = state {
                        query.append_pair("state", &state);
                    }
                }
                Shown::Redirect(url)
            }
            Err(_) => Shown::NotRedirected("The request's redirect_uri is not a URL."),
        }
    }
}

/// This request without `prompt=login` and `max_age`: where a login sends
/// the browser back.
fn after_login(here: &str) -> String {
    let query = here.split_once('?').map_or("", |(_, q)| q);
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "max_age" => {}
            "prompt" => {
                let kept: Vec<&str> = value
                    .split(' ')
                    .filter(|v| !v.is_empty() && *v != "login")
                    .collect();
                if !kept.is_empty() {
                    out.append_pair("prompt", &kept.join(" "));
                }
            }
            _ => {
                out.append_pair(&name, &value);
            }
        }
    }
    format!("{PATH}?{}", out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_drops_what_the_login_satisfied() {
        let back = after_login(
            "/oauth/authorize?client_id=a&prompt=login%20consent&max_age=0&state=x%26y",
        );
        assert_eq!(
            back,
            "/oauth/authorize?client_id=a&prompt=consent&state=x%26y"
        );
        assert_eq!(
            after_login("/oauth/authorize?prompt=login&nonce=n"),
            "/oauth/authorize?nonce=n"
        );
    }
}
