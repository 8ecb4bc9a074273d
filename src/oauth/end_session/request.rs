//! What a logout request asks (RP-Initiated Logout 1.0 §2, §3), and what
//! to do about it: which app asks (by a valid `id_token_hint`, or by
//! `client_id`, which must then agree with the hint), whether the user
//! must confirm, and where the browser goes afterwards.

use url::Url;

use super::hint::Hint;
use crate::db::clients::Client;
use crate::http::form::Form;
use crate::redirect_uri;

/// The request's parameters, from the query (GET) or the form (POST).
#[derive(Debug, Default)]
pub struct Asked {
    /// `id_token_hint`: an ID token of ours, maybe expired.
    pub id_token_hint: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `post_logout_redirect_uri`.
    pub post_logout_redirect_uri: Option<String>,
    /// `state`, handed back with the redirect.
    pub state: Option<String>,
    /// `csrf_token`: sent only by our own confirmation form.
    pub csrf_token: Option<String>,
}

impl Asked {
    /// The parameters of a form (a repeated one was refused when the form
    /// was read).
    pub fn of(form: &Form) -> Asked {
        let get = |name: &str| form.get(name).map(str::to_string);
        Asked {
            id_token_hint: get("id_token_hint"),
            client_id: get("client_id"),
            post_logout_redirect_uri: get("post_logout_redirect_uri"),
            state: get("state"),
            csrf_token: get("csrf_token"),
        }
    }
}

/// Why a logout request is refused outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `client_id` names another app than the hint's `aud` (§2: "the OP
    /// MUST verify that it matches").
    ClientMismatch,
}

/// The app a request speaks for: the valid hint's `aud`, or `client_id`
/// without one; both present must agree.
pub fn asking_client(
    hint: Option<&Hint>,
    client_id: Option<&str>,
) -> Result<Option<String>, Refused> {
    match (hint, client_id) {
        (Some(hint), Some(id)) if hint.client_id != id => Err(Refused::ClientMismatch),
        (Some(hint), _) => Ok(Some(hint.client_id.clone())),
        (None, id) => Ok(id.map(str::to_string)),
    }
}

/// Where the browser goes afterwards: `post_logout_redirect_uri` with
/// `state`, only if the identified `client` registered exactly that URI
/// and it still meets the redirect URI rule (§3: "MUST NOT perform
/// post-logout redirection" otherwise). `None`: our own page.
pub fn destination(client: Option<&Client>, asked: &Asked) -> Option<Url> {
    let (client, uri) = (client?, asked.post_logout_redirect_uri.as_deref()?);
    let registered = client
        .post_logout_redirect_uri_list()
        .iter()
        .any(|u| u == uri);
    if !registered || redirect_uri::check(uri).is_err() {
        return None;
    }
    let mut url = Url::parse(uri).ok()?;
    if let Some(state) = &asked.state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Some(url)
}

/// Whether a valid hint names the browser's own session: its user, and
/// (when it names one) its `sid`. Only then is no confirmation needed
/// (§2: the OP MUST ask when the hint is missing or names another
/// session or user).
pub fn names_session(hint: Option<&Hint>, user_id: &str, sid: &str) -> bool {
    hint.is_some_and(|h| h.user_id == user_id && h.sid.as_deref().is_none_or(|s| s == sid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(client: &str, sid: Option<&str>) -> Hint {
        Hint {
            user_id: "u".into(),
            client_id: client.into(),
            sid: sid.map(str::to_string),
        }
    }

    fn client(uris: &str) -> Client {
        Client {
            client_id: "c".into(),
            post_logout_redirect_uris: uris.into(),
            ..Client::default()
        }
    }

    #[test]
    fn the_client_is_the_hints_and_client_id_must_agree() {
        let h = hint("c", None);
        assert_eq!(asking_client(Some(&h), None), Ok(Some("c".into())));
        assert_eq!(asking_client(Some(&h), Some("c")), Ok(Some("c".into())));
        assert_eq!(
            asking_client(Some(&h), Some("other")),
            Err(Refused::ClientMismatch)
        );
        assert_eq!(asking_client(None, Some("x")), Ok(Some("x".into())));
        assert_eq!(asking_client(None, None), Ok(None));
    }

    #[test]
    fn only_a_registered_uri_is_a_destination() {
        let c = client("https://app.example/bye https://app.example/x?a=1");
        let asked = |uri: &str| Asked {
            post_logout_redirect_uri: Some(uri.into()),
            state: Some("s t&".into()),
            ..Asked::default()
        };
        let to = destination(Some(&c), &asked("https://app.example/x?a=1")).unwrap();
        assert_eq!(to.as_str(), "https://app.example/x?a=1&state=s+t%26");
        assert!(destination(Some(&c), &asked("https://app.example/bye/")).is_none());
        assert!(destination(Some(&c), &asked("https://evil.example/bye")).is_none());
        assert!(destination(None, &asked("https://app.example/bye")).is_none());
        // Stored under a looser rule: never a destination.
        let old = client("javascript:alert(1)");
        assert!(destination(Some(&old), &asked("javascript:alert(1)")).is_none());
    }

    #[test]
    fn a_hint_names_the_session_by_user_and_sid() {
        assert!(names_session(Some(&hint("c", Some("s"))), "u", "s"));
        assert!(names_session(Some(&hint("c", None)), "u", "s"));
        assert!(!names_session(Some(&hint("c", Some("t"))), "u", "s"));
        let mut other = hint("c", Some("s"));
        other.user_id = "v".into();
        assert!(!names_session(Some(&other), "u", "s"));
        assert!(!names_session(None, "u", "s"));
    }
}
