//! Refresh tokens end with the sign-in session they were issued in
//! (docs/interface.md "Logout"; Back-Channel Logout 1.0 §2.7): a logout
//! revokes the refresh tokens of that session and of no other, unless
//! their scope holds `offline_access`; Sign out everywhere revokes those
//! of every session of the user. On every backend.

use crate::support::browser::{csrf_token, Browser};
use crate::support::code_flow::{code_for, exchange, logged_in, pkce, refresh, request, REDIRECT};
use crate::support::fixtures::{role, user, ClientSpec, TestClient};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};

/// Role `member` with `openid offline_access`, alice with it, and an app
/// for the code flow with refresh tokens.
fn setup(db: &TestDb) -> TestClient {
    role(db, "member", "openid offline_access");
    user(db, "alice", "correct horse", &["member"]);
    ClientSpec::new(db)
        .grants(&["authorization_code", "refresh_token"])
        .scopes("openid offline_access")
        .redirect_uri(REDIRECT)
        .create()
}

/// A refresh token for `scope`, from the code flow in `browser`'s session.
async fn refresh_token(app: &TestApp, browser: &Browser, c: &TestClient, scope: &str) -> String {
    let p = pkce();
    let code = code_for(browser, &request(&c.id, &p.challenge, &[("scope", scope)])).await;
    let r = exchange(app, c, &code, REDIRECT, &p.verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .into()
}

/// Asserts whether `token` still refreshes (a success rotates it: check
/// each token once).
async fn assert_refreshes(app: &TestApp, c: &TestClient, token: &str, works: bool, what: &str) {
    let r = refresh(app, c, token).await;
    if works {
        assert_eq!(r.status, 200, "{what}: {}", r.raw);
    } else {
        r.assert_error(400, "invalid_grant");
    }
}

/// The server, [`setup`]'s app, and alice signed in in two browsers.
async fn two_sessions(db: &TestDb) -> (TestApp, TestClient, Browser, Browser) {
    let c = setup(db);
    let app = TestApp::spawn(db).await;
    let phone = logged_in(&app, "alice").await;
    let laptop = logged_in(&app, "alice").await;
    (app, c, phone, laptop)
}

#[actix_web::test]
async fn a_logout_revokes_the_sessions_refresh_tokens_but_not_offline_ones_nor_others() {
    on_every_backend(|db| async move {
        let (app, c, phone, laptop) = two_sessions(&db).await;
        let online = refresh_token(&app, &phone, &c, "openid").await;
        let offline = refresh_token(&app, &phone, &c, "openid offline_access").await;
        let elsewhere = refresh_token(&app, &laptop, &c, "openid").await;

        assert_eq!(phone.log_out().await.status, 303);
        assert_refreshes(&app, &c, &online, false, "the session's").await;
        assert_refreshes(&app, &c, &offline, true, "offline_access").await;
        assert_refreshes(&app, &c, &elsewhere, true, "another session's").await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn sign_out_everywhere_revokes_the_refresh_tokens_of_every_session() {
    on_every_backend(|db| async move {
        let (app, c, phone, laptop) = two_sessions(&db).await;
        let first = refresh_token(&app, &phone, &c, "openid").await;
        let second = refresh_token(&app, &laptop, &c, "openid").await;
        let offline = refresh_token(&app, &laptop, &c, "openid offline_access").await;

        let page = phone.get("/account").await;
        let token = csrf_token(&page.raw).expect("a CSRF token");
        let r = phone
            .post("/account/logout-everywhere", &[("csrf_token", &token)])
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert_refreshes(&app, &c, &first, false, "this session's").await;
        assert_refreshes(&app, &c, &second, false, "the other session's").await;
        assert_refreshes(&app, &c, &offline, true, "offline_access").await;
        app.stop().await;
    })
    .await;
}
