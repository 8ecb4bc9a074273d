//! Refresh tokens: rotation, reuse detection, atomic consumption under
//! concurrency, and everything that ends a token, on every backend.

use crate::support::fixtures::{
    self, conn, password_grant, post, standard, ClientSpec, Reply, TestClient,
};
use crate::support::helpers::{every_backend, on_every_backend, TestApp, TestDb};
use authd::clock::Clock;
use authd::db::refresh_tokens::RefreshToken;

pub async fn refresh(app: &TestApp, c: &TestClient, token: &str, scope: Option<&str>) -> Reply {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    post(app, "/oauth/token", Some(c), &form).await
}

fn rt(r: &Reply) -> String {
    r.body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token: {}", r.raw))
        .to_string()
}

fn assert_invalid_grant(r: &Reply, db: &TestDb) {
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant"),
        "[{}] {}",
        db.label(),
        r.raw
    );
}

#[actix_web::test]
async fn rotation_and_reuse_detection() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let first = rt(&password_grant(&app, &c, &[]).await);

        let r1 = refresh(&app, &c, &first, None).await;
        assert_eq!(r1.status, 200, "{}", r1.raw);
        assert_eq!(r1.header("cache-control"), Some("no-store"));
        assert_eq!(r1.body["scope"], "posts:read posts:write");
        let second = rt(&r1);
        assert_ne!(second, first);

        // Narrowing works; the next token still carries the original grant.
        let r2 = refresh(&app, &c, &second, Some("posts:read")).await;
        assert_eq!(r2.body["scope"], "posts:read", "{}", r2.raw);
        let third = rt(&r2);
        let r3 = refresh(&app, &c, &third, None).await;
        assert_eq!(r3.body["scope"], "posts:read posts:write", "{}", r3.raw);
        let fourth = rt(&r3);

        // Widening is refused.
        let wide = refresh(&app, &c, &fourth, Some("posts:read posts:delete")).await;
        wide.assert_error(400, "invalid_scope");

        // Presenting a rotated token: invalid_grant, and the live
        // descendant dies with the family.
        assert_invalid_grant(&refresh(&app, &c, &first, None).await, &db);
        assert_invalid_grant(&refresh(&app, &c, &fourth, None).await, &db);

        // A new login starts a new, unaffected family.
        let fresh = rt(&password_grant(&app, &c, &[]).await);
        assert_eq!(refresh(&app, &c, &fresh, None).await.status, 200);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn twenty_concurrent_refreshes_one_winner() {
    on_every_backend(|db| async move {
        // Without a retry grace (the default, said here so that this test
        // keeps its meaning if the default changes).
        let args = ["--db-pool-size", "20", "--refresh-retry-grace", "0"];
        let app = TestApp::spawn_with(&db, &args).await;
        let c = standard(&db);
        let token = rt(&password_grant(&app, &c, &[]).await);
        let attempts = (0..20).map(|_| refresh(&app, &c, &token, None));
        let replies = futures_util::future::join_all(attempts).await;
        let ok = replies.iter().filter(|r| r.status == 200).count();
        let bad = replies
            .iter()
            .filter(|r| r.status == 400 && r.error() == "invalid_grant")
            .count();
        let others: Vec<&str> = replies
            .iter()
            .filter(|r| r.status != 200 && r.error() != "invalid_grant")
            .map(|r| r.raw.as_str())
            .collect();
        assert_eq!(
            (ok, bad),
            (1, 19),
            "[{}] unexpected replies: {others:?}",
            db.label()
        );
        // The losers were reuses: the winner's successor died with its
        // family, whichever way each loser met the claim (on PostgreSQL
        // some share the winner's statement).
        let winner = replies.iter().find(|r| r.status == 200).unwrap();
        assert_invalid_grant(&refresh(&app, &c, &rt(winner), None).await, &db);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_token_works_only_for_its_own_client() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let other = ClientSpec::new(&db)
            .grants(&["password", "refresh_token"])
            .scopes("posts:read")
            .create();
        let token = rt(&password_grant(&app, &c, &[]).await);
        assert_invalid_grant(&refresh(&app, &other, &token, None).await, &db);
        // The owner can still use it: a foreign client is not reuse.
        assert_eq!(refresh(&app, &c, &token, None).await.status, 200);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn disable_set_password_and_client_removal_end_tokens() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let now = || authd::clock::Clock::system().now();

        let t = rt(&password_grant(&app, &c, &[]).await);
        authd::manage::users::set_disabled(&mut conn(&db), "alice", true, now()).unwrap();
        assert_invalid_grant(&refresh(&app, &c, &t, None).await, &db);
        authd::manage::users::set_disabled(&mut conn(&db), "alice", false, now()).unwrap();
        assert_invalid_grant(&refresh(&app, &c, &t, None).await, &db);

        let t = rt(&password_grant(&app, &c, &[]).await);
        let hash = fixtures::hash_password("another horse");
        let set =
            authd::manage::users::set_password(&mut conn(&db), "alice", &hash, now()).unwrap();
        assert!(set.revoked >= 1);
        assert_invalid_grant(&refresh(&app, &c, &t, None).await, &db);

        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "another horse"),
            ],
        )
        .await;
        let t = rt(&r);
        authd::manage::clients::remove(&mut conn(&db), &c.id, None).unwrap();
        let r = refresh(&app, &c, &t, None).await;
        r.assert_error(401, "invalid_client");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn refresh_tokens_expire_on_the_servers_clock() {
    on_every_backend(|db| async move {
        // Data first, then the server: its manual clock starts no earlier
        // than the user's tokens_valid_after.
        let c = standard(&db);
        let app = TestApp::spawn_clocked(
            &db,
            &["--refresh-token-ttl", "60"],
            Clock::manual_from_now(),
        )
        .await;
        let t = rt(&password_grant(&app, &c, &[]).await);
        app.clock.advance(59);
        let next = refresh(&app, &c, &t, None).await;
        assert_eq!(
            next.status,
            200,
            "[{}] live at 59 s: {:?}",
            db.label(),
            next.body
        );
        // Each rotation starts a new idle lifetime.
        app.clock.advance(59);
        let last = refresh(&app, &c, &rt(&next), None).await;
        assert_eq!(last.status, 200, "[{}] {:?}", db.label(), last.body);
        app.clock.advance(60);
        assert_invalid_grant(&refresh(&app, &c, &rt(&last), None).await, &db);
        app.stop().await;
    })
    .await;
}

