//! The password grant for a user with a second factor (docs/interface.md
//! "Second factors"): the `otp` parameter is required; missing, wrong,
//! replayed or spent, the answer is byte for byte a wrong password's and
//! counts toward the lockout. ID tokens say what was used (`amr`, RFC
//! 8176), and a refresh keeps it. On every backend, on a manual clock.

use authd::clock::Clock;

use crate::support::code_flow::logged_in;
use crate::support::fixtures::{post, role, user, verify_with_jwks, ClientSpec, Reply, TestClient};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};
use crate::support::totp::{code, code_at, enrol};

/// Role `member` (openid posts:read), alice and bob with it, and a
/// password + refresh client for those scopes.
fn setup(db: &TestDb) -> TestClient {
    role(db, "member", "openid posts:read");
    user(db, "alice", "correct horse", &["member"]);
    user(db, "bob", "correct horse", &["member"]);
    ClientSpec::new(db).scopes("openid posts:read").create()
}

async fn grant(
    app: &TestApp,
    c: &TestClient,
    name: &str,
    password: &str,
    otp: Option<&str>,
) -> Reply {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", name),
        ("password", password),
        ("scope", "openid posts:read"),
    ];
    if let Some(otp) = otp {
        form.push(("otp", otp));
    }
    post(app, "/oauth/token", Some(c), &form).await
}

/// Asserts that `r` is exactly the answer `wrong` to a wrong password.
fn like_a_wrong_password(r: &Reply, wrong: &Reply, what: &str) {
    assert_eq!((r.status, &r.raw), (wrong.status, &wrong.raw), "{what}");
    for h in ["content-type", "cache-control", "www-authenticate"] {
        assert_eq!(r.header(h), wrong.header(h), "{what}: {h}");
    }
}

async fn amr_of(app: &TestApp, c: &TestClient, r: &Reply) -> serde_json::Value {
    assert_eq!(r.status, 200, "{}", r.raw);
    let id_token = r.body["id_token"].as_str().expect("an id_token");
    let claims = verify_with_jwks(app, id_token, &c.id).await.1;
    // `acr` follows: two factors are the "mfa" level, a password alone
    // the "pwd" one (docs/interface.md "Second factors").
    let two = claims["amr"]
        .as_array()
        .is_some_and(|a| a.contains(&"mfa".into()));
    let acr = if two {
        "urn:authd:acr:mfa"
    } else {
        "urn:authd:acr:pwd"
    };
    assert_eq!(claims["acr"], acr, "{}", claims);
    claims["amr"].clone()
}

#[actix_web::test]
async fn the_password_grant_needs_otp_and_refuses_it_like_a_wrong_password() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        // Before enrolment: the password alone, `otp` ignored.
        let r = grant(&app, &c, "alice", "correct horse", Some("123456")).await;
        assert_eq!(amr_of(&app, &c, &r).await, serde_json::json!(["pwd"]));
        let (secret, codes) = enrol(&app, &logged_in(&app, "alice").await).await;

        let wrong = grant(&app, &c, "alice", "wrong horse", None).await;
        wrong.assert_error(400, "invalid_grant");
        let now = app.clock.now();
        let off_by_one = format!(
            "{:06}",
            (code_at(&secret, now).parse::<u32>().unwrap() + 1) % 1_000_000
        );
        for (what, otp) in [
            ("no otp", None),
            ("a wrong otp", Some(off_by_one.as_str())),
            ("not a code", Some("x")),
            (
                "another user's recovery code shape",
                Some("aaaa-bbbb-cccc-dddd"),
            ),
        ] {
            let r = grant(&app, &c, "alice", "correct horse", otp).await;
            like_a_wrong_password(&r, &wrong, what);
        }
        // A right code with a wrong password: a wrong password.
        let r = grant(&app, &c, "alice", "wrong horse", Some(&code(&app, &secret))).await;
        like_a_wrong_password(&r, &wrong, "right code, wrong password");

        // Right password and code: two factors, and the refresh says so too.
        let good = code(&app, &secret);
        let r = grant(&app, &c, "alice", "correct horse", Some(&good)).await;
        assert_eq!(
            amr_of(&app, &c, &r).await,
            serde_json::json!(["pwd", "otp", "mfa"])
        );
        let refreshed = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", r.body["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(
            amr_of(&app, &c, &refreshed).await,
            serde_json::json!(["pwd", "otp", "mfa"])
        );
        // The same code again: refused like a wrong password.
        let r = grant(&app, &c, "alice", "correct horse", Some(&good)).await;
        like_a_wrong_password(&r, &wrong, "a replayed code");

        // A recovery code works once.
        let r = grant(&app, &c, "alice", "correct horse", Some(&codes[2])).await;
        assert_eq!(
            amr_of(&app, &c, &r).await,
            serde_json::json!(["pwd", "otp", "mfa"])
        );
        let r = grant(&app, &c, "alice", "correct horse", Some(&codes[2])).await;
        like_a_wrong_password(&r, &wrong, "a spent recovery code");
        // Bob has no second factor: his password alone, amr pwd.
        let r = grant(&app, &c, "bob", "correct horse", None).await;
        assert_eq!(amr_of(&app, &c, &r).await, serde_json::json!(["pwd"]));
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_missing_or_wrong_otp_counts_toward_the_lockout() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn_clocked(
            &db,
            &["--login-max-failures", "3", "--login-lockout", "60"],
            Clock::manual_from_now(),
        )
        .await;
        let (secret, _) = enrol(&app, &logged_in(&app, "alice").await).await;
        let wrong = grant(&app, &c, "alice", "wrong horse", None).await;
        // The right password twice without a code: with the wrong
        // password, three failures.
        for _ in 0..2 {
            let r = grant(&app, &c, "alice", "correct horse", None).await;
            like_a_wrong_password(&r, &wrong, "no otp");
        }
        // Locked: even both right are refused, like a wrong password.
        let r = grant(
            &app,
            &c,
            "alice",
            "correct horse",
            Some(&code(&app, &secret)),
        )
        .await;
        like_a_wrong_password(&r, &wrong, "locked");
        app.clock.advance(61);
        let r = grant(
            &app,
            &c,
            "alice",
            "correct horse",
            Some(&code(&app, &secret)),
        )
        .await;
        assert_eq!(r.status, 200, "after the lock: {}", r.raw);
        app.stop().await;
    })
    .await;
}
