//! Brute-force defences: the per-username lockout (counted in the
//! database, shared by instances), the per-address limit, and the bounded
//! hashing queue.

use authd::clock::Clock;

use crate::support::fixtures::{login_as as login, reply, standard, Reply, TestClient};
use crate::support::helpers::{authd_fails, authd_json, authd_logging, on_every_backend, TestApp};

/// What a client can observe of an answer.
fn seen(r: &Reply) -> (u16, Option<String>, String) {
    (
        r.status,
        r.header("content-type").map(str::to_string),
        r.raw.clone(),
    )
}

const LIMITS: &[&str] = &["--login-max-failures", "3", "--login-lockout", "60"];

#[actix_web::test]
async fn a_locked_username_answers_like_a_wrong_password_without_hashing() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(&db, LIMITS, Clock::manual_from_now()).await;
        let wrong = login(&app, &c, "alice", "wrong password").await;
        wrong.assert_error(400, "invalid_grant");
        for _ in 0..2 {
            assert_eq!(
                seen(&login(&app, &c, "alice", "wrong password").await),
                seen(&wrong)
            );
        }
        // Locked: the right password gets the wrong-password answer, and
        // no hash runs for it.
        let hashed = app.passwords.total();
        let locked = login(&app, &c, "alice", "correct horse").await;
        assert_eq!(seen(&locked), seen(&wrong), "[{}] locked", db.label());
        assert_eq!(
            app.passwords.total(),
            hashed,
            "[{}] hashed while locked",
            db.label()
        );

        // After the lock, one more failure locks again for twice as long.
        app.clock.advance(61);
        login(&app, &c, "alice", "wrong again")
            .await
            .assert_error(400, "invalid_grant");
        app.clock.advance(61);
        let still = login(&app, &c, "alice", "correct horse").await;
        assert_eq!(
            seen(&still),
            seen(&wrong),
            "[{}] second lock is 120 s",
            db.label()
        );
        app.clock.advance(60);
        let ok = login(&app, &c, "alice", "correct horse").await;
        assert_eq!(ok.status, 200, "[{}] {}", db.label(), ok.raw);

        // A success resets the count: two failures no longer lock.
        for _ in 0..2 {
            login(&app, &c, "alice", "wrong")
                .await
                .assert_error(400, "invalid_grant");
        }
        assert_eq!(login(&app, &c, "alice", "correct horse").await.status, 200);

        // Unknown usernames are counted and locked alike.
        let unknown = login(&app, &c, "nobody", "whatever1").await;
        for _ in 0..3 {
            assert_eq!(
                seen(&login(&app, &c, "nobody", "whatever1").await),
                seen(&unknown)
            );
        }
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn two_instances_on_one_database_share_the_counts() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let one = TestApp::spawn_with(&db, LIMITS).await;
        let two = TestApp::spawn_with(&db, LIMITS).await;
        for _ in 0..3 {
            login(&one, &c, "alice", "wrong password")
                .await
                .assert_error(400, "invalid_grant");
        }
        let r = login(&two, &c, "alice", "correct horse").await;
        r.assert_error(400, "invalid_grant");
        one.stop().await;
        two.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn failures_per_address_get_429_until_the_window_passes() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(
            &db,
            &["--ip-max-failures", "2", "--ip-failure-window", "60"],
            Clock::manual_from_now(),
        )
        .await;
        // Different usernames: the per-username lock stays out of it.
        for name in ["u1", "u2"] {
            login(&app, &c, name, "wrong password")
                .await
                .assert_error(400, "invalid_grant");
        }
        let limited = login(&app, &c, "alice", "correct horse").await;
        limited.assert_error(429, "temporarily_unavailable");
        let retry: i64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(limited.header("cache-control"), Some("no-store"));
        app.clock.advance(60);
        assert_eq!(login(&app, &c, "alice", "correct horse").await.status, 200);
        app.stop().await;
    })
    .await;
}

/// Argon2 settings that make one verification take a noticeable while, so
/// that other work provably happens while it runs.
const SLOW_HASH: &[&str] = &["--argon2-memory-kib", "8192", "--argon2-iterations", "40"];

#[actix_web::test]
async fn beyond_the_queue_logins_get_503_at_once_and_the_rest_succeed() {
    let db = crate::support::helpers::TestDb::sqlite();
    let c = standard(&db);
    let mut args = SLOW_HASH.to_vec();
    args.extend(["--password-concurrency", "1", "--password-queue", "1"]);
    let app = TestApp::spawn_with(&db, &args).await;
    let replies =
        futures_util::future::join_all((0..8).map(|_| login(&app, &c, "alice", "correct horse")))
            .await;
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(!busy.is_empty(), "no 503 for 8 logins on 1 slot + 1 queued");
    for r in &busy {
        r.assert_error(503, "temporarily_unavailable");
        assert!(r.header("retry-after").is_some());
    }
    for r in replies.iter().filter(|r| r.status != 503) {
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    assert_eq!(app.passwords.peak_running(), 1);
    app.stop().await;
}

/// [`LIMITS`] behind a proxy on the loopback address, so that a test can
/// speak from any client address through `X-Forwarded-For`.
const PROXIED: &[&str] = &[
    "--login-max-failures",
    "3",
    "--login-lockout",
    "60",
    "--trusted-proxy",
    "127.0.0.1",
];

/// The password grant from client address `from` (through the trusted
/// proxy of [`PROXIED`]).
async fn login_from(
    app: &TestApp,
    c: &TestClient,
    from: &str,
    username: &str,
    password: &str,
) -> Reply {
    let req = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, c.secret.as_deref())
        .header("X-Forwarded-For", from)
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ]);
    reply(req.send().await.unwrap()).await
}

