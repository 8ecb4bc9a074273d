//! Concurrency that must never end in a 500 or a failed command: requests
//! racing each other, and admin commands beside a busy server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::support::fixtures::{password_grant, post, standard, TestClient};
use crate::support::helpers::{authd, on_every_backend, TestApp, TestDb};

#[actix_web::test]
async fn twenty_concurrent_revocations_of_one_access_token() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_with(&db, &["--db-pool-size", "20"]).await;
        let c = standard(&db);
        let r = password_grant(&app, &c, &[]).await;
        let at = r.body["access_token"].as_str().unwrap().to_string();
        let form = [("token", at.as_str())];
        let attempts = (0..20).map(|_| post(&app, "/oauth/revoke", Some(&c), &form));
        let replies = futures_util::future::join_all(attempts).await;
        for r in &replies {
            assert_eq!(r.status, 200, "[{}] {}", db.label(), r.raw);
        }
        let i = post(&app, "/oauth/introspect", Some(&c), &[("token", &at)]).await;
        assert_eq!(
            i.body,
            serde_json::json!({"active": false}),
            "[{}]",
            db.label()
        );
        app.stop().await;
    })
    .await;
}

/// Admin commands that read, then write, one round of each, named by `i`.
fn admin_round(db: &TestDb, i: usize) -> Vec<String> {
    let (role, user, client) = (format!("r{i}"), format!("u{i}"), format!("c{i}"));
    let password = Some("long enough password\n");
    let mut failed = Vec::new();
    let mut run = |args: &[&str], stdin: Option<&str>| {
        let mut all = args.to_vec();
        all.push("--json");
        let out = authd(db, &all, stdin);
        if !out.status.success() {
            failed.push(format!(
                "authd {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default()
    };
    run(&["role", "add", &role, "--scope", "posts:read"], None);
    run(
        &["user", "add", &user, "--role", &role, "--password-stdin"],
        password,
    );
    run(&["user", "grant-role", &user, "writer"], None);
    run(&["user", "disable", &user], None);
    run(&["user", "enable", &user], None);
    run(
        &["user", "set-password", &user, "--password-stdin"],
        password,
    );
    let added = run(&["client", "add", &client], None);
    let id = added["client_id"].as_str().unwrap_or("missing").to_string();
    run(&["client", "rotate-secret", &id], None);
    run(&["client", "remove", &id], None);
    run(&["keys", "rotate"], None);
    failed
}

/// Logs alice in, then rotates her refresh token until `stop`; returns
/// how many requests succeeded, or the first answer that was not a 200.
async fn keep_refreshing(
    app: &TestApp,
    c: &TestClient,
    stop: &AtomicBool,
) -> Result<usize, String> {
    let mut done = 0;
    let mut token = String::new();
    while !stop.load(Ordering::SeqCst) {
        let r = if token.is_empty() {
            password_grant(app, c, &[]).await
        } else {
            let form = [("grant_type", "refresh_token"), ("refresh_token", &token)];
            post(app, "/oauth/token", Some(c), &form).await
        };
        if r.status != 200 {
            return Err(r.raw);
        }
        token = r.body["refresh_token"].as_str().unwrap_or("").to_string();
        done += 1;
        // A fresh login now and then, so the password grant writes too.
        if done % 10 == 0 {
            token.clear();
        }
    }
    Ok(done)
}

#[actix_web::test]
async fn admin_commands_beside_a_busy_server() {
    on_every_backend(|db| async move {
        let db = Arc::new(db);
        let app = TestApp::spawn_with(&db, &["--db-pool-size", "8"]).await;
        let c = standard(&db);
        let stop = AtomicBool::new(false);
        let admin = {
            let db = db.clone();
            actix_web::rt::task::spawn_blocking(move || {
                (0..3).flat_map(|i| admin_round(&db, i)).collect::<Vec<_>>()
            })
        };
        let load = futures_util::future::join_all((0..6).map(|_| keep_refreshing(&app, &c, &stop)));
        let stopper = async {
            let failed = admin.await.expect("admin commands ran");
            stop.store(true, Ordering::SeqCst);
            failed
        };
        let (failed, load) = futures_util::future::join(stopper, load).await;
        assert!(failed.is_empty(), "[{}]\n{}", db.label(), failed.join("\n"));
        for l in load {
            let done = l.unwrap_or_else(|e| panic!("[{}] server answered {e}", db.label()));
            assert!(done > 0, "[{}] the server handled no request", db.label());
        }
        app.stop().await;
    })
    .await;
}

/// PostgreSQL: removing a client while one of its tokens is being rotated.
/// The rotation holds its token's row lock and then needs a share lock on
/// the client row for the successor's foreign key; a removal that deleted
/// the client row first would wait on the token in its cascade, and
/// PostgreSQL would abort one of the two (a deadlock). Here the rotation's
/// first half runs by hand in a transaction that holds the token's lock
/// while the CLI removes the client.
#[actix_web::test]
async fn removing_a_client_during_a_rotation_waits_for_it() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(db) =
        crate::support::helpers::postgres_only("removing_a_client_during_a_rotation_waits_for_it")
    else {
        return;
    };
    let db = Arc::new(db);
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    password_grant(&app, &c, &[]).await;
    app.stop().await;

    let mut rotation = PgConnection::establish(db.url()).unwrap();
    let sql = |conn: &mut PgConnection, q: String| diesel::sql_query(q).execute(conn);
    sql(&mut rotation, "BEGIN".into()).unwrap();
    let locked = sql(
        &mut rotation,
        format!(
            "SELECT 1 FROM refresh_tokens WHERE client_id = '{}' FOR UPDATE",
            c.id
        ),
    )
    .unwrap();
    assert_eq!(locked, 1);

    let removal = {
        let (db, id) = (db.clone(), c.id.clone());
        std::thread::spawn(move || authd(&db, &["client", "remove", &id], None))
    };
    // Until the removal waits for a lock: the token's (without the
    // change, the token's too, but holding the client row).
    crate::support::helpers::wait_until_blocked(&db, &removal, "the removal");
    // The rotation's second half: the successor, under the foreign key.
    let inserted = sql(
        &mut rotation,
        "INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, user_id, client_id, \
         scope, issued_at, expires_at, generation, family_expires_at) \
         SELECT 'successor', family_id, token_hash, user_id, client_id, scope, issued_at, \
         expires_at, generation, family_expires_at FROM refresh_tokens"
            .into(),
    );
    assert_eq!(
        inserted.map_err(|e| e.to_string()),
        Ok(1),
        "the rotation's insert"
    );
    sql(&mut rotation, "COMMIT".into()).unwrap();
    let out = removal.join().unwrap();
    assert!(
        out.status.success(),
        "the removal failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = sql(&mut rotation, "SELECT 1 FROM refresh_tokens".into()).unwrap();
    assert_eq!(left, 0, "the client's tokens outlived it");
}

/// A refresh whose token was locked when the rotation statement ran is
/// made alone; there it can lose a deadlock (SQLSTATE 40P01) to a
/// transaction that holds its user's row and then asks for its token.
/// PostgreSQL aborts the rotation, which left nothing behind: it is made
/// again and the client gets its tokens, not a 500.
#[actix_web::test]
async fn a_lone_rotation_that_loses_a_deadlock_is_made_again() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(db) = crate::support::helpers::postgres_only(
        "a_lone_rotation_that_loses_a_deadlock_is_made_again",
    ) else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    let r = password_grant(&app, &c, &[]).await;
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();

    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    #[derive(diesel::QueryableByName)]
    struct Xid {
        #[diesel(sql_type = diesel::sql_types::Text)]
        xid: String,
    }
    let url = db.url().to_string();
    let (ready, started) = std::sync::mpsc::channel();
    let locks = std::thread::spawn(move || {
        let connect = || PgConnection::establish(&url).unwrap();
        let (mut a, mut b, mut watcher) = (connect(), connect(), connect());
        let run = |conn: &mut PgConnection, q: &str| diesel::sql_query(q).execute(conn).unwrap();
        let count = |conn: &mut PgConnection, q: &str| {
            diesel::sql_query(q).get_result::<N>(conn).unwrap().n
        };
        let wait_until = |watcher: &mut PgConnection, q: &str, what: &str| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while count(watcher, q) == 0 {
                assert!(std::time::Instant::now() < deadline, "{what}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        // A holds the token: the rotation statement skips it, and the
        // rotation made alone waits for it.
        run(&mut a, "BEGIN");
        run(&mut a, "SELECT 1 FROM refresh_tokens FOR UPDATE");
        ready.send(()).unwrap();
        // In this test's database only: other tests run beside it.
        let waiting = "SELECT count(*) AS n FROM pg_locks l \
            JOIN pg_stat_activity a ON a.pid = l.pid \
            WHERE NOT l.granted AND a.datname = current_database()";
        wait_until(
            &mut watcher,
            waiting,
            "the lone rotation never waited for the token",
        );
        // B holds the user's row; A lets the token go: the rotation claims
        // it, then its successor's foreign key waits for B.
        // B never looks for the deadlock first (the test connects as a
        // superuser, who may set this): the rotation's backend, with the
        // server's default of a second, finds it and is the one aborted.
        run(&mut b, "SET deadlock_timeout = '60s'");
        run(&mut b, "BEGIN");
        run(&mut b, "SELECT 1 FROM users FOR UPDATE");
        let xid = diesel::sql_query("SELECT pg_current_xact_id()::text AS xid")
            .get_result::<Xid>(&mut b)
            .unwrap()
            .xid;
        run(&mut a, "COMMIT");
        let on_b = format!(
            "SELECT count(*) AS n FROM pg_locks WHERE NOT granted \
             AND locktype = 'transactionid' AND transactionid::text = '{xid}'"
        );
        wait_until(
            &mut watcher,
            &on_b,
            "the rotation never waited for the user's row",
        );
        // B asks for the token the rotation holds: a deadlock, which the
        // rotation (waiting longer) detects and loses.
        run(&mut b, "SELECT 1 FROM refresh_tokens FOR UPDATE");
        run(&mut b, "ROLLBACK");
    });
    while started.try_recv().is_err() {
        assert!(!locks.is_finished(), "the locking thread failed");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let form = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
    let r = post(&app, "/oauth/token", Some(&c), &form).await;
    locks.join().expect("the locks went as planned");
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.body["refresh_token"].is_string(), "{}", r.raw);
    app.stop().await;
}

/// A write that refers to a user or client deleted meanwhile (a grant
/// racing an administrator) fails on the database's foreign key; the
/// answer is the one those deletions give, never a 500: PostgreSQL's own
/// constraint names tell the client from the user.
#[test]
fn a_write_that_lost_its_user_or_client_is_not_a_500() {
    use authd::db::refresh_tokens::{self, RefreshToken};
    use authd::oauth::error::OAuthError;
    let Some(db) =
        crate::support::helpers::postgres_only("a_write_that_lost_its_user_or_client_is_not_a_500")
    else {
        return;
    };
    let c = standard(&db);
    let (user_id, client_id) =
        crate::support::fixtures::standard_ids(&mut crate::support::fixtures::conn(&db));
    assert_eq!(client_id, c.id);
    let token = |user_id: &str, client_id: &str| RefreshToken {
        token_hash: authd::secret::random_id(),
        family_id: "f".into(),
        parent_hash: None,
        user_id: user_id.into(),
        client_id: client_id.into(),
        scope: String::new(),
        issued_at: 0,
        expires_at: 1,
        used_at: None,
        revoked_at: None,
        generation: 0,
        family_expires_at: 1,
        auth_time: None,
        sid: None,
        amr: None,
    };
    let mut conn = crate::support::fixtures::conn(&db);
    for (t, code) in [
        (token("deleted-user", &client_id), "invalid_grant"),
        (token(&user_id, "removed-client"), "invalid_client"),
    ] {
        let e = refresh_tokens::insert(&mut conn, &t).unwrap_err();
        assert_eq!(OAuthError::from(e).code(), code);
    }
}
