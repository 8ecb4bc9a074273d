//! Concurrency that must never end in a 500 or a failed command: requests
//! racing each other, and admin commands beside a busy server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::fixtures::{password_grant, post, standard, TestClient};
use crate::helpers::{authd, backends, TestApp, TestDb};

#[actix_web::test]
async fn twenty_concurrent_revocations_of_one_access_token() {
    for db in backends() {
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
    }
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
    for db in backends() {
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
    }
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
        crate::helpers::postgres_only("removing_a_client_during_a_rotation_waits_for_it")
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
    crate::helpers::wait_until_blocked(&db, &removal, "the removal");
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
