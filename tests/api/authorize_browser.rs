//! The authorization code flow in a real browser (RFC 6749 §4.1 with
//! RFC 7636 PKCE): a client app sends the browser to `/oauth/authorize`,
//! the user signs in and allows, the browser lands on the app's redirect
//! endpoint (a local listener) with a code, and the app exchanges it with
//! the `oauth2` crate. Denying lands there with `access_denied`.
//! Screenshots of the login and consent pages go to target/screenshots/.

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};

use crate::support::callback::Callback;
use crate::support::fixtures::{role, user, verify_with_jwks, ClientSpec};
use crate::support::helpers::{on_every_backend, TestApp};
use crate::support::webdriver::Chrome;

/// One parameter of the redirect; panics when absent.
fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

#[actix_web::test]
async fn authorize_sign_in_allow_and_exchange_the_code_with_pkce_or_deny() {
    on_every_backend(|db| async move {
        let at = |what: &str| format!("[{}] {what}", db.label());
        let callback = Callback::start();
        let redirect_uri = callback.redirect_uri();
        role(&db, "writer", "posts:read posts:write");
        let alice = user(&db, "alice", "correct horse", &["writer"]);
        let c = ClientSpec::new(&db)
            .name("Blog")
            .grants(&["authorization_code", "refresh_token"])
            .scopes("posts:read posts:write posts:delete")
            .redirect_uri(&redirect_uri)
            .create();
        let app = TestApp::spawn(&db).await;
        let Some(chrome) = Chrome::start(&format!("authorize-{}", db.label())).await else {
            return;
        };
        let client = BasicClient::new(ClientId::new(c.id.clone()))
            .set_client_secret(ClientSecret::new(c.secret.clone().expect("confidential")))
            .set_auth_uri(AuthUrl::new(app.url("/oauth/authorize")).expect("auth URL"))
            .set_token_uri(TokenUrl::new(app.url("/oauth/token")).expect("token URL"))
            .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).expect("redirect URL"));

        // The app asks for more than alice's roles grant: the consent
        // page and the token carry only what is left.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("posts:read".into()))
            .add_scope(Scope::new("posts:write".into()))
            .add_scope(Scope::new("posts:delete".into()))
            .set_pkce_challenge(challenge)
            .url();

        // Not signed in: the login form, which comes back to the request.
        chrome.goto(url.as_str()).await;
        let login = chrome.current_path().await;
        assert!(login.starts_with("/login?next="), "{}", at(&login));
        chrome.screenshot("login").await;
        chrome.sign_in("alice", "correct horse").await;

        // The consent page: who asks, for what in words, where it goes.
        let consent = chrome.current_path().await;
        assert!(consent.starts_with("/oauth/authorize?"), "{}", at(&consent));
        let page = chrome.source().await;
        for needle in [
            "Authorize Blog",
            "<strong>alice</strong>",
            "See your posts <code>posts:read</code>",
            "Create and change your posts <code>posts:write</code>",
            &format!("sent back to <strong>{}</strong>", callback.origin()),
        ] {
            assert!(
                page.contains(needle),
                "{}: no {needle} in {page}",
                at("consent")
            );
        }
        assert!(!page.contains("posts:delete"), "{}", at("not granted"));
        chrome.screenshot("consent").await;
        assert!(callback.seen().is_empty(), "{}", at("nothing sent yet"));

        // Allow: the browser lands on the app with a code and the state.
        chrome
            .click("button[name=\"decision\"][value=\"allow\"]")
            .await;
        let landed = chrome.current_url().await;
        assert!(
            landed.starts_with(&format!("{redirect_uri}?")),
            "{}",
            at(&landed)
        );
        let pairs = callback.nth(0);
        assert_eq!(param(&pairs, "state"), state.secret(), "{}", at("state"));
        let code = param(&pairs, "code").to_string();
        assert!(landed.contains(&code), "{}", at("the browser's URL"));

        // The app exchanges it with its verifier.
        let tok = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(verifier)
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", at("exchange")));
        let scopes: Vec<&str> = tok
            .scopes()
            .expect("the granted scope")
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(scopes, ["posts:read", "posts:write"], "{}", at("scope"));
        let (header, claims) =
            verify_with_jwks(&app, tok.access_token().secret(), &app.issuer).await;
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(claims["sub"], alice.as_str(), "{}", at("sub"));
        assert_eq!(claims["client_id"], c.id.as_str());
        assert_eq!(
            claims["scope"],
            "posts:read posts:write",
            "{}",
            at("claims")
        );

        // The refresh token works, and rotates.
        let refresh = tok.refresh_token().expect("a refresh token").clone();
        let next = client
            .exchange_refresh_token(&refresh)
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", at("refresh")));
        let (_, refreshed) =
            verify_with_jwks(&app, next.access_token().secret(), &app.issuer).await;
        assert_eq!(refreshed["scope"], "posts:read posts:write");
        assert_eq!(refreshed["sub"], alice.as_str());
        let new_refresh = next.refresh_token().expect("a new refresh token");
        assert_ne!(new_refresh.secret(), refresh.secret(), "{}", at("rotation"));

        // The code was single-use.
        let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
        match client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(other_verifier)
            .request_async(&app.http)
            .await
        {
            Err(RequestTokenError::ServerResponse(e)) => {
                assert_eq!(
                    *e.error(),
                    BasicErrorResponseType::InvalidGrant,
                    "{}",
                    at("reuse")
                )
            }
            other => panic!("{}: a second exchange: {other:?}", at("reuse")),
        }

        // Deny: signed in now, so straight to consent (asked for again:
        // it is remembered since the allow); the app gets access_denied
        // with its state, and no code.
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("posts:read".into()))
            .add_extra_param("prompt", "consent")
            .set_pkce_challenge(challenge)
            .url();
        chrome.goto(url.as_str()).await;
        let consent = chrome.current_path().await;
        assert!(consent.starts_with("/oauth/authorize?"), "{}", at(&consent));
        chrome
            .click("button[name=\"decision\"][value=\"deny\"]")
            .await;
        let landed = chrome.current_url().await;
        assert!(
            landed.starts_with(&format!("{redirect_uri}?")),
            "{}",
            at(&landed)
        );
        let pairs = callback.nth(1);
        assert_eq!(param(&pairs, "error"), "access_denied", "{}", at("deny"));
        assert_eq!(param(&pairs, "state"), state.secret(), "{}", at("deny"));
        assert!(
            pairs.iter().all(|(n, _)| n != "code"),
            "{}: {pairs:?}",
            at("deny")
        );

        drop(chrome);
        app.stop().await;
    })
    .await;
}
