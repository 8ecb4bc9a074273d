//! Refresh rotations made many at a time: at the storage layer on every
//! backend (one statement on PostgreSQL), and through the server on
//! PostgreSQL, where concurrent refreshes share a statement.

use std::time::{Duration, Instant};

use authd::db::refresh_batch::{rotate_many, Rotation};
use authd::db::refresh_tokens::{self, Claim, RefreshToken};
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::support::fixtures::{self, conn, password_grant, standard};
use crate::support::helpers::{every_backend, postgres_only, TestApp};

/// The tests' "now" (Unix seconds).
const NOW: i64 = 10_000_000;

/// A live token of `family` for the (user, client) `ids`.
fn live(ids: &(String, String), hash: &str, family: &str) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        family_id: family.into(),
        parent_hash: None,
        user_id: ids.0.clone(),
        client_id: ids.1.clone(),
        scope: "posts:read".into(),
        issued_at: NOW - 10,
        expires_at: NOW + 1_000,
        used_at: None,
        revoked_at: None,
        generation: 0,
        family_expires_at: NOW + 10_000,
        auth_time: None,
        sid: None,
        amr: None,
    }
}

#[test]
fn a_batch_claims_each_token_once_and_stores_only_what_it_claimed() {
    every_backend(|db| {
        let mut c = conn(&db);
        standard(&db);
        let ids = fixtures::standard_ids(&mut c);
        let row = |hash: &str, family: &str| live(&ids, hash, family);
        for (hash, family) in [("a", "fa"), ("b", "fb"), ("used", "fu"), ("sibling", "fr")] {
            refresh_tokens::insert(&mut c, &row(hash, family)).unwrap();
        }
        refresh_tokens::claim(&mut c, "used", NOW - 5).unwrap();
        // A family with a revoked token is dead, live token or not.
        let revoked = RefreshToken {
            revoked_at: Some(NOW - 1),
            ..row("revoked", "fr")
        };
        refresh_tokens::insert(&mut c, &revoked).unwrap();
        let rotation = |old: &str, new: &str| Rotation {
            hash: old.into(),
            successor: RefreshToken {
                parent_hash: Some(old.into()),
                ..row(new, &format!("f{old}"))
            },
            sealed: None,
            now: NOW,
        };
        let batch = [
            rotation("a", "a1"),
            rotation("b", "b1"),
            // The same token again in the same batch: a reuse.
            rotation("a", "a2"),
            rotation("used", "used1"),
            rotation("sibling", "sibling1"),
            rotation("unknown", "unknown1"),
        ];
        let claims = rotate_many(&mut c, &batch).unwrap();
        assert_eq!(
            claims,
            [
                Some(Claim::Claimed),
                Some(Claim::Claimed),
                Some(Claim::AlreadyUsed),
                Some(Claim::AlreadyUsed),
                Some(Claim::Unusable),
                // Not stored: left to a rotation of its own on PostgreSQL.
                (db.label() == "sqlite").then_some(Claim::NotFound),
            ],
            "[{}]",
            db.label()
        );
        for (hash, stored) in [
            ("a1", true),
            ("b1", true),
            ("a2", false),
            ("used1", false),
            ("sibling1", false),
            ("unknown1", false),
        ] {
            let found = refresh_tokens::find(&mut c, hash).unwrap();
            assert_eq!(found.is_some(), stored, "[{}] successor {hash}", db.label());
        }
        let a1 = refresh_tokens::find(&mut c, "a1").unwrap().unwrap();
        assert_eq!(
            (a1.parent_hash.as_deref(), a1.family_id.as_str()),
            (Some("a"), "fa")
        );
        let a = refresh_tokens::find(&mut c, "a").unwrap().unwrap();
        assert_eq!(a.used_at, Some(NOW), "[{}]", db.label());
        // An empty batch is a no-op, not an error.
        assert!(rotate_many(&mut c, &[]).unwrap().is_empty());
    });
}

