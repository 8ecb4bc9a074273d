//! The login's second step (docs/interface.md "Second factors"): after a
//! right password a user with TOTP is asked for a code, with no session
//! until it is accepted; the step is bound to the password step (same
//! user, five minutes); wrong codes count toward the username's lockout
//! like wrong passwords; no code is accepted twice; a recovery code works
//! once. On every backend, on a manual clock (codes follow it).

use authd::clock::Clock;

use crate::support::browser::{csrf_token, set_cookie, Browser};
use crate::support::code_flow::logged_in;
use crate::support::fixtures::{user, Reply};
use crate::support::helpers::{on_every_backend, TestApp};
use crate::support::totp::{code, code_at, enrol, second_step};

/// The message of every failed password login.
const FAILED: &str = "Invalid username or password.";

/// A user `name` (password "correct horse") with TOTP on; the secret and
/// the recovery codes. Signed out again.
async fn with_totp(
    app: &TestApp,
    db: &crate::support::helpers::TestDb,
    name: &str,
) -> (String, Vec<String>) {
    user(db, name, "correct horse", &[]);
    let browser = logged_in(app, name).await;
    enrol(app, &browser).await
}

/// Signs in with the password only: the redirect to the second step.
async fn password_step(browser: &Browser, next: Option<&str>, name: &str) -> String {
    let r = browser.log_in_to(next, name, "correct horse").await;
    assert_eq!(r.status, 303, "{}", r.raw);
    assert!(
        set_cookie(&r, "authd_session").is_none(),
        "no session before the second step: {:?}",
        r.headers
    );
    let to = r.header("location").unwrap().to_string();
    assert!(to.starts_with("/login/code"), "{to}");
    to
}

fn signed_in_as(r: &Reply) -> bool {
    set_cookie(r, "authd_session").is_some_and(|c| !c.starts_with("authd_session=;"))
}

