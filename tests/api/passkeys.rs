//! Passkeys over HTTP, with the software authenticator of
//! `support::authenticator` in place of a browser's (docs/interface.md
//! "Second factors"): the relying party the issuer makes (refused at
//! start when WebAuthn cannot work with it), the ceremonies' options,
//! and the answers that must be refused: replayed, for another user,
//! from another origin, after the ceremony expired, without user
//! verification, or with a counter that went backwards (a clone). Also
//! the recent, strong sign-in that adding a passkey needs.

use authd::app::Application;
use authd::clock::Clock;
use serde_json::Value;

use crate::support::authenticator::{SoftKey, PRESENT_ONLY};
use crate::support::browser::{csrf_token, Browser};
use crate::support::fixtures::{role, user, Reply};
use crate::support::helpers::{on_every_backend, settings, TestApp};

/// Posts `form` to an options endpoint and returns the JSON answer.
async fn options(b: &Browser, path: &str, form: &[(&str, &str)]) -> Reply {
    b.post(path, form).await
}

/// Alice signed in with her password at `app` (issuer localhost).
async fn alice(app: &TestApp) -> Browser {
    let b = Browser::at(&app.base);
    let r = b.log_in("alice", "correct horse").await;
    assert_eq!(r.status, 303, "{}", r.raw);
    b
}

/// The session's CSRF token, from the security page.
async fn token(b: &Browser) -> String {
    let page = b.get("/account/security").await;
    assert_eq!(page.status, 200, "{}", page.raw);
    csrf_token(&page.raw).expect("a csrf_token")
}

/// Registers `key` for the signed-in user of `b`, named `name`.
async fn register(b: &Browser, key: &mut SoftKey, name: &str) -> Reply {
    let t = token(b).await;
    let o = options(
        b,
        "/account/security/passkeys/options",
        &[("csrf_token", &t), ("name", name)],
    )
    .await;
    assert_eq!(o.status, 200, "{}", o.raw);
    let answer = key.register(&o.body);
    b.post(
        "/account/security/passkeys",
        &[("csrf_token", &t), ("name", name), ("credential", &answer)],
    )
    .await
}

/// The options of a sign-in with a passkey alone, and the login form's
/// token.
async fn sign_in_options(b: &Browser) -> (Value, String) {
    let (_, t) = b.login_page(None).await;
    let o = options(b, "/login/passkey/options", &[("csrf_token", &t)]).await;
    assert_eq!(o.status, 200, "{}", o.raw);
    (o.body, t)
}

async fn post_answer(b: &Browser, t: &str, answer: &str) -> Reply {
    b.post(
        "/login/passkey",
        &[("csrf_token", t), ("credential", answer)],
    )
    .await
}

/// Whether `r` started a session (a 303 with the session cookie).
fn signed_in(r: &Reply) -> bool {
    r.status == 303
        && r.headers.get_all("set-cookie").iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.starts_with("authd_session=") && !v.contains("Max-Age=0"))
        })
}

#[actix_web::test]
async fn an_issuer_webauthn_cannot_use_is_refused_at_start() {
    on_every_backend(|db| async move {
        for (issuer, says) in [
            ("https://10.0.0.1", "IP address"),
            ("http://id.example.com", "not https"),
        ] {
            let s = settings(&db, &["--issuer", issuer]);
            let Err(e) = Application::build_with_clock(s, Clock::system()).await else {
                panic!("[{}] {issuer} was accepted", db.label());
            };
            let e = e.to_string();
            assert!(e.contains(says) && e.contains("--no-passkeys"), "{e}");
        }
        let s = settings(&db, &["--issuer", "https://10.0.0.1", "--no-passkeys"]);
        assert!(Application::build_with_clock(s, Clock::system())
            .await
            .is_ok());
        // The default issuer (http://<address bound>) leaves them off.
        let app = TestApp::spawn(&db).await;
        let (login, _) = Browser::new(&app).login_page(None).await;
        assert!(!login.raw.contains("passkey"), "{}", login.raw);
        let csp = login.header("content-security-policy").unwrap_or_default();
        assert!(!csp.contains("script-src"), "{csp}");
        assert_eq!(app.status("/static/passkey.js").await, 200);
        let r = Browser::new(&app)
            .post("/login/passkey/options", &[("csrf_token", "x")])
            .await;
        assert_eq!(r.status, 404);
    })
    .await;
}

