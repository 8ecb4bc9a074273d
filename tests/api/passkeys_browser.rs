//! Passkeys in a real browser: headless Chromium with a WebDriver virtual
//! authenticator (W3C WebAuthn Level 2 §11) runs authd's own script
//! against the issuer `http://localhost:PORT`. Alice adds a passkey on
//! `/account/security`, renames it, signs out, signs in with it alone
//! (no username, no password), and removes it; then, with a new passkey,
//! she uses it as the second step after her password. ID tokens say what
//! each sign-in used (`amr`, `acr`), and the password grant refuses her
//! once a passkey is her only second factor. Screenshots go to
//! target/screenshots/; with `AUTHD_SCREENSHOTS=1` also to
//! docs/screenshots/.

use serde_json::{json, Value};

use crate::support::callback::Callback;
use crate::support::code_flow::{param, pkce, request_without};
use crate::support::fixtures::{password_grant, post, role, user, ClientSpec, TestClient};
use crate::support::helpers::{on_every_backend, TestApp};
use crate::support::webdriver::Chrome;

/// The claims of the ID token that a code flow in `chrome` (signed in)
/// gets for `c`, whose redirect URI is `callback`'s.
async fn id_claims(
    app: &TestApp,
    chrome: &Chrome,
    (c, callback, n): (&TestClient, &Callback, usize),
) -> Value {
    let p = pkce();
    let redirect = callback.redirect_uri();
    let extra = [("scope", "openid"), ("redirect_uri", redirect.as_str())];
    let path = request_without(&c.id, &p.challenge, "redirect_uri", &extra);
    chrome.goto(&app.url(&path)).await;
    let code = param(&callback.nth(n), "code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", &callback.redirect_uri()),
        ("code_verifier", &p.verifier),
    ];
    let r = post(app, "/oauth/token", Some(c), &form).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let token = r.body["id_token"].as_str().expect("an ID token");
    crate::support::fixtures::verify_with_jwks(app, token, &c.id)
        .await
        .1
}

