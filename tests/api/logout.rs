//! RP-initiated logout (docs/interface.md "Logout"): `/oauth/logout` with a
//! valid `id_token_hint` for the browser's session ends it and returns to
//! a registered `post_logout_redirect_uri` with `state`; anything less
//! asks the user first; an unregistered URI is never redirected to; a
//! `client_id` that disagrees with the hint is refused; an ended session
//! signs nobody in. On every backend.

use authd::clock::Clock;

use crate::support::browser::{csrf_token, Browser};
use crate::support::code_flow::{
    assert_redirected_error, code_for, exchange, id_token_for, logged_in, param, pkce, redirected,
    request, REDIRECT,
};
use crate::support::fixtures::{role, user, ClientSpec, Reply, TestClient};
use crate::support::helpers::{authd_fails, authd_json, every_backend, on_every_backend};
use crate::support::helpers::{TestApp, TestDb};

/// The post-logout redirect URI the app registers.
const BYE: &str = "https://app.example/bye";

/// A state with characters that need encoding.
const STATE: &str = "s/1 x&y";

fn setup(db: &TestDb) -> TestClient {
    role(db, "member", "openid posts:read");
    user(db, "alice", "correct horse", &["member"]);
    ClientSpec::new(db)
        .grants(&["authorization_code"])
        .scopes("openid posts:read")
        .redirect_uri(REDIRECT)
        .post_logout_redirect_uri(BYE)
        .create()
}

/// [`setup`]'s app, the server (on `clock`, with `settings`), and alice
/// signed in to the app in a browser, with her ID token.
struct SignedIn {
    c: TestClient,
    app: TestApp,
    alice: Browser,
    hint: String,
}

async fn signed_in(db: &TestDb, settings: &[&str], clock: Clock) -> SignedIn {
    let c = setup(db);
    let app = TestApp::spawn_clocked(db, settings, clock).await;
    let alice = logged_in(&app, "alice").await;
    let hint = id_token_for(&app, &alice, &c, "openid").await;
    SignedIn {
        c,
        app,
        alice,
        hint,
    }
}

/// A second app, whose post-logout redirect URI is `bye`.
fn another_app(db: &TestDb, bye: &str) -> TestClient {
    ClientSpec::new(db)
        .grants(&["authorization_code"])
        .scopes("openid")
        .redirect_uri(REDIRECT)
        .post_logout_redirect_uri(bye)
        .create()
}

