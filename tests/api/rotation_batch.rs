//! Refresh rotations made many at a time: at the storage layer on every
//! backend (one statement on PostgreSQL), and through the server on
//! PostgreSQL, where concurrent refreshes share a statement.

use std::time::{Duration, Instant};

use authd::db::refresh_batch::{rotate_many, Rotation};
use authd::db::refresh_tokens::{self, Claim, RefreshToken};
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::fixtures::{self, conn, password_grant, post, standard};
use crate::helpers::{backends, postgres_only, TestApp};

#[test]
fn a_batch_claims_each_token_once_and_stores_only_what_it_claimed() {
    for db in backends() {
        let mut c = conn(&db);
        standard(&db);
        let (user_id, client_id) = fixtures::standard_ids(&mut c);
        let now = 10_000_000;
        let row = |hash: &str, family: &str| RefreshToken {
            token_hash: hash.into(),
            family_id: family.into(),
            parent_hash: None,
            user_id: user_id.clone(),
            client_id: client_id.clone(),
            scope: "posts:read".into(),
            issued_at: now - 10,
            expires_at: now + 1_000,
            used_at: None,
            revoked_at: None,
            generation: 0,
            family_expires_at: now + 10_000,
        };
        for (hash, family) in [("a", "fa"), ("b", "fb"), ("used", "fu"), ("sibling", "fr")] {
            refresh_tokens::insert(&mut c, &row(hash, family)).unwrap();
        }
        refresh_tokens::claim(&mut c, "used", now - 5).unwrap();
        // A family with a revoked token is dead, live token or not.
        let revoked = RefreshToken {
            revoked_at: Some(now - 1),
            ..row("revoked", "fr")
        };
        refresh_tokens::insert(&mut c, &revoked).unwrap();
        let rotation = |old: &str, new: &str| Rotation {
            hash: old.into(),
            successor: RefreshToken {
                parent_hash: Some(old.into()),
                ..row(new, &format!("f{old}"))
            },
            now,
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
                Claim::Claimed,
                Claim::Claimed,
                Claim::AlreadyUsed,
                Claim::AlreadyUsed,
                Claim::Unusable,
                Claim::NotFound,
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
        assert_eq!(a.used_at, Some(now), "[{}]", db.label());
        // An empty batch is a no-op, not an error.
        assert!(rotate_many(&mut c, &[]).unwrap().is_empty());
    }
}

/// Both lanes are held on row locks taken by hand, ten refreshes queue
/// meanwhile, and once the locks go they are answered, all of them, from
/// statements holding more than one rotation each.
#[actix_web::test]
async fn queued_rotations_share_a_statement() {
    let Some(db) = postgres_only("queued_rotations_share_a_statement") else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    let mut tokens = Vec::new();
    for _ in 0..12 {
        let login = password_grant(&app, &c, &[]).await;
        tokens.push(login.body["refresh_token"].as_str().unwrap().to_string());
    }
    let hashes: Vec<String> = tokens
        .iter()
        .map(|t| authd::secret::Secret::new(t.clone()).hash())
        .collect();
    let mut holder = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    let held = diesel::sql_query(format!(
        "SELECT 1 FROM refresh_tokens WHERE token_hash IN ('{}', '{}') FOR UPDATE",
        hashes[0], hashes[1]
    ))
    .execute(&mut holder)
    .unwrap();
    assert_eq!(held, 2);

    let refresh = |token: String| {
        let (http, url, id, secret) = (
            app.http.clone(),
            app.url("/oauth/token"),
            c.id.clone(),
            c.secret.clone(),
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
            res.status().as_u16()
        })
    };
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    let mut pending = vec![refresh(tokens[0].clone())];
    wait_for_lock_waits(&mut watcher, 1).await;
    pending.push(refresh(tokens[1].clone()));
    wait_for_lock_waits(&mut watcher, 2).await;
    let before = batches(&app).await;
    for token in &tokens[2..] {
        pending.push(refresh(token.clone()));
    }
    // Until the ten have read their tokens and queued (nothing to poll:
    // they wait in the server's memory).
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    let mut statuses = Vec::new();
    for p in pending {
        statuses.push(p.await.unwrap());
    }
    assert_eq!(statuses, vec![200; 12]);
    let after = batches(&app).await;
    // The two held rotations, then the ten in at most two statements
    // (one per lane), each of several.
    let statements = after.0 - before.0;
    let rotations = after.1 - before.1;
    assert!(
        rotations >= 12.0 && statements <= 4.0,
        "{rotations} rotations in {statements} statements"
    );
    // Each successor works: the rotations really were stored.
    for token in &tokens {
        let again = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await;
        again.assert_error(400, "invalid_grant");
    }
    app.stop().await;
}

/// Until `n` backends of the test database wait for a lock.
async fn wait_for_lock_waits(watcher: &mut PgConnection, n: i64) {
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let w: Waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(watcher)
        .unwrap();
        if w.n >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{} of {n} lock waits", w.n);
        // Not a blocking sleep: the server runs on this thread.
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
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