/// A token another transaction holds locked is left out of the batch (to
/// be rotated alone, waiting for that lock) instead of holding it up.
#[test]
fn a_batch_skips_tokens_locked_elsewhere() {
    let Some(db) = postgres_only("a_batch_skips_tokens_locked_elsewhere") else {
        return;
    };
    let mut c = conn(&db);
    standard(&db);
    let ids = fixtures::standard_ids(&mut c);
    let row = |hash: &str| live(&ids, hash, &format!("f{hash}"));
    for hash in ["held", "free"] {
        refresh_tokens::insert(&mut c, &row(hash)).unwrap();
    }
    let mut holder = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query("SELECT 1 FROM refresh_tokens WHERE token_hash = 'held' FOR UPDATE")
        .execute(&mut holder)
        .unwrap();
    let rotation = |old: &str| Rotation {
        hash: old.into(),
        successor: RefreshToken {
            parent_hash: Some(old.into()),
            family_id: format!("f{old}"),
            ..row(&format!("{old}1"))
        },
        sealed: None,
        now: NOW,
    };
    let claims = rotate_many(&mut c, &[rotation("held"), rotation("free")]).unwrap();
    assert_eq!(claims, [None, Some(Claim::Claimed)]);
    assert!(refresh_tokens::find(&mut c, "held1").unwrap().is_none());
    assert!(refresh_tokens::find(&mut c, "free1").unwrap().is_some());
    diesel::sql_query("ROLLBACK").execute(&mut holder).unwrap();
    let held = refresh_tokens::find(&mut c, "held").unwrap().unwrap();
    assert_eq!(held.used_at, None, "the skipped token was not claimed");
}

/// `n` fresh refresh tokens of [`standard`]'s alice, from logins.
async fn logins(app: &TestApp, c: &crate::support::fixtures::TestClient, n: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for _ in 0..n {
        let login = password_grant(app, c, &[]).await;
        tokens.push(login.body["refresh_token"].as_str().unwrap().to_string());
    }
    tokens
}

/// A refresh in a task of its own: its status and its new refresh token.
fn refresh_task(
    app: &TestApp,
    c: &crate::support::fixtures::TestClient,
    token: &str,
) -> actix_web::rt::task::JoinHandle<(u16, String)> {
    let (http, url, id, secret, token) = (
        app.http.clone(),
        app.url("/oauth/token"),
        c.id.clone(),
        c.secret.clone(),
        token.to_string(),
    );
    actix_web::rt::spawn(async move {
        let form = [("grant_type", "refresh_token"), ("refresh_token", &token)];
        let res = http
            .post(url)
            .basic_auth(id, secret)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        let next = body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (status, next)
    })
}

/// The rotation thread is held (by a lock on the user's row, which storing
/// a successor must share), eleven refreshes queue meanwhile, and once the
/// lock goes they are answered, all of them, from statements holding
/// several rotations.
#[actix_web::test]
async fn queued_rotations_share_a_statement() {
    let Some(db) = postgres_only("queued_rotations_share_a_statement") else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    let tokens = logins(&app, &c, 12).await;
    let mut holder = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query("SELECT 1 FROM users WHERE username = 'alice' FOR UPDATE")
        .execute(&mut holder)
        .unwrap();
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    let before = batches(&app).await;
    let mut pending = vec![refresh_task(&app, &c, &tokens[0])];
    wait_for_lock_waits(&mut watcher, 1).await;
    for token in &tokens[1..] {
        pending.push(refresh_task(&app, &c, token));
    }
    // Until the eleven have read their tokens and queued (nothing to
    // poll: they wait in the server's memory).
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    let mut successors = Vec::new();
    for p in pending {
        let (status, next) = p.await.unwrap();
        assert_eq!(status, 200);
        successors.push(next);
    }
    let after = batches(&app).await;
    let statements = after.0 - before.0;
    let rotations = after.1 - before.1;
    assert!(
        rotations >= 12.0 && statements < rotations,
        "{rotations} rotations in {statements} statements"
    );
    // The successors were stored: each works once.
    for next in &successors {
        let (status, _) = refresh_task(&app, &c, next).await.unwrap();
        assert_eq!(status, 200);
    }
    app.stop().await;
}