#[actix_web::test]
async fn a_passkey_is_added_used_alone_and_after_the_password_then_removed() {
    on_every_backend(|db| async move {
        let at = |what: &str| format!("[{}] {what}", db.label());
        role(&db, "member", "openid");
        user(&db, "alice", "correct horse", &["member"]);
        let callback = Callback::start();
        let app_client = ClientSpec::new(&db)
            .name("Notes")
            .grants(&["authorization_code", "password"])
            .scopes("openid")
            .redirect_uri(&callback.redirect_uri())
            .first_party()
            .create();
        let app = TestApp::spawn_on_localhost(&db, &[], authd::clock::Clock::system()).await;
        let Some(chrome) =
            Chrome::start_sized(&format!("passkeys-{}", db.label()), (1200, 1500)).await
        else {
            return;
        };
        let device = chrome.add_authenticator().await;

        // Signed in with the password: the page offers TOTP and passkeys.
        chrome.goto(&app.url("/login?next=/account/security")).await;
        chrome.sign_in("alice", "correct horse").await;
        assert_eq!(
            chrome.current_path().await,
            "/account/security",
            "{}",
            at("page")
        );
        assert!(chrome.source().await.contains("You have no passkey yet."));
        chrome.screenshot_for_docs("security", "security").await;

        // Add one: the browser's authenticator makes a discoverable key.
        chrome.fill_css("#passkey_name", "Test laptop").await;
        chrome.click("#add-passkey").await;
        let page = chrome.source().await;
        assert!(page.contains(r#"value="Test laptop""#), "{}", at("listed"));
        assert_eq!(page.matches(r#"<tr class="passkey">"#).count(), 1);
        let held = chrome.credentials(&device).await;
        assert_eq!(held.len(), 1, "{}", at("one credential"));
        assert_eq!(held[0]["isResidentCredential"], json!(true), "{}", at("rk"));
        assert_eq!(held[0]["rpId"], json!("localhost"), "{}", at("rp id"));

        // Rename it.
        chrome.fill_css("#passkey-name-1", "Work laptop").await;
        chrome.click("form.rename button").await;
        let page = chrome.source().await;
        assert!(page.contains(r#"value="Work laptop""#), "{}", at("renamed"));
        chrome
            .screenshot_for_docs("security-passkey", "security-passkey")
            .await;

        // A passkey alone is not a second factor the password grant can
        // check: refused like a wrong password.
        let r = password_grant(&app, &app_client, &[]).await;
        r.assert_error(400, "invalid_grant");

        // Sign out, then in with the passkey alone.
        chrome.goto(&app.url("/")).await;
        chrome.click("form.session button[type=submit]").await;
        chrome.goto(&app.url("/login")).await;
        assert!(
            chrome.find("#passkey-sign-in").await.is_some(),
            "{}",
            at("button")
        );
        chrome
            .screenshot_for_docs("login-passkey", "login-passkey")
            .await;
        chrome.click("#passkey-sign-in").await;
        assert_eq!(chrome.current_path().await, "/", "{}", at("signed in"));
        assert!(chrome
            .source()
            .await
            .contains("Signed in as <strong>alice</strong>"));
        let claims = id_claims(&app, &chrome, (&app_client, &callback, 0)).await;
        assert_eq!(claims["amr"], json!(["hwk", "user"]), "{}", at("amr"));
        assert_eq!(claims["acr"], json!("urn:authd:acr:mfa"), "{}", at("acr"));
        let used = chrome.credentials(&device).await;
        assert!(used[0]["signCount"].as_u64() > held[0]["signCount"].as_u64());

        // The passkey sign-in is recent and strong: it may remove it.
        chrome.goto(&app.url("/account/security")).await;
        assert!(chrome.source().await.contains("Last used"));
        chrome.click("tr.passkey button.danger").await;
        let page = chrome.source().await;
        assert!(
            page.contains("You have no passkey yet."),
            "{}",
            at("removed")
        );

        // A new passkey, as the second step after the password.
        chrome.fill_css("#passkey_name", "Phone").await;
        chrome.click("#add-passkey").await;
        assert!(chrome.source().await.contains(r#"value="Phone""#));
        chrome.goto(&app.url("/")).await;
        chrome.click("form.session button[type=submit]").await;
        chrome.goto(&app.url("/login?next=/account")).await;
        chrome.sign_in("alice", "correct horse").await;
        assert!(chrome.current_path().await.starts_with("/login/code"));
        let page = chrome.source().await;
        assert!(page.contains("Use your passkey"), "{}", at("offered"));
        assert!(!page.contains(r#"name="code""#), "{}", at("no TOTP form"));
        chrome
            .screenshot_for_docs("login-code-passkey", "login-code-passkey")
            .await;
        chrome.click("#passkey-verify").await;
        assert_eq!(
            chrome.current_path().await,
            "/account",
            "{}",
            at("two factors")
        );
        let claims = id_claims(&app, &chrome, (&app_client, &callback, 1)).await;
        assert_eq!(
            claims["amr"],
            json!(["pwd", "hwk", "user", "mfa"]),
            "{}",
            at("amr")
        );
        assert_eq!(claims["acr"], json!("urn:authd:acr:mfa"), "{}", at("acr"));

        // Without user verification there is no answer to post: the
        // page says so and nothing is signed in.
        chrome.goto(&app.url("/")).await;
        chrome.click("form.session button[type=submit]").await;
        chrome.set_user_verified(&device, false).await;
        chrome.goto(&app.url("/login")).await;
        chrome.press("#passkey-sign-in").await;
        let said = chrome.wait_for_text("[data-passkey-status]").await;
        assert_eq!(said, "The passkey was not used.", "{}", at("no UV"));
        assert_eq!(
            chrome.current_path().await,
            "/login",
            "{}",
            at("still here")
        );
        chrome.goto(&app.url("/")).await;
        assert!(
            !chrome.source().await.contains("Signed in as"),
            "{}",
            at("no session")
        );
    })
    .await;
}