#[test]
fn the_janitor_removes_only_what_expired() {
    every_backend(|db| {
        let mut c = conn(&db);
        standard(&db);
        let (user_id, client_id) = fixtures::standard_ids(&mut c);
        let row = |hash: &str, expires_at: i64| authd::db::refresh_tokens::RefreshToken {
            token_hash: hash.into(),
            family_id: hash.into(),
            parent_hash: None,
            user_id: user_id.clone(),
            client_id: client_id.clone(),
            scope: "posts:read".into(),
            issued_at: 0,
            expires_at,
            used_at: None,
            revoked_at: None,
            generation: 0,
            family_expires_at: expires_at,
            auth_time: None,
            sid: None,
            amr: None,
        };
        let now = 10_000_000;
        authd::db::refresh_tokens::insert(&mut c, &row("old", now - 200_000)).unwrap();
        authd::db::refresh_tokens::insert(&mut c, &row("live", now + 10)).unwrap();
        // A revoked token long expired, in a family that lives on with a
        // successor its revocation missed: the tombstone stays.
        let tombstone = authd::db::refresh_tokens::RefreshToken {
            revoked_at: Some(now - 300_000),
            family_expires_at: now + 1_000,
            ..row("tomb", now - 200_000)
        };
        let missed = authd::db::refresh_tokens::RefreshToken {
            parent_hash: Some("tomb".into()),
            family_expires_at: now + 1_000,
            ..row("missed", now + 10)
        };
        authd::db::refresh_tokens::insert(&mut c, &tombstone).unwrap();
        authd::db::refresh_tokens::insert(
            &mut c,
            &RefreshToken {
                family_id: "tomb".into(),
                ..missed
            },
        )
        .unwrap();
        authd::db::revoked_access_tokens::insert(&mut c, "gone", now - 1, None).unwrap();
        authd::db::revoked_access_tokens::insert(&mut c, "kept", now + 100, None).unwrap();
        assert_eq!(
            authd::janitor::sweep(&mut c, now).unwrap(),
            2,
            "[{}]",
            db.label()
        );
        assert!(authd::db::refresh_tokens::find(&mut c, "old")
            .unwrap()
            .is_none());
        assert!(authd::db::refresh_tokens::find(&mut c, "live")
            .unwrap()
            .is_some());
        {
            use authd::db::schema::revoked_access_tokens::dsl;
            use diesel::{QueryDsl, RunQueryDsl};
            let kept: i64 = dsl::revoked_access_tokens
                .find("kept")
                .count()
                .get_result(&mut c)
                .unwrap();
            assert_eq!(
                kept,
                1,
                "[{}] an unexpired revocation was purged",
                db.label()
            );
        }
        assert!(
            authd::db::refresh_tokens::family_revoked(&mut c, "tomb").unwrap(),
            "[{}] the purge revived a revoked family",
            db.label()
        );
    });
}

