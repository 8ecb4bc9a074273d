//! Self-service registration (`/register`): off unless enabled, the CLI's
//! rules, the configured roles, CSRF, and the per-address limit.

use authd::clock::Clock;
use authd::manage::users::{self, UserView};

use crate::login_form::assert_safe_page;
use crate::support::browser::{csrf_token, Browser};
use crate::support::fixtures::{conn, role, user, Reply};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};

const ON: &[&str] = &["--allow-registration"];

fn all_users(db: &TestDb) -> Vec<UserView> {
    users::list(&mut conn(db)).unwrap()
}

/// The registration form and its CSRF token.
async fn form(browser: &Browser) -> (Reply, String) {
    let page = browser.get("/register").await;
    assert_eq!(page.status, 200, "{}", page.raw);
    let token = csrf_token(&page.raw).expect("the form has a csrf_token");
    (page, token)
}

/// Fills in and submits the form.
async fn sign_up(browser: &Browser, username: &str, password: &str, confirm: &str) -> Reply {
    let (_, token) = form(browser).await;
    browser
        .post(
            "/register",
            &[
                ("username", username),
                ("password", password),
                ("password_confirm", confirm),
                ("csrf_token", &token),
            ],
        )
        .await
}

#[actix_web::test]
async fn registration_is_off_unless_enabled() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let browser = Browser::new(&app);
    assert_eq!(browser.get("/register").await.status, 404);
    let r = browser
        .post(
            "/register",
            &[
                ("username", "mallory"),
                ("password", "long enough"),
                ("password_confirm", "long enough"),
            ],
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(all_users(&db).is_empty());
    let (login, _) = browser.login_page(None).await;
    assert!(!login.raw.contains("/register"), "no link: {}", login.raw);
    app.stop().await;
}