/// `/oauth/logout?…`.
fn logout_path(pairs: &[(&str, &str)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/oauth/logout?{query}")
}

/// Asserts a redirect to `BYE` carrying `STATE`.
fn assert_back_at_the_app(r: &Reply) {
    assert_eq!(r.status, 303, "{}", r.raw);
    let location = url::Url::parse(r.header("location").expect("a Location")).unwrap();
    assert_eq!(
        format!(
            "{}{}",
            location.origin().ascii_serialization(),
            location.path()
        ),
        BYE
    );
    let state: Vec<_> = location
        .query_pairs()
        .filter(|(n, _)| n == "state")
        .collect();
    assert_eq!(state.len(), 1, "{location}");
    assert_eq!(state[0].1, STATE);
}

/// Asserts our own page: no redirect anywhere.
fn assert_our_page(r: &Reply, says: &str) {
    assert!(
        r.header("location").is_none(),
        "redirected: {:?}",
        r.headers
    );
    assert!(r.raw.contains(says), "{}", r.raw);
}

/// The browser's session is gone: no one signed in, and `prompt=none`
/// gets `login_required`.
async fn assert_signed_out(browser: &Browser, c: &TestClient) {
    assert!(browser.signed_in().await.is_none(), "still signed in");
    let p = pkce();
    let path = request(
        &c.id,
        &p.challenge,
        &[("scope", "openid"), ("prompt", "none")],
    );
    assert_redirected_error(&browser.get(&path).await, "login_required");
}

/// The session still stands: `prompt=none` gets a code.
async fn assert_still_signed_in(browser: &Browser, c: &TestClient) {
    assert!(browser.signed_in().await.is_some(), "signed out");
    let p = pkce();
    let path = request(
        &c.id,
        &p.challenge,
        &[("scope", "openid"), ("prompt", "none")],
    );
    let pairs = redirected(&browser.get(&path).await);
    assert!(!param(&pairs, "code").is_empty(), "{pairs:?}");
}

#[actix_web::test]
async fn a_valid_hint_and_a_registered_uri_end_the_session_and_go_back() {
    on_every_backend(|db| async move {
        let SignedIn {
            c,
            app,
            alice,
            hint,
        } = signed_in(&db, &[], Clock::system()).await;
        let r = alice
            .get(&logout_path(&[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", BYE),
                ("state", STATE),
            ]))
            .await;
        assert_back_at_the_app(&r);
        assert_signed_out(&alice, &c).await;

        // POST works alike (an app's auto-submitted form).
        let alice = logged_in(&app, "alice").await;
        let hint = id_token_for(&app, &alice, &c, "openid").await;
        let r = alice
            .post(
                "/oauth/logout",
                &[
                    ("id_token_hint", &hint),
                    ("client_id", &c.id),
                    ("post_logout_redirect_uri", BYE),
                    ("state", STATE),
                ],
            )
            .await;
        assert_back_at_the_app(&r);
        assert_signed_out(&alice, &c).await;

        // Without a session there is nothing to end or confirm.
        let stranger = Browser::new(&app);
        let r = stranger
            .get(&logout_path(&[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", BYE),
                ("state", STATE),
            ]))
            .await;
        assert_back_at_the_app(&r);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn an_unregistered_uri_is_never_redirected_to() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let other = another_app(&db, "https://other.example/bye");
        let app = TestApp::spawn(&db).await;
        for elsewhere in [
            "https://evil.example/bye",
            // Another app's: registered, but not for the app that asks.
            "https://other.example/bye",
            // Registered, but not character for character.
            "https://app.example/bye/",
        ] {
            let alice = logged_in(&app, "alice").await;
            let hint = id_token_for(&app, &alice, &c, "openid").await;
            let r = alice
                .get(&logout_path(&[
                    ("id_token_hint", &hint),
                    ("post_logout_redirect_uri", elsewhere),
                    ("state", STATE),
                ]))
                .await;
            assert_eq!(r.status, 200, "{elsewhere}: {}", r.raw);
            assert_our_page(&r, "You are signed out");
            assert_signed_out(&alice, &c).await;
        }
        // Named by client_id only, and confirmed: still not redirected.
        let alice = logged_in(&app, "alice").await;
        let asked = [
            ("client_id", other.id.as_str()),
            ("post_logout_redirect_uri", "https://evil.example/bye"),
            ("state", STATE),
        ];
        let page = alice.get(&logout_path(&asked)).await;
        let token = csrf_token(&page.raw).expect("a confirmation form");
        let mut confirmed = asked.to_vec();
        confirmed.push(("csrf_token", &token));
        let r = alice.post("/oauth/logout", &confirmed).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_our_page(&r, "You are signed out");
        assert_signed_out(&alice, &c).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn without_a_hint_the_user_confirms_first() {
    on_every_backend(|db| async move {
        let SignedIn { c, app, alice, .. } = signed_in(&db, &[], Clock::system()).await;
        let asked = [
            ("client_id", c.id.as_str()),
            ("post_logout_redirect_uri", BYE),
            ("state", STATE),
        ];
        // A GET only shows the question.
        let page = alice.get(&logout_path(&asked)).await;
        assert_eq!(page.status, 200, "{}", page.raw);
        assert_our_page(&page, "Sign out?");
        assert!(page.raw.contains("test app"), "names the app: {}", page.raw);
        let csp = page.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("form-action 'self' https://app.example"),
            "{csp}"
        );
        let token = csrf_token(&page.raw).expect("the form carries the CSRF token");
        assert_still_signed_in(&alice, &c).await;

        // A POST of the request alone (an app's form) asks too.
        let r = alice.post("/oauth/logout", &asked).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_our_page(&r, "Sign out?");
        assert_still_signed_in(&alice, &c).await;

        // Another site's post, with a wrong token: refused.
        let mut forged = asked.to_vec();
        forged.push(("csrf_token", "not-the-token"));
        let r = alice.post("/oauth/logout", &forged).await;
        assert_eq!(r.status, 403, "{}", r.raw);
        assert_still_signed_in(&alice, &c).await;

        // The form as the page has it: signed out, and back at the app.
        let mut confirmed = asked.to_vec();
        confirmed.push(("csrf_token", &token));
        let r = alice.post("/oauth/logout", &confirmed).await;
        assert_back_at_the_app(&r);
        assert_signed_out(&alice, &c).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_code_not_yet_exchanged_ends_with_its_session() {
    on_every_backend(|db| async move {
        let SignedIn { c, app, alice, .. } = signed_in(&db, &[], Clock::system()).await;
        let p = pkce();
        let code = code_for(
            &alice,
            &request(&c.id, &p.challenge, &[("scope", "openid")]),
        )
        .await;
        alice.log_out().await;
        let r = exchange(&app, &c, &code, REDIRECT, &p.verifier).await;
        r.assert_error(400, "invalid_grant");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_client_id_that_disagrees_with_the_hint_is_refused() {
    on_every_backend(|db| async move {
        let SignedIn {
            c,
            app,
            alice,
            hint,
        } = signed_in(&db, &[], Clock::system()).await;
        let other = another_app(&db, BYE);
        let r = alice
            .get(&logout_path(&[
                ("id_token_hint", &hint),
                ("client_id", &other.id),
                ("post_logout_redirect_uri", BYE),
                ("state", STATE),
            ]))
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert_our_page(&r, "This sign-out link does not work");
        assert_still_signed_in(&alice, &c).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn an_expired_hint_still_counts_but_a_forged_or_foreign_one_asks() {
    on_every_backend(|db| async move {
        let clock = Clock::manual_from_now();
        let SignedIn {
            c,
            app,
            alice,
            hint,
        } = signed_in(&db, &["--session-idle", "86400"], clock.clone()).await;

        // Signed by us, but its claims changed: not a hint at all.
        let parts: Vec<&str> = hint.split('.').collect();
        let forged_claims = {
            use base64::Engine;
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let mut claims: serde_json::Value =
                serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
            claims["aud"] = "someone-else".into();
            engine.encode(claims.to_string())
        };
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        let asked = |hint: &str| {
            logout_path(&[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", BYE),
                ("state", STATE),
            ])
        };
        let r = alice.get(&asked(&forged)).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_our_page(&r, "Sign out?");

        // Another session's hint (alice in a second browser): asks.
        let elsewhere = logged_in(&app, "alice").await;
        let r = elsewhere.get(&asked(&hint)).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_our_page(&r, "Sign out?");
        assert_still_signed_in(&elsewhere, &c).await;

        // An hour later the ID token has expired; it still names the
        // session and the app.
        clock.advance(3600);
        let r = alice.get(&asked(&hint)).await;
        assert_back_at_the_app(&r);
        assert_signed_out(&alice, &c).await;
        assert_still_signed_in(&elsewhere, &c).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn discovery_names_the_logout_endpoint_and_back_channel_support() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let m: serde_json::Value = app.get_json(path).await;
            assert_eq!(
                m["end_session_endpoint"],
                format!("{}/oauth/logout", app.issuer),
                "{m}"
            );
            assert_eq!(m["backchannel_logout_supported"], true, "{m}");
            assert_eq!(m["backchannel_logout_session_supported"], true, "{m}");
        }
        // Both methods are served (no session: straight to our page).
        for r in [
            app.http.get(app.url("/oauth/logout")).send().await.unwrap(),
            app.http
                .post(app.url("/oauth/logout"))
                .form(&[("state", "x")])
                .send()
                .await
                .unwrap(),
        ] {
            assert_eq!(r.status(), 200);
        }
        // A repeated parameter is refused.
        let r = app
            .http
            .get(app.url("/oauth/logout?state=a&state=b"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        app.stop().await;
    })
    .await;
}

#[test]
fn client_add_takes_the_logout_uris_and_shows_them() {
    every_backend(|db| {
        let added = authd_json(
            &db,
            &[
                "client",
                "add",
                "portal",
                "--grant",
                "authorization_code",
                "--redirect-uri",
                REDIRECT,
                "--post-logout-redirect-uri",
                BYE,
                "--post-logout-redirect-uri",
                "http://127.0.0.1:9000/bye",
                "--backchannel-logout-uri",
                "https://app.example/backchannel",
            ],
            None,
        );
        let uris = serde_json::json!([BYE, "http://127.0.0.1:9000/bye"]);
        assert_eq!(added["post_logout_redirect_uris"], uris, "{added}");
        assert_eq!(
            added["backchannel_logout_uri"], "https://app.example/backchannel",
            "{added}"
        );
        let id = added["client_id"].as_str().expect("a client_id");
        let shown = authd_json(&db, &["client", "show", id], None);
        assert_eq!(shown["post_logout_redirect_uris"], uris, "{shown}");
        assert_eq!(
            shown["backchannel_logout_uri"],
            "https://app.example/backchannel"
        );
        let listed = authd_json(&db, &["client", "list"], None);
        assert_eq!(listed[0]["post_logout_redirect_uris"], uris, "{listed}");

        for (flag, uri, says) in [
            (
                "--post-logout-redirect-uri",
                "javascript:alert(1)",
                "is refused",
            ),
            (
                "--post-logout-redirect-uri",
                "https://app.example/#x",
                "fragment",
            ),
            (
                "--backchannel-logout-uri",
                "http://app.example/bc",
                "loopback",
            ),
            ("--backchannel-logout-uri", "com.example.app:/bc", "https"),
        ] {
            let err = authd_fails(&db, &["client", "add", "bad", flag, uri], None);
            assert!(err.contains(says), "{flag} {uri}: {err}");
        }
    });
}