#[actix_web::test]
async fn rotation_never_extends_a_family_past_its_absolute_lifetime() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(
            &db,
            &["--refresh-token-ttl", "60", "--refresh-max-lifetime", "100"],
            Clock::manual_from_now(),
        )
        .await;
        let mut t = rt(&password_grant(&app, &c, &[]).await);
        // Used every 45 s, the idle lifetime never runs out...
        for _ in 0..2 {
            app.clock.advance(45);
            let next = refresh(&app, &c, &t, None).await;
            assert_eq!(next.status, 200, "[{}] {:?}", db.label(), next.body);
            t = rt(&next);
        }
        // ...but 100 s after the login the family ends.
        app.clock.advance(11);
        assert_invalid_grant(&refresh(&app, &c, &t, None).await, &db);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_family_with_any_revoked_token_is_dead() {
    // What a revocation racing a rotation leaves on PostgreSQL (READ
    // COMMITTED): the old token revoked, the successor inserted meanwhile
    // untouched. The successor must not work.
    use diesel::prelude::*;
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let first = rt(&password_grant(&app, &c, &[]).await);
        let second = rt(&refresh(&app, &c, &first, None).await);
        {
            use authd::db::schema::refresh_tokens as t;
            let hash = authd::secret::hash_str(&first);
            diesel::update(t::table.find(hash))
                .set(t::revoked_at.eq(Some(1i64)))
                .execute(&mut conn(&db))
                .unwrap();
        }
        assert_invalid_grant(&refresh(&app, &c, &second, None).await, &db);
        app.stop().await;
    })
    .await;
}