#[actix_web::test]
async fn a_passkey_signs_in_once_per_answer_and_only_its_own_user() {
    on_every_backend(|db| async move {
        let at = |what: &str| format!("[{}] {what}", db.label());
        role(&db, "member", "openid");
        user(&db, "alice", "correct horse", &["member"]);
        user(&db, "bob", "correct horse", &["member"]);
        let app = TestApp::spawn_on_localhost(&db, &[], Clock::system()).await;
        let b = alice(&app).await;
        let mut key = SoftKey::new(&app.base);
        let r = register(&b, &mut key, "Laptop").await;
        assert_eq!(r.status, 303, "{}", at(&r.raw));

        // The login page offers it, with our script allowed.
        let fresh = Browser::at(&app.base);
        let (login, _) = fresh.login_page(None).await;
        assert!(login.raw.contains("Sign in with a passkey"));
        let csp = login.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let home = fresh.get("/").await;
        let csp = home.header("content-security-policy").unwrap_or_default();
        assert!(
            !csp.contains("script-src"),
            "{}",
            at("other pages: no script")
        );

        // Options: user verification required, any discoverable key.
        let (o, t) = sign_in_options(&fresh).await;
        assert_eq!(o["publicKey"]["userVerification"], "required");
        assert_eq!(o["publicKey"]["rpId"], "localhost");
        assert!(o.get("mediation").is_none());
        // No CSRF token, no options.
        let r = options(&fresh, "/login/passkey/options", &[]).await;
        assert_eq!(r.status, 403, "{}", at("csrf"));

        // Without user verification: refused.
        let r = post_answer(&fresh, &t, &key.answer(&o, PRESENT_ONLY)).await;
        assert!(!signed_in(&r), "{}", at("no UV"));
        assert_eq!(r.status, 400);

        // A right answer signs in; the same answer again does not, even
        // with the ceremony cookie copied back (a replay). Many passkeys
        // keep their counter at 0, so the counter cannot be what stops it.
        let (o, t) = sign_in_options(&fresh).await;
        let ceremony = fresh.cookie("authd_webauthn").expect("a ceremony cookie");
        let answer = key.answer(&o, 0x05);
        let r = post_answer(&fresh, &t, &answer).await;
        assert!(signed_in(&r), "{}", at(&r.raw));
        let (name, _) = fresh.signed_in().await.expect("signed in");
        assert_eq!(name, "alice");
        let replay = Browser::at(&app.base);
        let (_, t2) = replay.login_page(None).await;
        replay.set_cookie("authd_webauthn", &ceremony);
        let r = post_answer(&replay, &t2, &answer).await;
        assert!(!signed_in(&r), "{}", at("replayed"));

        // Once the key counts, a counter that goes backwards is a clone.
        let (o, t) = sign_in_options(&replay).await;
        let r = post_answer(&replay, &t, &key.assert(&o)).await;
        assert!(signed_in(&r), "{}", at("counted"));
        let (o, t) = sign_in_options(&replay).await;
        key.counter -= 1;
        let r = post_answer(&replay, &t, &key.answer(&o, 0x05)).await;
        assert!(!signed_in(&r), "{}", at("clone"));
        key.counter += 1;

        // Another origin's answer (a phishing page relaying it).
        let (o, t) = sign_in_options(&replay).await;
        let mut phished = SoftKey::new("http://localhost.evil.example");
        std::mem::swap(&mut phished.origin, &mut key.origin);
        let answer = key.assert(&o);
        std::mem::swap(&mut phished.origin, &mut key.origin);
        let r = post_answer(&replay, &t, &answer).await;
        assert!(!signed_in(&r), "{}", at("origin"));

        // Expired: the ceremony's cookie no longer opens.
        let (o, t) = sign_in_options(&replay).await;
        let answer = key.assert(&o);
        replay.set_cookie("authd_webauthn", "enc:v1:AAAA");
        let r = post_answer(&replay, &t, &answer).await;
        assert!(!signed_in(&r), "{}", at("no ceremony"));

        // As bob's second step, alice's passkey is another user's.
        let bob = Browser::at(&app.base);
        let mut bob_key = SoftKey::new(&app.base);
        let r = bob.log_in("bob", "correct horse").await;
        assert_eq!(r.status, 303);
        let r = register(&bob, &mut bob_key, "Bob's key").await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let bob = Browser::at(&app.base);
        let r = bob.log_in("bob", "correct horse").await;
        assert_eq!(
            r.header("location"),
            Some("/login/code"),
            "{}",
            at("second step")
        );
        let step = bob.get("/login/code").await;
        assert!(step.raw.contains("Use your passkey"), "{}", step.raw);
        let t = csrf_token(&step.raw).expect("a token");
        let o = options(&bob, "/login/code/passkey/options", &[("csrf_token", &t)]).await;
        assert_eq!(o.status, 200, "{}", o.raw);
        let allowed = o.body["publicKey"]["allowCredentials"].as_array().cloned();
        assert_eq!(
            allowed.map(|a| a.len()),
            Some(1),
            "{}",
            at("bob's key only")
        );
        let r = bob
            .post(
                "/login/code",
                &[("csrf_token", &t), ("credential", &key.assert(&o.body))],
            )
            .await;
        assert!(!signed_in(&r), "{}", at("alice's key for bob"));
        let o = options(&bob, "/login/code/passkey/options", &[("csrf_token", &t)]).await;
        let r = bob
            .post(
                "/login/code",
                &[("csrf_token", &t), ("credential", &bob_key.assert(&o.body))],
            )
            .await;
        assert!(signed_in(&r), "{}", at(&r.raw));
    })
    .await;
}