#[actix_web::test]
async fn an_attacker_at_another_address_cannot_lock_the_owner_out() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(&db, PROXIED, Clock::manual_from_now()).await;
        let attacker = "192.0.2.66";
        let wrong = login_from(&app, &c, attacker, "alice", "wrong password").await;
        wrong.assert_error(400, "invalid_grant");
        for _ in 0..2 {
            login_from(&app, &c, attacker, "alice", "wrong password").await;
        }
        // Locked for the attacker's address, exactly as before: even the
        // right password gets the wrong-password answer there.
        let there = login_from(&app, &c, attacker, "alice", "correct horse").await;
        assert_eq!(seen(&there), seen(&wrong), "[{}] attacker", db.label());
        // The owner, elsewhere, is not locked out.
        let owner = login_from(&app, &c, "198.51.100.7", "alice", "correct horse").await;
        assert_eq!(owner.status, 200, "[{}] owner: {}", db.label(), owner.raw);

        // IPv6 counts by /64: one host cannot rotate its way out of its
        // lock, and another network is not affected.
        for _ in 0..3 {
            login_from(&app, &c, "2001:db8:1:2::1", "alice", "wrong password").await;
        }
        let same_64 = login_from(&app, &c, "2001:db8:1:2::ffff", "alice", "correct horse").await;
        assert_eq!(seen(&same_64), seen(&wrong), "[{}] same /64", db.label());
        let other_64 = login_from(&app, &c, "2001:db8:1:3::1", "alice", "correct horse").await;
        assert_eq!(other_64.status, 200, "[{}] {}", db.label(), other_64.raw);
        app.stop().await;
    })
    .await;
}

/// Locks alice from the test's own address (three wrong passwords) and
/// checks that the right one is refused.
async fn lock_alice(app: &TestApp, c: &TestClient) {
    for _ in 0..3 {
        login(app, c, "alice", "wrong password")
            .await
            .assert_error(400, "invalid_grant");
    }
    login(app, c, "alice", "correct horse")
        .await
        .assert_error(400, "invalid_grant");
}

#[actix_web::test]
async fn set_password_clears_the_lock() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(&db, LIMITS, Clock::manual_from_now()).await;
        lock_alice(&app, &c).await;
        authd_json(
            &db,
            &["user", "set-password", "alice", "--password-stdin"],
            Some("battery staple\n"),
        );
        let r = login(&app, &c, "alice", "battery staple").await;
        assert_eq!(r.status, 200, "[{}] {}", db.label(), r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn user_unlock_clears_the_lock_and_is_audited() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(&db, LIMITS, Clock::manual_from_now()).await;
        lock_alice(&app, &c).await;
        let out = authd_logging(&db, &["user", "unlock", "alice", "--json"], None, "info");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "[{}] {stderr}", db.label());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["username"], "alice");
        assert_eq!(json["cleared"], 1, "[{}] {json}", db.label());
        assert!(
            stderr.contains("event=user_unlocked outcome=success")
                && stderr.contains(r#"username="alice" cleared=1 actor=cli"#),
            "[{}] {stderr}",
            db.label()
        );
        let r = login(&app, &c, "alice", "correct horse").await;
        assert_eq!(r.status, 200, "[{}] {}", db.label(), r.raw);

        // Nothing to clear is not an error; an unknown user is.
        let again = authd_json(&db, &["user", "unlock", "alice"], None);
        assert_eq!(again["cleared"], 0);
        let err = authd_fails(&db, &["user", "unlock", "nobody"], None);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("unknown user 'nobody'"), "{err}");
        app.stop().await;
    })
    .await;
}

/// Every spelling that logs in as one user shares that user's lock: a
/// guesser cannot get ten more tries by writing the name in capitals or
/// full-width letters.
#[actix_web::test]
async fn every_spelling_of_a_username_shares_its_lock() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(&db, LIMITS, Clock::manual_from_now()).await;
        let ok = login(&app, &c, "ALICE", "correct horse").await;
        assert_eq!(
            ok.status,
            200,
            "[{}] a spelling logs in: {}",
            db.label(),
            ok.raw
        );
        for spelling in ["Alice", "ALICE", "ａｌｉｃｅ"] {
            login(&app, &c, spelling, "wrong password")
                .await
                .assert_error(400, "invalid_grant");
        }
        let locked = login(&app, &c, "alice", "correct horse").await;
        locked.assert_error(400, "invalid_grant");
        app.stop().await;
    })
    .await;
}

/// A spelling longer than any username (decomposed accents: 80
/// characters) that still folds to a user's 40 counts toward that user's
/// lock: a name that finds a user is always lockable.
#[actix_web::test]
async fn a_long_spelling_of_a_username_is_locked_too() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let name = "é".repeat(40);
        crate::support::fixtures::user(&db, &name, "correct horse", &["writer"]);
        let long = "e\u{301}".repeat(40);
        let app = TestApp::spawn_clocked(&db, LIMITS, Clock::manual_from_now()).await;
        for _ in 0..3 {
            login(&app, &c, &long, "wrong password")
                .await
                .assert_error(400, "invalid_grant");
        }
        let locked = login(&app, &c, &long, "correct horse").await;
        assert_eq!(locked.status, 400, "[{}] {}", db.label(), locked.raw);
        app.stop().await;
    })
    .await;
}