/// The refresh grant reads the token's user before its write; the claim
/// itself must refuse a token whose user changed in between (a password
/// set or a disable that, for a token near its expiry, revoked nothing).
#[actix_web::test]
async fn the_claim_itself_refuses_a_user_whose_credentials_changed() {
    use authd::db::refresh_tokens::{self, Claim};
    use diesel::RunQueryDsl;
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn(&db).await;
        let login = password_grant(&app, &c, &[]).await;
        let token = authd::secret::Secret::new(rt(&login));
        let mut conn = conn(&db);
        // What a password change does to the user, without the revocation
        // of its tokens (which it skips for tokens already expired).
        diesel::sql_query("UPDATE users SET credential_generation = credential_generation + 1")
            .execute(&mut conn)
            .expect("bump");
        // The rotation as the grant makes it (on PostgreSQL one statement,
        // on SQLite the claim and the insert): refused, nothing stored.
        let now = Clock::system().now();
        let mut next = refresh_tokens::find(&mut conn, &token.hash())
            .expect("read")
            .expect("stored");
        next.parent_hash = Some(next.token_hash.clone());
        next.token_hash = authd::secret::Secret::generate().hash();
        let claimed = refresh_tokens::rotate(&mut conn, &token.hash(), &next, now).expect("rotate");
        assert_eq!(claimed, Claim::Unusable, "[{}]", db.label());
        let stored = refresh_tokens::find(&mut conn, &next.token_hash).expect("read");
        assert!(stored.is_none(), "[{}] successor stored", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_refresh_grants_what_the_users_roles_grant_now() {
    use diesel::RunQueryDsl;
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        // Two roles, their scopes read with the token in one query.
        fixtures::role(&db, "reader", "posts:read");
        fixtures::role(&db, "deleter", "posts:delete");
        fixtures::user(&db, "bob", "correct horse", &["reader", "deleter"]);
        let c = ClientSpec::new(&db)
            .grants(&["password", "refresh_token"])
            .scopes("posts:read posts:write posts:delete")
            .create();
        let login = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", "correct horse"),
                ("scope", "posts:read posts:delete"),
            ],
        )
        .await;
        assert_eq!(login.status, 200, "{}", login.raw);
        let r1 = refresh(&app, &c, &rt(&login), None).await;
        assert_eq!(
            r1.body["scope"],
            "posts:delete posts:read",
            "[{}] {}",
            db.label(),
            r1.raw
        );

        let unassign = |role: &str| {
            diesel::sql_query(format!("DELETE FROM user_roles WHERE role_name = '{role}'"))
                .execute(&mut conn(&db))
                .expect("unassign");
        };
        unassign("deleter");
        let r2 = refresh(&app, &c, &rt(&r1), None).await;
        assert_eq!(
            r2.body["scope"],
            "posts:read",
            "[{}] {}",
            db.label(),
            r2.raw
        );
        unassign("reader");
        let r3 = refresh(&app, &c, &rt(&r2), None).await;
        r3.assert_error(400, "invalid_scope");
        app.stop().await;
    })
    .await;
}

/// PostgreSQL: the janitor skips a row another transaction holds (here an
/// expired token being revoked) instead of waiting for it, so it never
/// takes part in a deadlock; the next sweep removes it.
#[test]
fn the_janitor_skips_rows_locked_elsewhere() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};
    let Some(db) =
        crate::support::helpers::postgres_only("the_janitor_skips_rows_locked_elsewhere")
    else {
        return;
    };
    let mut c = conn(&db);
    standard(&db);
    let mut holder = PgConnection::establish(db.url()).unwrap();
    holder
        .batch_execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scope, \
               issued_at, expires_at, generation, family_expires_at) \
             SELECT h, h, u.id, c.client_id, '', 0, 1, 0, 1 \
             FROM (VALUES ('held'), ('free')) AS t(h), users u, clients c",
        )
        .unwrap();
    // Apart: in one string, BEGIN would take the INSERT into its transaction.
    holder
        .batch_execute("BEGIN; SELECT 1 FROM refresh_tokens WHERE token_hash = 'held' FOR UPDATE")
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let swept = authd::janitor::sweep(&mut c, 10_000_000).map_err(|e| e.to_string());
        let _ = tx.send((swept, c));
    });
    let (swept, mut c) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the sweep waited for the locked row");
    assert_eq!(swept, Ok(1));
    holder.batch_execute("COMMIT").unwrap();
    assert_eq!(
        authd::janitor::sweep(&mut c, 10_000_000).map_err(|e| e.to_string()),
        Ok(1)
    );
}
