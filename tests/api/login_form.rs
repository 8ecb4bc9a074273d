//! The login form (`GET`/`POST /login`), browser sessions and `POST
//! /logout`: the same password check as the password grant, sessions in
//! the database, CSRF, safe redirects and safe pages.

use authd::clock::Clock;
use authd::db::{sessions, users};
use authd::manage;

use crate::support::browser::{cookie_value, csrf_token, login_path, set_cookie, Browser};
use crate::support::fixtures::{conn, hash_password, login_as, standard, user, Reply};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};

const FAILED: &str = "Invalid username or password.";

fn alice_id(db: &TestDb) -> String {
    users::by_username(&mut conn(db), "alice")
        .unwrap()
        .expect("alice exists")
        .id
}

fn session_count(db: &TestDb) -> i64 {
    use authd::db::schema::sessions::dsl;
    use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
    dsl::sessions
        .filter(dsl::user_id.eq(alice_id(db)))
        .count()
        .get_result(&mut conn(db))
        .unwrap()
}

fn now() -> i64 {
    Clock::system().now()
}

/// The headers every page with a form must carry.
pub fn assert_safe_page(r: &Reply, what: &str) {
    let csp = r.header("content-security-policy").unwrap_or_default();
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: CSP {csp:?}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{what}"
    );
}

