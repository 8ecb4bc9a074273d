//! A password reset or a disable always wins over a login in flight: the
//! issuing transaction re-reads the user, and the rehash is a
//! compare-and-set on the hash that was verified.

use std::time::{Duration, Instant};

use crate::support::fixtures::{conn, login_as, standard, Reply, TestClient};
use crate::support::helpers::{on_every_backend, TestApp};

async fn login(app: &TestApp, c: &TestClient, password: &str) -> Reply {
    login_as(app, c, "alice", password).await
}

/// The server's cost is far above the fixtures' cheap hashes, so a login
/// verifies quickly and then rehashes slowly: the admin acts meanwhile.
const REHASH_SLOWLY: &[&str] = &["--argon2-memory-kib", "8192", "--argon2-iterations", "60"];

async fn while_hashing(app: &TestApp, act: impl FnOnce()) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.passwords.running() == 0 {
        assert!(Instant::now() < deadline, "the login never started hashing");
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    }
    act();
    assert_eq!(app.passwords.running(), 1, "the admin acted after the hash");
}

#[actix_web::test]
async fn a_password_set_during_a_login_wins() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_with(&db, REHASH_SLOWLY).await;
        let (reply, ()) = futures_util::join!(login(&app, &c, "correct horse"), async {
            while_hashing(&app, || {
                let hash = crate::support::fixtures::hash_password("a brand new password");
                authd::manage::users::set_password(
                    &mut conn(&db),
                    "alice",
                    &hash,
                    authd::clock::Clock::system().now(),
                )
                .unwrap();
            })
            .await
        });
        reply.assert_error(400, "invalid_grant");
        // The old password's rehash did not overwrite the new hash.
        login(&app, &c, "correct horse")
            .await
            .assert_error(400, "invalid_grant");
        let ok = login(&app, &c, "a brand new password").await;
        assert_eq!(ok.status, 200, "[{}] {}", db.label(), ok.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_disable_during_a_login_wins() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_with(&db, REHASH_SLOWLY).await;
        let (reply, ()) = futures_util::join!(login(&app, &c, "correct horse"), async {
            while_hashing(&app, || {
                authd::manage::users::set_disabled(
                    &mut conn(&db),
                    "alice",
                    true,
                    authd::clock::Clock::system().now(),
                )
                .unwrap();
            })
            .await
        });
        reply.assert_error(400, "invalid_grant");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_lock_landing_during_a_login_wins() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_with(&db, REHASH_SLOWLY).await;
        let (reply, ()) = futures_util::join!(login(&app, &c, "correct horse"), async {
            // What other instances' failures from the same address do
            // meanwhile: lock the name for it.
            while_hashing(&app, || {
                let mut conn = conn(&db);
                let key = loopback_key();
                authd::db::login_failures::add_failure(&mut conn, &key.record, &key.username, 0)
                    .unwrap();
                let locked = authd::db::login_failures::Failures {
                    failures: 0,
                    locks: 1,
                    locked_until: authd::clock::Clock::system().now() + 600,
                };
                authd::db::login_failures::store(&mut conn, &key.record, &locked).unwrap();
            })
            .await
        });
        reply.assert_error(400, "invalid_grant");
        // ...and the lock was not cleared by the guess that raced it.
        let mut conn = conn(&db);
        let f = authd::db::login_failures::find(&mut conn, &loopback_key().record)
            .unwrap()
            .unwrap();
        assert_eq!(f.locks, 1, "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

/// The lock record of alice from the test client's address.
fn loopback_key() -> authd::login::lock_key::LockKey {
    authd::login::lock_key::lock_key("alice", "127.0.0.1".parse().ok())
}
