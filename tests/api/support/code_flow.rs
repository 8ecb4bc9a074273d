//! Helpers for the authorization code tests: the authorization request,
//! a browser that logs in and answers the consent page, and the code
//! exchange.

use oauth2::{PkceCodeChallenge, PkceCodeVerifier};

use crate::support::browser::{csrf_token, Browser};
use crate::support::fixtures::{post, reply, role, user, ClientSpec, Reply, TestClient};
use crate::support::helpers::{TestApp, TestDb};

/// The redirect URI the test clients register.
pub const REDIRECT: &str = "https://app.example/cb";

/// The state every request sends, with characters that need encoding.
pub const STATE: &str = "xyz/=&+ state";

/// A PKCE pair (RFC 7636), S256.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let (challenge, verifier): (PkceCodeChallenge, PkceCodeVerifier) =
        PkceCodeChallenge::new_random_sha256();
    Pkce {
        verifier: verifier.secret().to_string(),
        challenge: challenge.as_str().to_string(),
    }
}

/// role writer (posts:read posts:write), alice with it; a confidential
/// client for authorization_code + refresh_token with posts:read
/// posts:write posts:delete and [`REDIRECT`].
pub fn setup(db: &TestDb) -> TestClient {
    role(db, "writer", "posts:read posts:write");
    user(db, "alice", "correct horse", &["writer"]);
    ClientSpec::new(db)
        .grants(&["authorization_code", "refresh_token"])
        .scopes("posts:read posts:write posts:delete")
        .redirect_uri(REDIRECT)
        .create()
}

/// `/oauth/authorize?...` with `pairs` encoded into the query.
pub fn authorize_path(pairs: &[(&str, &str)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/oauth/authorize?{query}")
}

/// A complete authorization request for `client_id` with `challenge`,
/// then `extra` parameters.
pub fn request(client_id: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    request_without(client_id, challenge, "", extra)
}

/// [`request`] without the parameter `drop`, then `extra` (which may
/// put it back with another value).
pub fn request_without(
    client_id: &str,
    challenge: &str,
    drop: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", STATE),
    ];
    pairs.retain(|(n, _)| *n != drop);
    pairs.extend_from_slice(extra);
    authorize_path(&pairs)
}

/// The query parameters of a redirect's `Location`, which must go to
/// `REDIRECT`.
pub fn redirected(r: &Reply) -> Vec<(String, String)> {
    assert_eq!(r.status, 302, "a redirect to the client: {}", r.raw);
    let location = r.header("location").expect("a Location");
    let url = url::Url::parse(location).expect("an absolute Location");
    assert_eq!(
        format!("{}{}", url.origin().ascii_serialization(), url.path()),
        REDIRECT,
        "{location}"
    );
    url.query_pairs().into_owned().collect()
}

/// One parameter of a redirect to the client; panics when absent.
pub fn param(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

/// Asserts a redirect to the client with `error` and the original state.
pub fn assert_redirected_error(r: &Reply, error: &str) {
    let pairs = redirected(r);
    assert_eq!(param(&pairs, "error"), error, "{pairs:?}");
    assert_eq!(param(&pairs, "state"), STATE, "{pairs:?}");
    assert!(!param(&pairs, "error_description").is_empty());
    // Only RFC 6749's names: no code, no `description`.
    for absent in ["code", "description", "uri"] {
        assert!(pairs.iter().all(|(n, _)| n != absent), "{pairs:?}");
    }
}

/// Asserts an HTML error page that redirects nowhere.
pub fn assert_not_redirected(r: &Reply, says: &str) {
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(
        r.header("location").is_none(),
        "redirected: {:?}",
        r.headers
    );
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        r.headers
    );
    assert!(r.raw.contains(says), "{}", r.raw);
}

/// A browser logged in as `username`.
pub async fn logged_in(app: &TestApp, username: &str) -> Browser {
    let browser = Browser::new(app);
    let r = browser.log_in(username, "correct horse").await;
    assert_eq!(r.status, 303, "login: {}", r.raw);
    browser
}

/// Opens the consent page of `path` (logged in) and returns it with its
/// CSRF token.
pub async fn consent_page(browser: &Browser, path: &str) -> (Reply, String) {
    let page = browser.get(path).await;
    assert_eq!(page.status, 200, "the consent page: {}", page.raw);
    let token = csrf_token(&page.raw).expect("the consent form has a csrf_token");
    (page, token)
}

/// Answers the consent page of `path` with `decision`.
pub async fn decide(browser: &Browser, path: &str, decision: &str) -> Reply {
    let (_, token) = consent_page(browser, path).await;
    browser
        .post(path, &[("csrf_token", &token), ("decision", decision)])
        .await
}

/// Allows on the consent page, or takes the code at once when consent is
/// remembered, and returns the code from the redirect.
pub async fn code_for(browser: &Browser, path: &str) -> String {
    let first = browser.get(path).await;
    let r = match first.status {
        302 => first,
        _ => decide(browser, path, "allow").await,
    };
    let pairs = redirected(&r);
    assert_eq!(param(&pairs, "state"), STATE);
    param(&pairs, "code")
}

/// `grant_type=authorization_code`, with HTTP Basic for a confidential
/// client and `client_id` in the body for a public one.
pub async fn exchange(
    app: &TestApp,
    c: &TestClient,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    if c.secret.is_none() {
        form.push(("client_id", &c.id));
        return reply(
            app.http
                .post(app.url("/oauth/token"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
    }
    post(app, "/oauth/token", Some(c), &form).await
}

/// `grant_type=refresh_token` for a confidential client.
pub async fn refresh(app: &TestApp, c: &TestClient, token: &str) -> Reply {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
    post(app, "/oauth/token", Some(c), &form).await
}

/// Signs `browser` in to `c` with the code flow for `scope` (which should
/// hold `openid`) and returns the ID token of the exchange.
pub async fn id_token_for(app: &TestApp, browser: &Browser, c: &TestClient, scope: &str) -> String {
    let p = pkce();
    let path = request(&c.id, &p.challenge, &[("scope", scope)]);
    let code = code_for(browser, &path).await;
    let r = exchange(app, c, &code, REDIRECT, &p.verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("an id_token: {}", r.raw))
        .to_string()
}
