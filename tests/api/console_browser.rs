//! The developer's path through the pages in a real browser: register,
//! sign in, open the console, create a client and see its secret once
//! (a reload or going back does not show it again). Screenshots of each
//! page are saved under target/screenshots/; with `AUTHD_SCREENSHOTS=1`
//! those of the registration, console and secret pages also under
//! docs/screenshots/.

use crate::support::fixtures::{post, role, TestClient};
use crate::support::helpers::{on_every_backend, TestApp};
use crate::support::webdriver::Chrome;

const PASSWORD: &str = "a long passphrase";

#[actix_web::test]
async fn register_sign_in_create_a_client_and_see_its_secret_once() {
    on_every_backend(|db| async move {
        role(&db, "writer", "posts:read posts:write");
        let app = TestApp::spawn_with(
            &db,
            &["--allow-registration", "--registration-roles", "writer"],
        )
        .await;
        let Some(chrome) = Chrome::start(&format!("console-{}", db.label())).await else {
            return;
        };
        let at = |path: &str| format!("[{}] {path}", db.label());

        // The login page links to the registration form.
        chrome.goto(&app.url("/login")).await;
        chrome.screenshot("login").await;
        chrome.click("a[href=\"/register\"]").await;
        assert_eq!(chrome.current_path().await, "/register", "{}", at("link"));
        chrome.fill("username", "dev").await;
        chrome.fill("password", PASSWORD).await;
        chrome.fill("password_confirm", PASSWORD).await;
        chrome.screenshot_for_docs("register", "register").await;
        chrome.click("button[type=submit]").await;

        // Registered: on to sign in, and from there to the console.
        assert_eq!(
            chrome.current_path().await,
            "/login?registered=1&next=%2Fconsole",
            "{}",
            at("after sign-up")
        );
        assert!(
            chrome.source().await.contains("Your account is ready"),
            "{}",
            at("the sign-in page says the account was made")
        );
        chrome.fill("username", "dev").await;
        chrome.fill("password", PASSWORD).await;
        chrome.click("button[type=submit]").await;
        assert_eq!(chrome.current_path().await, "/console", "{}", at("login"));
        let page = chrome.source().await;
        assert!(page.contains("Signed in as <strong>dev</strong>"), "{page}");
        assert!(
            page.contains("<code>posts:read</code>"),
            "the role's scopes"
        );

        // Create a confidential client (the form's default grants:
        // authorization code and refresh token). A scope beyond the
        // user's roles is refused first, with what was typed kept.
        chrome.fill("name", "Blog").await;
        chrome.fill("scope", "posts:read posts:delete").await;
        chrome
            .fill_css("#redirect_uri-1", "https://blog.example/callback")
            .await;
        chrome.click("form.create button[type=submit]").await;
        let refused = chrome.source().await;
        assert!(
            refused.contains("Your roles do not grant posts:delete"),
            "{refused}"
        );
        assert_eq!(chrome.value("#name").await, "Blog");
        chrome.screenshot("console-refused").await;
        chrome.fill("scope", "posts:read posts:write").await;
        chrome.screenshot_for_docs("console", "console").await;
        chrome.click("form.create button[type=submit]").await;
        let client_page = chrome.current_path().await;
        assert!(
            client_page.starts_with("/console/clients/"),
            "{}",
            at(&client_page)
        );
        let client_id = chrome.text("#client_id").await;
        assert_eq!(format!("/console/clients/{client_id}"), client_page);
        let secret = chrome.value("#client_secret").await;
        assert_eq!(secret.len(), 43, "{}", at("the secret is shown"));
        assert!(!chrome.current_url().await.contains(&secret));
        chrome.screenshot_for_docs("secret", "client-secret").await;
        let c = TestClient {
            id: client_id.clone(),
            secret: Some(secret.clone()),
        };
        let r = post(&app, "/oauth/introspect", Some(&c), &[("token", "x")]).await;
        assert_eq!(
            r.status,
            200,
            "{}: the secret works: {}",
            at("secret"),
            r.raw
        );

        // Once: not after a reload, nor after going away and back.
        chrome.refresh().await;
        assert_eq!(chrome.current_path().await, client_page);
        let again = chrome.source().await;
        assert!(!again.contains(&secret), "{}", at("reload"));
        assert!(chrome.find("#client_secret").await.is_none());
        chrome.goto(&app.url("/console")).await;
        let list = chrome.source().await;
        assert!(list.contains(&client_id) && list.contains("Blog"));
        assert!(!list.contains(&secret));
        chrome.screenshot("console-list").await;
        chrome.back().await;
        assert_eq!(chrome.current_path().await, client_page, "{}", at("back"));
        assert!(!chrome.source().await.contains(&secret), "{}", at("back"));
        // The start page leads back to the console.
        chrome.goto(&app.url("/")).await;
        chrome.screenshot("home").await;
        chrome.click("a[href=\"/console\"]").await;
        assert_eq!(chrome.current_path().await, "/console", "{}", at("home"));
        drop(chrome);
        app.stop().await;
    })
    .await;
}
