//! The authorization request's OpenID Connect parameters (Core 1.0
//! §3.1.2.1): `prompt=none` never shows a page, `prompt=login` and an
//! exceeded `max_age` make the user sign in again (and `auth_time` moves),
//! `login_hint` prefills the login form, malformed ones are refused with
//! `state`; and every authorization response carries `iss` (RFC 9207).
//! On every backend.

use authd::clock::Clock;

use crate::support::browser::Browser;
use crate::support::code_flow::{
    assert_redirected_error, code_for, consent_page, decide, exchange, logged_in, param, pkce,
    redirected, request, REDIRECT, STATE,
};
use crate::support::fixtures::{role, user, verify_with_jwks, ClientSpec, Reply, TestClient};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};

fn setup(db: &TestDb) -> TestClient {
    role(db, "member", "openid posts:read");
    user(db, "alice", "correct horse", &["member"]);
    ClientSpec::new(db)
        .grants(&["authorization_code"])
        .scopes("openid posts:read")
        .redirect_uri(REDIRECT)
        .create()
}

/// A request for `openid` with `extra` parameters.
fn openid_request(c: &TestClient, extra: &[(&str, &str)]) -> (String, String) {
    let p = pkce();
    let mut pairs = vec![("scope", "openid")];
    pairs.extend_from_slice(extra);
    (request(&c.id, &p.challenge, &pairs), p.verifier)
}

/// A redirect to the client with `error`, the request's `state` and `iss`.
fn assert_oidc_error(app: &TestApp, r: &Reply, error: &str) {
    assert_redirected_error(r, error);
    assert_eq!(param(&redirected(r), "iss"), app.issuer);
}

/// The login page a redirect sends the browser to, and where it goes back.
fn login_redirect(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 303, "{}", r.raw);
    let location = r.header("location").expect("a Location").to_string();
    let url = url::Url::parse(&format!("http://x{location}")).unwrap();
    assert_eq!(url.path(), "/login", "{location}");
    let next = url
        .query_pairs()
        .find(|(n, _)| n == "next")
        .map(|(_, v)| v.into_owned())
        .expect("a next");
    (location, next)
}

#[actix_web::test]
async fn every_authorization_response_names_the_issuer() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let m: serde_json::Value = app.get_json("/.well-known/openid-configuration").await;
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            m["prompt_values_supported"],
            serde_json::json!(["none", "login", "consent"])
        );
        let browser = logged_in(&app, "alice").await;
        let (path, _) = openid_request(&c, &[]);
        let r = decide(&browser, &path, "allow").await;
        let pairs = redirected(&r);
        assert!(!param(&pairs, "code").is_empty());
        assert_eq!(param(&pairs, "iss"), app.issuer);
        // Remembered since the allow: asked for again to deny.
        let (path, _) = openid_request(&c, &[("prompt", "consent")]);
        let r = decide(&browser, &path, "deny").await;
        assert_oidc_error(&app, &r, "access_denied");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn prompt_none_never_shows_a_page() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let (path, _) = openid_request(&c, &[("prompt", "none")]);
        let r = Browser::new(&app).get(&path).await;
        assert_oidc_error(&app, &r, "login_required");
        // Signed in, but consent is still needed.
        let r = logged_in(&app, "alice").await.get(&path).await;
        assert_oidc_error(&app, &r, "consent_required");
        // A malformed prompt or max_age: invalid_request, with state.
        for bad in [
            ("prompt", "none login"),
            ("prompt", "select_account"),
            ("max_age", "-1"),
            ("max_age", "soon"),
        ] {
            let (path, _) = openid_request(&c, &[bad]);
            let r = Browser::new(&app).get(&path).await;
            assert_oidc_error(&app, &r, "invalid_request");
        }
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn prompt_login_and_max_age_make_the_user_sign_in_again() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let browser = logged_in(&app, "alice").await;
        let first_login = app.clock.now();
        app.clock.advance(100);

        // A sign-in younger than max_age: straight to consent.
        let (young, _) = openid_request(&c, &[("max_age", "300")]);
        consent_page(&browser, &young).await;
        // Older: the login page first, whatever the session; the way back
        // drops what the login satisfies.
        for extra in [("max_age", "60"), ("prompt", "login")] {
            let (path, verifier) = openid_request(&c, &[extra, ("login_hint", "alice")]);
            let (login, next) = login_redirect(&browser.get(&path).await);
            assert!(
                !next.contains("max_age") && !next.contains("prompt"),
                "{next}"
            );
            assert!(next.contains("login_hint=alice"), "{next}");
            // login_hint prefills the username.
            let page = browser.get(&login).await;
            assert!(page.raw.contains(r#"value="alice""#), "{}", page.raw);
            app.clock.advance(10);
            let signed_in_again = app.clock.now();
            let r = browser
                .log_in_to(Some(&next), "alice", "correct horse")
                .await;
            assert_eq!(r.status, 303, "{}", r.raw);
            assert_eq!(r.header("location"), Some(next.as_str()));
            let code = code_for(&browser, &next).await;
            let r = exchange(&app, &c, &code, REDIRECT, &verifier).await;
            assert_eq!(r.status, 200, "{}", r.raw);
            let id_token = r.body["id_token"].as_str().unwrap();
            let (_, claims) = verify_with_jwks(&app, id_token, &c.id).await;
            assert_eq!(claims["auth_time"], signed_in_again, "{extra:?}");
            assert_ne!(claims["auth_time"], first_login);
        }
        // prompt=none with a sign-in older than max_age: login_required.
        app.clock.advance(100);
        let (path, _) = openid_request(&c, &[("prompt", "none"), ("max_age", "60")]);
        assert_oidc_error(&app, &browser.get(&path).await, "login_required");
        assert_eq!(
            STATE,
            param(&redirected(&browser.get(&path).await), "state")
        );
        app.stop().await;
    })
    .await;
}