#[actix_web::test]
async fn a_new_user_gets_the_registration_roles_and_can_sign_in() {
    on_every_backend(|db| async move {
        role(&db, "reader", "posts:read");
        role(&db, "writer", "posts:write");
        let app = TestApp::spawn_with(
            &db,
            &["--allow-registration", "--registration-roles", "reader"],
        )
        .await;
        let browser = Browser::new(&app);
        let (login, _) = browser.login_page(None).await;
        assert!(
            login.raw.contains(r#"<a href="/register">"#),
            "{}",
            login.raw
        );
        let (page, _) = form(&browser).await;
        assert_safe_page(&page, "registration");
        for field in ["username", "password", "password_confirm"] {
            for needle in [
                format!(r#"<label for="{field}">"#),
                format!(r#"<input id="{field}" name="{field}""#),
            ] {
                assert!(page.raw.contains(&needle), "[{}] {needle}", db.label());
            }
        }
        assert!(page.raw.contains(r#"autocomplete="new-password""#));
        let r = sign_up(&browser, "dora", "a fine passphrase", "a fine passphrase").await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        let after = "/login?registered=1&next=%2Fconsole";
        assert_eq!(r.header("location"), Some(after));
        let welcome = browser.get(after).await;
        assert_eq!(welcome.status, 200);
        assert!(
            welcome
                .raw
                .contains(r#"<p class="notice" role="status">Your account is ready."#),
            "[{}] {}",
            db.label(),
            welcome.raw
        );
        let (plain, _) = browser.login_page(None).await;
        assert!(
            !plain.raw.contains("class=\"notice\""),
            "no notice without it"
        );
        let dora = users::get(&mut conn(&db), "dora").unwrap();
        assert_eq!(dora.roles, ["reader"], "[{}]", db.label());
        let stored = authd::db::users::by_username(&mut conn(&db), "dora")
            .unwrap()
            .unwrap();
        assert!(stored.password_hash.starts_with("$argon2id$"));
        let r = browser
            .log_in_to(Some("/console"), "dora", "a fine passphrase")
            .await;
        assert_eq!((r.status, r.header("location")), (303, Some("/console")));
        let console = browser.get("/console").await;
        assert_eq!(console.status, 200);
        assert!(console.raw.contains("<code>posts:read</code>"));
        assert!(!console.raw.contains("posts:write"));
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn an_unknown_registration_role_stops_the_start() {
    on_every_backend(|db| async move {
        role(&db, "reader", "posts:read");
        let args = [
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--allow-registration",
            "--registration-roles",
            "reader typo",
        ];
        let stderr = crate::support::helpers::authd_fails(&db, &args, None);
        assert!(
            stderr.contains("registration role 'typo' does not exist")
                && stderr.contains("authd role add typo"),
            "[{}] {stderr}",
            db.label()
        );
        // Off, the same setting is not consulted: no reason to refuse.
        let settings = crate::support::helpers::settings(&db, &["--registration-roles", "typo"]);
        let app = authd::app::Application::build(settings).await;
        assert!(app.is_ok(), "[{}] registration off starts", db.label());
    })
    .await;
}

#[actix_web::test]
async fn without_registration_roles_a_new_user_has_none() {
    let db = TestDb::sqlite();
    role(&db, "reader", "posts:read");
    let app = TestApp::spawn_with(&db, ON).await;
    let r = sign_up(&Browser::new(&app), "eve", "long enough", "long enough").await;
    assert_eq!(r.status, 303, "{}", r.raw);
    assert!(users::get(&mut conn(&db), "eve").unwrap().roles.is_empty());
    app.stop().await;
}

#[actix_web::test]
async fn a_taken_name_or_a_refused_password_shows_the_form_again() {
    on_every_backend(|db| async move {
        user(&db, "alice", "correct horse", &[]);
        let before = authd::db::users::by_username(&mut conn(&db), "alice")
            .unwrap()
            .unwrap()
            .password_hash;
        let app = TestApp::spawn_with(&db, ON).await;
        let browser = Browser::new(&app);
        for (username, password, confirm, message) in [
            (
                "alice",
                "a new password",
                "a new password",
                "That username is taken",
            ),
            (
                "frank",
                "short",
                "short",
                "Password too short: use at least 8 characters",
            ),
            (
                "frank",
                "long enough",
                "long enouhg",
                "The two passwords do not match",
            ),
            (
                "fr ank",
                "long enough",
                "long enough",
                "must not contain spaces",
            ),
            ("frank", "", "", "Choose a username and a password"),
            ("", "long enough", "long enough", "1 to 64 characters"),
        ] {
            let r = sign_up(&browser, username, password, confirm).await;
            assert_eq!(r.status, 400, "[{}] {username}: {}", db.label(), r.raw);
            assert_safe_page(&r, "refused registration");
            assert!(r.raw.contains(message), "{message}: {}", r.raw);
            assert!(r.raw.contains(r#"role="alert""#));
            // The form is back, ready to retry.
            assert!(csrf_token(&r.raw).is_some());
        }
        let r = sign_up(&browser, &"x".repeat(65), "long enough", "long enough").await;
        assert_eq!(r.status, 400);
        let r = sign_up(&browser, "frank", &"p".repeat(1025), &"p".repeat(1025)).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("Password too long"), "{}", r.raw);
        let names: Vec<String> = all_users(&db).into_iter().map(|u| u.username).collect();
        assert_eq!(names, ["alice"], "[{}] nothing created", db.label());
        let after = authd::db::users::by_username(&mut conn(&db), "alice")
            .unwrap()
            .unwrap()
            .password_hash;
        assert_eq!(before, after, "alice is untouched");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_form_needs_its_own_csrf_token() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_with(&db, ON).await;
        let browser = Browser::new(&app);
        form(&browser).await;
        let (_, login_token) = browser.login_page(None).await;
        for token in [None, Some("forged"), Some(login_token.as_str())] {
            let mut fields = vec![
                ("username", "mallory"),
                ("password", "long enough"),
                ("password_confirm", "long enough"),
            ];
            if let Some(t) = token {
                fields.push(("csrf_token", t));
            }
            let r = browser.post("/register", &fields).await;
            assert_eq!(r.status, 403, "[{}] {token:?}: {}", db.label(), r.raw);
            assert_safe_page(&r, "403");
        }
        // Another browser's token, without its nonce cookie, is no good.
        let (_, theirs) = form(&Browser::new(&app)).await;
        let r = browser
            .post(
                "/register",
                &[
                    ("username", "mallory"),
                    ("password", "long enough"),
                    ("password_confirm", "long enough"),
                    ("csrf_token", &theirs),
                ],
            )
            .await;
        assert_eq!(r.status, 403);
        assert!(all_users(&db).is_empty(), "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn registrations_count_toward_the_per_address_limit() {
    on_every_backend(|db| async move {
        user(&db, "alice", "correct horse", &[]);
        let app = TestApp::spawn_clocked(
            &db,
            &[
                "--allow-registration",
                "--ip-max-failures",
                "2",
                "--ip-failure-window",
                "60",
            ],
            Clock::manual_from_now(),
        )
        .await;
        let browser = Browser::new(&app);
        let r = sign_up(&browser, "gina", "long enough", "long enough").await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        let r = sign_up(&browser, "alice", "long enough", "long enough").await;
        assert_eq!(r.status, 400);
        let r = sign_up(&browser, "hank", "long enough", "long enough").await;
        assert_eq!(r.status, 429, "[{}] {}", db.label(), r.raw);
        assert_safe_page(&r, "429");
        let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert!(users::get(&mut conn(&db), "hank").is_err(), "not created");
        // The same count as the login form's.
        let r = browser.log_in("alice", "correct horse").await;
        assert_eq!(r.status, 429, "{}", r.raw);
        app.clock.advance(60);
        let r = sign_up(&browser, "hank", "long enough", "long enough").await;
        assert_eq!(r.status, 303, "{}", r.raw);
        app.stop().await;
    })
    .await;
}

/// A common or leaked password is refused, in any case, with a message
/// that says to choose another; nothing is created.
#[actix_web::test]
async fn a_common_password_is_refused_at_registration() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_with(&db, ON).await;
        let browser = Browser::new(&app);
        for password in ["password1", "Qwerty123", "ILOVEYOU"] {
            let r = sign_up(&browser, "frank", password, password).await;
            assert_eq!(r.status, 400, "[{}] {password}: {}", db.label(), r.raw);
            assert!(
                r.raw.contains(
                    "Password is too common (it appears in lists of leaked passwords): \
                     choose another"
                ),
                "[{}] {password}: {}",
                db.label(),
                r.raw
            );
        }
        assert!(
            all_users(&db).is_empty(),
            "[{}] nothing created",
            db.label()
        );
        let r = sign_up(
            &browser,
            "frank",
            "correct horse battery",
            "correct horse battery",
        )
        .await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        app.stop().await;
    })
    .await;
}