/// Two tokens locked elsewhere, each presented: were they not skipped,
/// they would hold the rotation thread, and every other refresh would
/// wait. Only they wait.
#[actix_web::test]
async fn a_lock_on_some_tokens_holds_up_only_their_refreshes() {
    let Some(db) = postgres_only("a_lock_on_some_tokens_holds_up_only_their_refreshes") else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    let tokens = logins(&app, &c, 3).await;
    let hashes: Vec<String> = tokens
        .iter()
        .map(|t| authd::secret::Secret::new(t.clone()).hash())
        .collect();
    let mut holder = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM refresh_tokens WHERE token_hash IN ('{}', '{}') FOR UPDATE",
        hashes[0], hashes[1]
    ))
    .execute(&mut holder)
    .unwrap();
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    let held = [
        refresh_task(&app, &c, &tokens[0]),
        refresh_task(&app, &c, &tokens[1]),
    ];
    wait_for_lock_waits(&mut watcher, 2).await;
    let free = refresh_task(&app, &c, &tokens[2]);
    let answered = actix_web::rt::time::timeout(Duration::from_secs(10), free).await;
    let (status, _) = answered.expect("an unlocked token waited").unwrap();
    assert_eq!(status, 200);
    assert!(held.iter().all(|h| !h.is_finished()));
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    for h in held {
        assert_eq!(h.await.unwrap().0, 200);
    }
    app.stop().await;
}

/// Refreshes of tokens locked elsewhere wait on the pool, but at most half
/// of it: with every connection waiting, any other request would wait for
/// the pool until its timeout, and get a 503.
#[actix_web::test]
async fn refreshes_waiting_for_locked_tokens_leave_half_the_pool_free() {
    let Some(db) = postgres_only("refreshes_waiting_for_locked_tokens_leave_half_the_pool_free")
    else {
        return;
    };
    let app = TestApp::spawn_with(&db, &["--db-pool-size", "4", "--db-timeout", "5"]).await;
    let c = standard(&db);
    let machine = fixtures::ClientSpec::new(&db)
        .grants(&["client_credentials"])
        .create();
    let tokens = logins(&app, &c, 4).await;
    let hashes: Vec<String> = tokens
        .iter()
        .map(|t| format!("'{}'", authd::secret::Secret::new(t.clone()).hash()))
        .collect();
    let mut holder = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM refresh_tokens WHERE token_hash IN ({}) FOR UPDATE",
        hashes.join(", ")
    ))
    .execute(&mut holder)
    .unwrap();
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    let held: Vec<_> = tokens.iter().map(|t| refresh_task(&app, &c, t)).collect();
    wait_for_lock_waits(&mut watcher, 2).await;
    // Time for the other two to queue behind them.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let other = fixtures::post(
        &app,
        "/oauth/token",
        Some(&machine),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(other.status, 200, "{}", other.raw);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?} for a connection",
        started.elapsed()
    );
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    for h in held {
        assert_eq!(h.await.unwrap().0, 200);
    }
    app.stop().await;
}

/// Until `n` backends of the test database wait for a lock.
pub async fn wait_for_lock_waits(watcher: &mut PgConnection, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting = lock_waits(watcher);
        if waiting >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{waiting} of {n} lock waits");
        // Not a blocking sleep: the server runs on this thread.
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many backends of the test database wait for a lock now.
pub fn lock_waits(watcher: &mut PgConnection) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let w: Waiting = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .get_result(watcher)
    .unwrap();
    w.n
}

/// The writer metrics: statements (batches) and rotations (writes).
async fn batches(app: &TestApp) -> (f64, f64) {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    (
        value("authd_db_writer_batch_size_count"),
        value("authd_db_writer_writes_total"),
    )
}
