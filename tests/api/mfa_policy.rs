//! Second factors through the authorization code flow, and the policy
//! (docs/interface.md "Second factors"): `amr` in the ID token says what
//! the sign-in used; a role with `--require-mfa` takes a user without a
//! factor to enrolment before any session or code; `authd role set` and
//! `authd user mfa-reset` change that, audited. On every backend.

use authd::clock::Clock;

use crate::support::browser::{set_cookie, Browser};
use crate::support::code_flow::{code_for, exchange, pkce, request, REDIRECT};
use crate::support::fixtures::{post, user, verify_with_jwks, ClientSpec, Reply, TestClient};
use crate::support::helpers::{authd_json, authd_logging, on_every_backend, TestApp, TestDb};
use crate::support::totp::{code, enrol, offer, recovery_codes, second_step};

/// A first-party code + password client for `openid posts:read`.
fn client(db: &TestDb) -> TestClient {
    ClientSpec::new(db)
        .grants(&["authorization_code", "password"])
        .scopes("openid posts:read")
        .redirect_uri(REDIRECT)
        .first_party()
        .create()
}

/// Runs the code flow from a `browser` signed in, returns the ID token's
/// `amr`.
async fn amr_after_code_flow(
    app: &TestApp,
    c: &TestClient,
    browser: &Browser,
) -> serde_json::Value {
    let p = pkce();
    let path = request(&c.id, &p.challenge, &[("scope", "openid posts:read")]);
    let code = code_for(browser, &path).await;
    let r = exchange(app, c, &code, REDIRECT, &p.verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let (_, claims) = verify_with_jwks(app, r.body["id_token"].as_str().unwrap(), &c.id).await;
    claims["amr"].clone()
}

fn has_session(r: &Reply) -> bool {
    set_cookie(r, "authd_session").is_some_and(|c| !c.starts_with("authd_session=;"))
}

#[actix_web::test]
async fn amr_says_pwd_or_pwd_otp_mfa_through_the_code_flow() {
    on_every_backend(|db| async move {
        authd_json(
            &db,
            &["role", "add", "member", "--scope", "openid posts:read"],
            None,
        );
        user(&db, "alice", "correct horse", &["member"]);
        let c = client(&db);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let browser = Browser::new(&app);
        assert_eq!(browser.log_in("alice", "correct horse").await.status, 303);
        assert_eq!(
            amr_after_code_flow(&app, &c, &browser).await,
            serde_json::json!(["pwd"])
        );
        let (secret, _) = enrol(&app, &browser).await;

        // A new sign-in from the authorization request: password, code,
        // back to the request, and the ID token says two factors.
        let p = pkce();
        let path = request(&c.id, &p.challenge, &[("scope", "openid posts:read")]);
        let other = Browser::new(&app);
        let to_login = other.get(&path).await;
        assert_eq!(to_login.status, 303, "{}", to_login.raw);
        let login = to_login.header("location").unwrap().to_string();
        let next = url::Url::parse(&format!("http://x{login}"))
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "next")
            .unwrap()
            .1
            .into_owned();
        let r = other.log_in_to(Some(&next), "alice", "correct horse").await;
        let step = r.header("location").unwrap().to_string();
        assert!(step.starts_with("/login/code?next="), "{step}");
        // No session yet: the authorization request sends to login again.
        assert_eq!(other.get(&path).await.status, 303);
        let r = second_step(&other, &step, &code(&app, &secret)).await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert_eq!(r.header("location"), Some(next.as_str()));
        let issued = code_for(&other, &path).await;
        let t = exchange(&app, &c, &issued, REDIRECT, &p.verifier).await;
        let (_, claims) = verify_with_jwks(&app, t.body["id_token"].as_str().unwrap(), &c.id).await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn require_mfa_takes_a_user_to_enrolment_before_any_session_or_code() {
    on_every_backend(|db| async move {
        let role = authd_json(
            &db,
            &[
                "role",
                "add",
                "admins",
                "--scope",
                "openid posts:read",
                "--require-mfa",
            ],
            None,
        );
        assert_eq!(role["require_mfa"], true, "{role}");
        user(&db, "carol", "correct horse", &["admins"]);
        let c = client(&db);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;

        // The password grant cannot enrol: refused like a wrong password.
        let form = |password: &'static str| {
            vec![
                ("grant_type", "password"),
                ("username", "carol"),
                ("password", password),
                ("scope", "openid posts:read"),
            ]
        };
        let wrong = post(&app, "/oauth/token", Some(&c), &form("wrong horse")).await;
        let r = post(&app, "/oauth/token", Some(&c), &form("correct horse")).await;
        assert_eq!((r.status, &r.raw), (wrong.status, &wrong.raw));

        // The login form: enrolment first, no session.
        let p = pkce();
        let path = request(&c.id, &p.challenge, &[("scope", "openid posts:read")]);
        let browser = Browser::new(&app);
        let r = browser
            .log_in_to(Some(&path), "carol", "correct horse")
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert!(!has_session(&r));
        let enrol_path = r.header("location").unwrap().to_string();
        assert!(enrol_path.starts_with("/login/enrol?next="), "{enrol_path}");
        assert_eq!(browser.get(&path).await.status, 303, "no session, no code");
        let page = browser.get(&enrol_path).await;
        assert_eq!(page.status, 200, "{}", page.raw);
        let o = offer(&page);
        let submit = |code: String| {
            let (csrf, sealed) = (o.csrf.clone(), o.sealed.clone());
            let (browser, enrol_path) = (&browser, enrol_path.clone());
            async move {
                browser
                    .post(
                        &enrol_path,
                        &[("csrf_token", &csrf), ("secret", &sealed), ("code", &code)],
                    )
                    .await
            }
        };
        let r = submit("000000".into()).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(!has_session(&r));
        assert_eq!(offer(&r).secret, o.secret, "the same secret to retry");
        let r = submit(code(&app, &o.secret)).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert!(has_session(&r), "{:?}", r.headers);
        assert_eq!(recovery_codes(&r).len(), 10);
        assert!(r.raw.contains(r#"<a href="/oauth/authorize?"#), "{}", r.raw);
        // The flow goes on; this sign-in proved only the password.
        let issued = code_for(&browser, &path).await;
        let t = exchange(&app, &c, &issued, REDIRECT, &p.verifier).await;
        let (_, claims) = verify_with_jwks(&app, t.body["id_token"].as_str().unwrap(), &c.id).await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));

        // The next sign-in asks for a code; the password grant wants otp.
        app.clock.advance(30);
        let other = Browser::new(&app);
        let r = other.log_in("carol", "correct horse").await;
        assert!(r.header("location").unwrap().starts_with("/login/code"));
        let otp = code(&app, &o.secret);
        let mut with_otp = form("correct horse");
        with_otp.push(("otp", &otp));
        let r = post(&app, "/oauth/token", Some(&c), &with_otp).await;
        assert_eq!(r.status, 200, "{}", r.raw);

        // The operator lifts the rule and resets carol's factors: the
        // password alone again.
        let role = authd_json(
            &db,
            &["role", "set", "admins", "--require-mfa", "false"],
            None,
        );
        assert_eq!(role["require_mfa"], false, "{role}");
        let listed = authd_json(&db, &["role", "list"], None);
        assert_eq!(listed[0]["require_mfa"], false, "{listed}");
        let out = authd_logging(
            &db,
            &["user", "mfa-reset", "carol", "--json"],
            None,
            "authd::audit=info",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reset: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(reset["totp_removed"], true, "{reset}");
        assert_eq!(reset["recovery_codes_removed"], 10, "{reset}");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            log.contains(r#"event=mfa_reset outcome=success"#)
                && log.contains(r#"username="carol""#),
            "{log}"
        );
        let r = post(&app, "/oauth/token", Some(&c), &form("correct horse")).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let third = Browser::new(&app);
        let r = third.log_in("carol", "correct horse").await;
        assert_eq!(r.header("location"), Some("/"));
        assert!(has_session(&r));

        // The rule back on: enrolment again at the next sign-in.
        authd_json(
            &db,
            &["role", "set", "admins", "--require-mfa", "true"],
            None,
        );
        let r = Browser::new(&app).log_in("carol", "correct horse").await;
        assert!(r.header("location").unwrap().starts_with("/login/enrol"));
        assert!(!has_session(&r));
        // Unknown roles and users are refused with what to do.
        let err = crate::support::helpers::authd_fails(
            &db,
            &["role", "set", "nope", "--require-mfa", "true"],
            None,
        );
        assert!(err.contains("unknown role 'nope'"), "{err}");
        let err = crate::support::helpers::authd_fails(&db, &["user", "mfa-reset", "nobody"], None);
        assert!(err.contains("unknown user 'nobody'"), "{err}");
        app.stop().await;
    })
    .await;
}