#[actix_web::test]
async fn a_login_with_totp_needs_a_code_and_accepts_none_twice() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let (secret, _) = with_totp(&app, &db, "alice").await;

        let browser = Browser::new(&app);
        let step = password_step(&browser, Some("/account/security"), "alice").await;
        assert_eq!(step, "/login/code?next=%2Faccount%2Fsecurity");
        // Not signed in: pages that need a session still send to login.
        assert_eq!(browser.signed_in().await, None);
        let page = browser.get(&step).await;
        assert_eq!(page.status, 200, "{}", page.raw);
        assert!(page.raw.contains(r#"name="code""#), "{}", page.raw);
        assert!(page.raw.contains(r#"<label for="code">"#), "{}", page.raw);

        // A wrong code: the form again, no session.
        let now = app.clock.now();
        let wrong = format!(
            "{:06}",
            (code_at(&secret, now).parse::<u32>().unwrap() + 7) % 1_000_000
        );
        let r = second_step(&browser, &step, &wrong).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("That code is not right."), "{}", r.raw);
        assert!(!signed_in_as(&r));
        // The right one: signed in, on to `next`; no password hashed.
        let good = code(&app, &secret);
        let hashed = app.passwords.total();
        let r = second_step(&browser, &step, &good).await;
        assert_eq!(
            app.passwords.total(),
            hashed,
            "the second step hashes nothing"
        );
        assert_eq!(r.status, 303, "{}", r.raw);
        assert_eq!(r.header("location"), Some("/account/security"));
        assert!(signed_in_as(&r), "{:?}", r.headers);
        assert_eq!(browser.signed_in().await.unwrap().0, "alice");

        // The same code again, in another browser, after a right
        // password: refused (no replay), within its window or not.
        let other = Browser::new(&app);
        let step = password_step(&other, None, "alice").await;
        let r = second_step(&other, &step, &good).await;
        assert_eq!(r.status, 400, "a replayed code: {}", r.raw);
        assert!(!signed_in_as(&r));
        // Nor the code of the step before the accepted one.
        let r = second_step(&other, &step, &code_at(&secret, now - 30)).await;
        assert_eq!(r.status, 400, "an older code: {}", r.raw);
        // The next step's code works.
        app.clock.advance(30);
        let r = second_step(&other, &step, &code(&app, &secret)).await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert_eq!(r.header("location"), Some("/"));
        assert_eq!(other.signed_in().await.unwrap().0, "alice");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_code_for_another_user_or_without_the_password_step_is_refused() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let (_, _) = with_totp(&app, &db, "alice").await;
        let (bob_secret, bob_codes) = with_totp(&app, &db, "bob").await;
        app.clock.advance(30);

        // Alice's password, Bob's current code and recovery code.
        let browser = Browser::new(&app);
        let step = password_step(&browser, None, "alice").await;
        for wrong in [code(&app, &bob_secret), bob_codes[0].clone()] {
            let r = second_step(&browser, &step, &wrong).await;
            assert_eq!(r.status, 400, "{}", r.raw);
            assert!(!signed_in_as(&r));
        }
        assert_eq!(browser.signed_in().await, None);

        // Without the form's CSRF token: refused before any check.
        let r = browser
            .post(&step, &[("code", &code(&app, &bob_secret))])
            .await;
        assert_eq!(r.status, 403, "{}", r.raw);

        // No password step at all: a fresh browser with the login form's
        // nonce, posting Bob's current code.
        let fresh = Browser::new(&app);
        let (_, token) = fresh.login_page(None).await;
        let r = fresh
            .post(
                "/login/code",
                &[("csrf_token", &token), ("code", &code(&app, &bob_secret))],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("sign in again"), "{}", r.raw);
        assert!(!signed_in_as(&r));
        // A forged step cookie (the vault seals it: no guessing).
        fresh.set_cookie(
            "authd_login_step",
            "enc:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        );
        let r = fresh
            .post(
                "/login/code",
                &[("csrf_token", &token), ("code", &code(&app, &bob_secret))],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(!signed_in_as(&r));
        // Bob's code still works for Bob: none of this used it.
        let bob = Browser::new(&app);
        let step = password_step(&bob, None, "bob").await;
        let r = second_step(&bob, &step, &code(&app, &bob_secret)).await;
        assert_eq!(r.status, 303, "{}", r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_second_step_expires_after_five_minutes() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let (secret, _) = with_totp(&app, &db, "alice").await;
        let browser = Browser::new(&app);
        let step = password_step(&browser, Some("/console"), "alice").await;
        let page = browser.get(&step).await;
        let token = csrf_token(&page.raw).unwrap();
        app.clock.advance(5 * 60);
        let r = browser
            .post(
                &step,
                &[("csrf_token", &token), ("code", &code(&app, &secret))],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("sign in again"), "{}", r.raw);
        // The login form again, still going to `next`.
        assert!(
            r.raw.contains(r#"action="/login?next=%2Fconsole""#),
            "{}",
            r.raw
        );
        assert!(!signed_in_as(&r));
        assert_eq!(browser.signed_in().await, None);
        // Its code is still unused: a new login takes it.
        let step = password_step(&browser, None, "alice").await;
        let r = second_step(&browser, &step, &code(&app, &secret)).await;
        assert_eq!(r.status, 303, "{}", r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn wrong_codes_lock_the_username_like_wrong_passwords() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_clocked(
            &db,
            &["--login-max-failures", "3", "--login-lockout", "60"],
            Clock::manual_from_now(),
        )
        .await;
        let (secret, codes) = with_totp(&app, &db, "alice").await;
        let browser = Browser::new(&app);
        // One wrong password and two wrong codes: three failures.
        let r = browser.log_in("alice", "wrong horse").await;
        assert!(r.raw.contains(FAILED), "{}", r.raw);
        let step = password_step(&browser, None, "alice").await;
        for wrong in ["000000", "aaaa-bbbb-cccc-dddd"] {
            let r = second_step(&browser, &step, wrong).await;
            assert_eq!(r.status, 400, "{}", r.raw);
        }
        // Locked: the right code is refused like a wrong one, and the
        // right password like a wrong one.
        let r = second_step(&browser, &step, &code(&app, &secret)).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("That code is not right."), "{}", r.raw);
        assert!(!signed_in_as(&r));
        let r = browser.log_in("alice", "correct horse").await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains(FAILED), "{}", r.raw);
        // Nothing was used up: after the lock, the same code and a
        // recovery code still work.
        app.clock.advance(61);
        let step = password_step(&browser, None, "alice").await;
        let r = second_step(&browser, &step, &codes[0]).await;
        assert_eq!(r.status, 303, "{}", r.raw);
        // A right password alone does not clear the count: a known
        // password cannot buy more guesses at the code.
        let other = Browser::new(&app);
        for _ in 0..2 {
            let step = password_step(&other, None, "alice").await;
            let r = second_step(&other, &step, "111111").await;
            assert_eq!(r.status, 400, "{}", r.raw);
        }
        let step = password_step(&other, None, "alice").await;
        let r = second_step(&other, &step, "222222").await;
        assert_eq!(r.status, 400, "{}", r.raw);
        let r = other.log_in("alice", "correct horse").await;
        assert!(r.raw.contains(FAILED), "locked again: {}", r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_recovery_code_works_once_however_it_is_typed() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let (_, codes) = with_totp(&app, &db, "alice").await;
        let browser = Browser::new(&app);
        let step = password_step(&browser, None, "alice").await;
        let typed = codes[4].to_uppercase().replace('-', " ");
        let r = second_step(&browser, &step, &typed).await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert!(signed_in_as(&r));

        let other = Browser::new(&app);
        let step = password_step(&other, None, "alice").await;
        let r = second_step(&other, &step, &codes[4]).await;
        assert_eq!(r.status, 400, "a used recovery code: {}", r.raw);
        assert!(!signed_in_as(&r));
        let r = second_step(&other, &step, &codes[5]).await;
        assert_eq!(r.status, 303, "{}", r.raw);
        // The page counts what is left.
        let page = other.get("/account/security").await;
        assert!(page.raw.contains("You have 8 unused"), "{}", page.raw);
        app.stop().await;
    })
    .await;
}