#[actix_web::test]
async fn the_login_page_has_labelled_fields_and_safe_headers() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let browser = Browser::new(&app);
        let (page, token) = browser.login_page(None).await;
        assert_safe_page(&page, db.label());
        let html = &page.raw;
        for needle in [
            r#"<form method="post" action="/login">"#,
            r#"<label for="username">"#,
            r#"<input id="username" name="username" type="text""#,
            r#"autocomplete="username""#,
            r#"<label for="password">"#,
            r#"<input id="password" name="password" type="password""#,
            r#"autocomplete="current-password""#,
            r#"<input type="hidden" name="csrf_token" value=""#,
            r#"<button type="submit">"#,
            r#"<link rel="stylesheet" href="/static/authd.css">"#,
        ] {
            assert!(
                html.contains(needle),
                "[{}] no {needle} in {html}",
                db.label()
            );
        }
        assert!(
            !html.contains("<style") && !html.contains("<script"),
            "{html}"
        );
        assert_eq!(token.len(), 43, "a 256-bit MAC");
        let nonce = set_cookie(&page, "authd_form").expect("the form's nonce cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(nonce.contains(attribute), "{nonce}");
        }
        // The stylesheet is served by authd itself.
        let css = browser.get("/static/authd.css").await;
        assert_eq!(css.status, 200);
        assert!(css.header("content-type").unwrap().starts_with("text/css"));
        assert!(css.raw.contains(".card"));
        // The form carries a local `next` to the POST, encoded.
        let (page, _) = browser.login_page(Some("/console?a=1&b=<x>")).await;
        assert!(
            page.raw
                .contains(r#"action="/login?next=%2Fconsole%3Fa%3D1%26b%3D%3Cx%3E""#),
            "{}",
            page.raw
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_login_starts_a_session_in_the_database_with_a_safe_cookie() {
    on_every_backend(|db| async move {
        standard(&db);
        let app = TestApp::spawn(&db).await;
        let browser = Browser::new(&app);
        assert_eq!(browser.signed_in().await, None);
        let r = browser.log_in("alice", "correct horse").await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        assert_eq!(r.header("location"), Some("/"), "the default page");
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let cookie = set_cookie(&r, "authd_session").expect("a session cookie");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(!cookie.contains("Secure"), "http issuer: {cookie}");
        assert!(
            !cookie.contains("Max-Age") && !cookie.contains("Expires"),
            "{cookie}"
        );
        let value = cookie_value(cookie);
        assert_eq!(value.len(), 43, "256 bits");
        // Only the hash is stored.
        let stored = sessions::find(&mut conn(&db), &authd::secret::hash_str(value))
            .unwrap()
            .expect("a session row");
        assert_eq!(stored.0.user_id, alice_id(&db));
        assert_eq!(session_count(&db), 1);
        assert!(sessions::find(&mut conn(&db), value).unwrap().is_none());
        let (name, _) = browser.signed_in().await.expect("signed in");
        assert_eq!(name, "alice", "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn with_an_https_issuer_cookies_are_secure_and_host_only() {
    let db = TestDb::sqlite();
    standard(&db);
    let app = TestApp::spawn_with(&db, &["--issuer", "https://auth.example"]).await;
    // The jar would not send Secure cookies over plain http: by hand.
    let page =
        crate::support::fixtures::reply(app.http.get(app.url("/login")).send().await.unwrap())
            .await;
    let nonce = set_cookie(&page, "__Host-authd_form").expect("a __Host- nonce cookie");
    assert!(
        nonce.contains("Secure") && nonce.contains("Path=/"),
        "{nonce}"
    );
    let token = csrf_token(&page.raw).unwrap();
    let res = app
        .http
        .post(app.url("/login"))
        .header(
            "cookie",
            format!("__Host-authd_form={}", cookie_value(nonce)),
        )
        .form(&[
            ("username", "alice"),
            ("password", "correct horse"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    let r = crate::support::fixtures::reply(res).await;
    assert_eq!(r.status, 303, "{}", r.raw);
    let cookie = set_cookie(&r, "__Host-authd_session").expect("a __Host- session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn every_failed_login_gets_the_same_page() {
    on_every_backend(|db| async move {
        standard(&db);
        user(&db, "carol", "carol's password", &[]);
        manage::users::set_disabled(&mut conn(&db), "carol", true, now()).unwrap();
        let app = TestApp::spawn(&db).await;
        let browser = Browser::new(&app);
        let (_, token) = browser.login_page(None).await;
        let attempt = |username: &'static str, password: &'static str| {
            let (browser, token) = (&browser, token.clone());
            async move {
                let form = [
                    ("username", username),
                    ("password", password),
                    ("csrf_token", token.as_str()),
                ];
                let r = browser.post("/login", &form).await;
                // The name typed is shown again; everything else is equal.
                let body = r
                    .raw
                    .replace(&format!(r#"value="{username}""#), r#"value="…""#);
                (r, body)
            }
        };
        let (wrong, wrong_body) = attempt("alice", "wrong password").await;
        assert_eq!(wrong.status, 400, "[{}] {}", db.label(), wrong.raw);
        assert_safe_page(&wrong, "failed login");
        assert_eq!(wrong.raw.matches(FAILED).count(), 1, "{}", wrong.raw);
        assert!(set_cookie(&wrong, "authd_session").is_none());
        for (username, password) in [("nobody", "whatever1"), ("carol", "carol's password")] {
            let (r, body) = attempt(username, password).await;
            assert_eq!(r.status, wrong.status, "[{}] {username}", db.label());
            assert_eq!(body, wrong_body, "[{}] {username}", db.label());
            assert!(r.headers.get("set-cookie").is_none());
        }
        assert_eq!(browser.signed_in().await, None);
        // What was typed is shown escaped.
        let (r, _) = attempt("\"><script>x</script>", "whatever1").await;
        assert!(
            r.raw
                .contains(r#"value="&#34;&#62;&#60;script&#62;x&#60;/script&#62;""#),
            "{}",
            r.raw
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_missing_or_wrong_csrf_token_is_403_and_checks_no_password() {
    on_every_backend(|db| async move {
        standard(&db);
        let app = TestApp::spawn_with(&db, &["--login-max-failures", "3"]).await;
        let browser = Browser::new(&app);
        let (_, token) = browser.login_page(None).await;
        let other = Browser::new(&app);
        let (_, others_token) = other.login_page(None).await;
        let no_cookie = Browser::new(&app);
        let hashed = app.passwords.total();
        let wrong = |t: &'static str| {
            [
                ("username", "alice"),
                ("password", "wrong"),
                ("csrf_token", t),
            ]
        };
        let cases: Vec<(&Browser, Vec<(&str, &str)>)> = vec![
            (&browser, vec![("username", "alice"), ("password", "wrong")]),
            (&browser, wrong("").to_vec()),
            (&browser, wrong("not-a-token").to_vec()),
            (
                &browser,
                vec![
                    ("username", "alice"),
                    ("password", "wrong"),
                    ("csrf_token", &others_token),
                ],
            ),
            (
                &no_cookie,
                vec![
                    ("username", "alice"),
                    ("password", "wrong"),
                    ("csrf_token", &token),
                ],
            ),
        ];
        for (who, form) in cases {
            let r = who.post("/login", &form).await;
            assert_eq!(r.status, 403, "[{}] {form:?}: {}", db.label(), r.raw);
            assert_safe_page(&r, "403");
            assert!(!r.raw.contains(FAILED));
            // A fresh form comes with it, so the user can retry.
            assert!(csrf_token(&r.raw).is_some());
        }
        assert_eq!(app.passwords.total(), hashed, "[{}] hashed", db.label());
        // Five forged posts counted no failure: alice is not locked.
        let r = browser.log_in("alice", "correct horse").await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_lockout_is_shared_with_the_password_grant_both_ways() {
    on_every_backend(|db| async move {
        let client = standard(&db);
        user(&db, "bob", "battery staple", &["writer"]);
        let app = TestApp::spawn_with(&db, &["--login-max-failures", "3"]).await;
        let browser = Browser::new(&app);

        // Locked through the grant: the form refuses the right password,
        // with the failure page, without hashing.
        for _ in 0..3 {
            login_as(&app, &client, "alice", "wrong password")
                .await
                .assert_error(400, "invalid_grant");
        }
        let hashed = app.passwords.total();
        let r = browser.log_in("alice", "correct horse").await;
        assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        assert!(r.raw.contains(FAILED));
        assert_eq!(app.passwords.total(), hashed, "[{}] hashed", db.label());
        assert_eq!(session_count(&db), 0);

        // Locked through the form: the grant refuses the right password.
        for _ in 0..3 {
            let r = browser.log_in("bob", "wrong password").await;
            assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        }
        login_as(&app, &client, "bob", "battery staple")
            .await
            .assert_error(400, "invalid_grant");
        let r = browser.log_in("bob", "battery staple").await;
        assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn next_is_followed_only_to_a_local_path() {
    on_every_backend(|db| async move {
        standard(&db);
        let app = TestApp::spawn(&db).await;
        let browser = Browser::new(&app);
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "evil.example",
        ] {
            let r = browser
                .log_in_to(Some(evil), "alice", "correct horse")
                .await;
            assert_eq!(r.status, 303, "[{}] {evil:?}: {}", db.label(), r.raw);
            assert_eq!(r.header("location"), Some("/"), "[{}] {evil:?}", db.label());
        }
        let r = browser
            .log_in_to(Some("/console?tab=clients"), "alice", "correct horse")
            .await;
        assert_eq!(r.header("location"), Some("/console?tab=clients"));
        // A raw query that is not valid UTF-8 once decoded is ignored too.
        let (_, token) = browser.login_page(None).await;
        let r = browser
            .post(
                "/login?next=%FF",
                &[
                    ("username", "alice"),
                    ("password", "correct horse"),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(r.header("location"), Some("/"));
        assert_eq!(login_path(Some("/x")), "/login?next=%2Fx");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_session_id_set_before_the_login_is_never_adopted() {
    on_every_backend(|db| async move {
        standard(&db);
        let app = TestApp::spawn(&db).await;

        // A value planted in the browser (it names no session).
        let victim = Browser::new(&app);
        let planted = authd::secret::Secret::generate();
        victim.set_cookie("authd_session", planted.expose());
        let r = victim.log_in("alice", "correct horse").await;
        let issued = cookie_value(set_cookie(&r, "authd_session").expect("a new cookie"));
        assert_ne!(issued, planted.expose());
        assert!(sessions::find(&mut conn(&db), &planted.hash())
            .unwrap()
            .is_none());

        // A real session planted (e.g. the attacker's own): the login
        // replaces it, and the old id stops working.
        let before = victim.cookie("authd_session").unwrap();
        let r = victim.log_in("alice", "correct horse").await;
        let after = cookie_value(set_cookie(&r, "authd_session").unwrap()).to_string();
        assert_ne!(after, before);
        let holder = Browser::new(&app);
        holder.set_cookie("authd_session", &before);
        assert_eq!(holder.signed_in().await, None, "[{}]", db.label());
        assert!(victim.signed_in().await.is_some());
        assert_eq!(session_count(&db), 1, "the old row is gone");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn logout_ends_the_session_and_needs_its_token() {
    on_every_backend(|db| async move {
        standard(&db);
        let app = TestApp::spawn(&db).await;
        let browser = Browser::new(&app);
        browser.log_in("alice", "correct horse").await;
        let id = browser.cookie("authd_session").expect("a session");

        // Another site cannot post the logout: no token, or a wrong one.
        for form in [vec![], vec![("csrf_token", "forged")]] {
            let r = browser.post("/logout", &form).await;
            assert_eq!(r.status, 403, "[{}] {}", db.label(), r.raw);
            assert_safe_page(&r, "logout 403");
        }
        assert!(browser.signed_in().await.is_some());

        let r = browser.log_out().await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        assert_eq!(r.header("location"), Some("/login"));
        let cleared = set_cookie(&r, "authd_session").expect("the cookie is cleared");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert_eq!(browser.signed_in().await, None);
        // The old id no longer authenticates, wherever it comes from.
        let replay = Browser::new(&app);
        replay.set_cookie("authd_session", &id);
        assert_eq!(replay.signed_in().await, None, "[{}]", db.label());
        assert_eq!(session_count(&db), 0);
        // Logging out without a session just clears the cookie.
        let r = replay.post("/logout", &[]).await;
        assert_eq!(r.status, 303);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_new_password_or_a_disable_ends_the_session() {
    on_every_backend(|db| async move {
        standard(&db);
        let app = TestApp::spawn(&db).await;
        let browser = Browser::new(&app);
        browser.log_in("alice", "correct horse").await;
        assert!(browser.signed_in().await.is_some());

        let hash = hash_password("a new password");
        manage::users::set_password(&mut conn(&db), "alice", &hash, now()).unwrap();
        assert_eq!(browser.signed_in().await, None, "[{}] password", db.label());

        let r = browser.log_in("alice", "a new password").await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        assert!(browser.signed_in().await.is_some());
        manage::users::set_disabled(&mut conn(&db), "alice", true, now()).unwrap();
        assert_eq!(browser.signed_in().await, None, "[{}] disable", db.label());
        // Enabling the user again does not bring the session back.
        let id = browser.cookie("authd_session");
        manage::users::set_disabled(&mut conn(&db), "alice", false, now()).unwrap();
        if let Some(id) = id {
            let replay = Browser::new(&app);
            replay.set_cookie("authd_session", &id);
            assert_eq!(replay.signed_in().await, None, "[{}] enable", db.label());
        }
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn sessions_end_when_idle_and_at_their_absolute_lifetime() {
    on_every_backend(|db| async move {
        standard(&db);
        let app = TestApp::spawn_clocked(
            &db,
            &["--session-idle", "300", "--session-lifetime", "1000"],
            Clock::manual_from_now(),
        )
        .await;
        let browser = Browser::new(&app);

        // Idle: each use keeps it alive for another 300 s.
        browser.log_in("alice", "correct horse").await;
        app.clock.advance(250);
        assert!(
            browser.signed_in().await.is_some(),
            "[{}] 250 s",
            db.label()
        );
        app.clock.advance(250);
        assert!(browser.signed_in().await.is_some(), "[{}] used", db.label());
        app.clock.advance(300);
        assert_eq!(browser.signed_in().await, None, "[{}] idle", db.label());
        assert_eq!(session_count(&db), 0, "a dead session is deleted");

        // Absolute: however active, it ends 1000 s after the login.
        browser.log_in("alice", "correct horse").await;
        for step in 1..=3 {
            app.clock.advance(250);
            assert!(
                browser.signed_in().await.is_some(),
                "[{}] {step}",
                db.label()
            );
        }
        app.clock.advance(249);
        assert!(
            browser.signed_in().await.is_some(),
            "[{}] 999 s",
            db.label()
        );
        app.clock.advance(1);
        assert_eq!(browser.signed_in().await, None, "[{}] lifetime", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_address_limit_gets_a_429_page() {
    on_every_backend(|db| async move {
        standard(&db);
        let app = TestApp::spawn_clocked(
            &db,
            &["--ip-max-failures", "2", "--ip-failure-window", "60"],
            Clock::manual_from_now(),
        )
        .await;
        let browser = Browser::new(&app);
        for name in ["u1", "u2"] {
            let r = browser.log_in(name, "wrong password").await;
            assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        }
        let r = browser.log_in("alice", "correct horse").await;
        assert_eq!(r.status, 429, "[{}] {}", db.label(), r.raw);
        assert_safe_page(&r, "429");
        let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        app.clock.advance(60);
        let r = browser.log_in("alice", "correct horse").await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_full_hashing_queue_gets_a_503_page() {
    let db = TestDb::sqlite();
    standard(&db);
    let app = TestApp::spawn_with(
        &db,
        &[
            "--argon2-memory-kib",
            "8192",
            "--argon2-iterations",
            "40",
            "--password-concurrency",
            "1",
            "--password-queue",
            "1",
        ],
    )
    .await;
    let browser = Browser::new(&app);
    let (_, token) = browser.login_page(None).await;
    // The right password against the fixture's cheap hash: each check
    // then rehashes at the server's slow cost, so the queue fills.
    let form = [
        ("username", "alice"),
        ("password", "correct horse"),
        ("csrf_token", token.as_str()),
    ];
    let replies =
        futures_util::future::join_all((0..8).map(|_| browser.post("/login", &form))).await;
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(!busy.is_empty(), "no 503 for 8 logins on 1 slot + 1 queued");
    for r in busy {
        assert_safe_page(r, "503");
        assert!(r.header("retry-after").is_some());
    }
    for r in replies.iter().filter(|r| r.status != 503) {
        assert_eq!(r.status, 303, "{}", r.raw);
    }
    app.stop().await;
}
