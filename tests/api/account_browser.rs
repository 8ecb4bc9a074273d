//! The account page in a real browser, with a relying party nobody here
//! wrote (the `openidconnect` crate): headless Chromium signs in through
//! the login and consent pages of an OpenID Connect authorization-code
//! flow, the relying party verifies the ID token and keeps a refresh
//! token; then the user opens `/account`, sees the app and revokes it.
//! The relying party's refresh is then `invalid_grant`, and asking again
//! shows the consent page. Screenshots go to target/screenshots/; with
//! `AUTHD_SCREENSHOTS=1` those of the login, consent and account pages
//! also to docs/screenshots/.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};

use crate::support::callback::Callback;
use crate::support::code_flow::{code_for, logged_in, param, pkce, request, REDIRECT};
use crate::support::fixtures::{role, user, ClientSpec};
use crate::support::helpers::{on_every_backend, TestApp};
use crate::support::webdriver::Chrome;

const SCOPES: &str = "openid profile posts:read";

#[actix_web::test]
async fn sign_in_with_openid_connect_then_revoke_the_app_on_the_account_page() {
    on_every_backend(|db| async move {
        let at = |what: &str| format!("[{}] {what}", db.label());
        let callback = Callback::start();
        role(&db, "member", SCOPES);
        let alice = user(&db, "alice", "correct horse", &["member"]);
        let blog = ClientSpec::new(&db)
            .name("Blog")
            .grants(&["authorization_code", "refresh_token"])
            .scopes(SCOPES)
            .redirect_uri(&callback.redirect_uri())
            .create();
        // Another app alice allowed, from her phone (a second session).
        let photos = ClientSpec::new(&db)
            .name("Photo album")
            .grants(&["authorization_code"])
            .scopes("openid posts:read")
            .redirect_uri(REDIRECT)
            .create();
        let app = TestApp::spawn(&db).await;
        let Some(chrome) = Chrome::start(&format!("account-{}", db.label())).await else {
            return;
        };
        let phone = logged_in(&app, "alice").await;
        let p = pkce();
        let scope = [("scope", "openid posts:read")];
        code_for(&phone, &request(&photos.id, &p.challenge, &scope)).await;

        let meta = CoreProviderMetadata::discover_async(
            IssuerUrl::new(app.issuer.clone()).expect("issuer URL"),
            &app.http,
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", at("discovery")));
        let rp = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(blog.id.clone()),
            Some(ClientSecret::new(
                blog.secret.clone().expect("confidential"),
            )),
        )
        .set_redirect_uri(RedirectUrl::new(callback.redirect_uri()).expect("redirect URL"));
        let authorize = || {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, state, nonce) = rp
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    CsrfToken::new_random,
                    Nonce::new_random,
                )
                .add_scope(Scope::new("profile".into()))
                .add_scope(Scope::new("posts:read".into()))
                .set_pkce_challenge(challenge)
                .url();
            (url, state, nonce, verifier)
        };

        // Not signed in here: the login page, then the consent page.
        let (url, state, nonce, verifier) = authorize();
        chrome.goto(url.as_str()).await;
        chrome.screenshot_for_docs("login", "login").await;
        chrome.sign_in("alice", "correct horse").await;
        // Back to the request: its consent page.
        let (consent, page) = (chrome.current_path().await, chrome.source().await);
        assert!(consent.starts_with("/oauth/authorize?"), "{}", at(&consent));
        for needle in [
            "Authorize Blog",
            "Confirm who you are <code>openid</code>",
            "See your profile <code>profile</code>",
            "See your posts <code>posts:read</code>",
        ] {
            assert!(page.contains(needle), "{}: no {needle}", at("consent"));
        }
        chrome.screenshot_for_docs("consent", "consent").await;
        chrome
            .click("button[name=\"decision\"][value=\"allow\"]")
            .await;

        // The relying party takes the code and verifies the ID token.
        let pairs = callback.nth(0);
        assert_eq!(&param(&pairs, "state"), state.secret(), "{}", at("state"));
        let tokens = rp
            .exchange_code(AuthorizationCode::new(param(&pairs, "code")))
            .expect("a token endpoint")
            .set_pkce_verifier(verifier)
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", at("exchange")));
        let id_token = tokens.id_token().expect("an ID token");
        let claims = id_token
            .claims(&rp.id_token_verifier(), &nonce)
            .unwrap_or_else(|e| panic!("{}: {e:?}", at("the ID token")));
        assert_eq!(claims.subject().as_str(), alice, "{}", at("sub"));
        let refresh = tokens.refresh_token().expect("a refresh token").clone();

        // The account page: both apps, both sessions.
        chrome.goto(&app.url("/")).await;
        chrome.click("a[href=\"/account\"]").await;
        assert_eq!(chrome.current_path().await, "/account", "{}", at("link"));
        let page = chrome.source().await;
        for needle in [
            "<strong>Blog</strong>",
            "<strong>Photo album</strong>",
            &format!("<code>{}</code>", blog.id),
            "See your profile <code>profile</code>",
            "This browser",
        ] {
            assert!(page.contains(needle), "{}: no {needle}", at("account"));
        }
        let sessions = page.matches(r#"<tr class="sign-in">"#).count();
        assert_eq!(sessions, 2, "{}", at("this browser and the phone"));
        chrome.screenshot_for_docs("account", "account").await;

        // Revoke Blog: back on the page, which says so.
        let button = format!(
            "form[action=\"/account/revoke\"]:has(input[value=\"{}\"]) button",
            blog.id
        );
        chrome.click(&button).await;
        assert_eq!(
            chrome.current_path().await,
            format!("/account?revoked={}", blog.id),
            "{}",
            at("after the revoke")
        );
        let page = chrome.source().await;
        assert!(
            page.contains("<strong>Blog</strong> no longer has access"),
            "{}",
            at("the notice")
        );
        assert!(!page.contains(&format!("value=\"{}\"", blog.id)));
        assert!(page.contains("<strong>Photo album</strong>"));
        chrome.screenshot("account-revoked").await;

        // The relying party's refresh token is dead.
        let refused = rp
            .exchange_refresh_token(&refresh)
            .expect("a token endpoint")
            .request_async(&app.http)
            .await;
        assert!(
            matches!(&refused, Err(RequestTokenError::ServerResponse(e))
                if *e.error() == CoreErrorResponseType::InvalidGrant),
            "{}: {refused:?}",
            at("a refresh after the revoke")
        );
        // Signing in again asks again.
        let (url, ..) = authorize();
        chrome.goto(url.as_str()).await;
        let again = chrome.current_path().await;
        assert!(again.starts_with("/oauth/authorize?"), "{}", at(&again));
        assert!(chrome.source().await.contains("Authorize Blog"));
        let redirects = callback
            .seen()
            .iter()
            .filter(|t| t.starts_with("/cb?"))
            .count();
        assert_eq!(redirects, 1, "{}", at("no code without consent"));

        drop(chrome);
        app.stop().await;
    })
    .await;
}