#[actix_web::test]
async fn adding_a_passkey_needs_a_recent_sign_in_of_this_user() {
    on_every_backend(|db| async move {
        let at = |what: &str| format!("[{}] {what}", db.label());
        role(&db, "member", "openid");
        user(&db, "alice", "correct horse", &["member"]);
        user(&db, "bob", "correct horse", &["member"]);
        let clock = Clock::manual_from_now();
        let app = TestApp::spawn_on_localhost(&db, &[], clock.clone()).await;
        let b = alice(&app).await;
        let t = token(&b).await;
        let form = [("csrf_token", t.as_str()), ("name", "Laptop")];
        let o = options(&b, "/account/security/passkeys/options", &form).await;
        assert_eq!(o.status, 200, "{}", o.raw);
        let user_id = o.body["publicKey"]["user"]["id"].clone();

        // The ceremony is alice's: in bob's session it finds none.
        let ceremony = b.cookie("authd_webauthn").expect("a ceremony cookie");
        let bob = Browser::at(&app.base);
        assert_eq!(bob.log_in("bob", "correct horse").await.status, 303);
        let bt = token(&bob).await;
        bob.set_cookie("authd_webauthn", &ceremony);
        let mut key = SoftKey::new(&app.base);
        let answer = key.register(&o.body);
        let form = [
            ("csrf_token", bt.as_str()),
            ("name", "Laptop"),
            ("credential", &answer),
        ];
        let r = bob.post("/account/security/passkeys", &form).await;
        assert_eq!(r.status, 400, "{}", at("another user's ceremony"));
        assert!(r.raw.contains("took too long"), "{}", r.raw);

        // Expired for alice too, five minutes on.
        clock.advance(5 * 60);
        let form = [
            ("csrf_token", t.as_str()),
            ("name", "Laptop"),
            ("credential", &answer),
        ];
        let r = b.post("/account/security/passkeys", &form).await;
        assert!(r.raw.contains("took too long"), "{}", at("expired"));

        // A sign-in older than ten minutes may not add one.
        clock.advance(6 * 60);
        let form = [("csrf_token", t.as_str()), ("name", "Laptop")];
        let r = options(&b, "/account/security/passkeys/options", &form).await;
        assert_eq!(r.status, 403, "{}", at("stale sign-in"));
        let page = b.get("/account/security").await;
        assert!(
            page.raw.contains("sign in again"),
            "{}",
            at("the page says so")
        );

        // Signed in again: a fresh ceremony takes the key.
        let b = alice(&app).await;
        let r = register(&b, &mut key, "Laptop").await;
        assert_eq!(r.status, 303, "{}", at(&r.raw));
        assert_ne!(user_id, Value::Null);
        let page = b.get("/account/security").await;
        assert!(page.raw.contains(r#"value="Laptop""#), "{}", at("listed"));
        let t2 = csrf_token(&page.raw).expect("a token");

        // Now she has a second factor: this password-only session may
        // not add another, however recent; a passkey sign-in may.
        let form = [("csrf_token", t2.as_str()), ("name", "Second")];
        let r = options(&b, "/account/security/passkeys/options", &form).await;
        assert_eq!(r.status, 403, "{}", at("a password alone"));
        let b = alice_with_passkey(&app, &mut key).await;
        let t = token(&b).await;
        let form = [("csrf_token", t.as_str()), ("name", "Second")];
        let r = options(&b, "/account/security/passkeys/options", &form).await;
        assert_eq!(r.status, 200, "{}", at("a passkey sign-in is strong"));
    })
    .await;
}

/// Alice signed in with `key` alone.
async fn alice_with_passkey(app: &TestApp, key: &mut SoftKey) -> Browser {
    let b = Browser::at(&app.base);
    let (o, t) = sign_in_options(&b).await;
    let r = post_answer(&b, &t, &key.assert(&o)).await;
    assert!(signed_in(&r), "{}", r.raw);
    b
}
