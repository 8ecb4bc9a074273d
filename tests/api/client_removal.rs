//! Removing a client with many refresh tokens deletes them a chunk per
//! transaction, so that other writes go in between, and keeps
//! PostgreSQL's lock order (tokens in key order before the client row).

use std::sync::Arc;

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::metrics::{scrape, value};
use crate::support::fixtures::{conn, role, user, ClientSpec, TestClient};
use crate::support::helpers::{
    authd, on_every_backend, postgres_only, wait_until_blocked, TestApp, TestDb,
};

const TOKENS: i64 = 25_000;

/// Gives `client` [`TOKENS`] refresh tokens of alice's, in one statement.
fn many_tokens(db: &TestDb, client: &TestClient) {
    let sql = format!(
        "INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, user_id, client_id, \
         scope, issued_at, expires_at, generation, family_expires_at) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {TOKENS}) \
         SELECT 'bulk' || i, 'family' || i, NULL, u.id, '{}', 'posts:read', 0, 4102444800, \
         0, 4102444800 FROM n, users u WHERE u.username = 'alice'",
        client.id
    );
    let inserted = diesel::sql_query(sql).execute(&mut conn(db)).unwrap();
    assert_eq!(inserted as i64, TOKENS);
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn tokens_of(conn: &mut PgConnection, client_id: &str) -> i64 {
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM refresh_tokens WHERE client_id = '{client_id}'"
    ))
    .get_result::<Count>(conn)
    .unwrap()
    .n
}

/// SQLite's writer's writes so far.
async fn writes(app: &TestApp) -> f64 {
    let samples = scrape(app, &app.base).await;
    value(&samples, "authd_db_writer_writes_total", &[]).expect("the writer's count")
}

/// The console removes a client with many tokens and all of them; on
/// SQLite in several writes of the single writer (a chunk each, then the
/// client), not one that holds it for all of them.
#[actix_web::test]
async fn removing_a_client_with_many_tokens_takes_several_writes() {
    on_every_backend(|db| async move {
        role(&db, "writer", "posts:read");
        user(&db, "alice", "correct horse", &["writer"]);
        let app = TestApp::spawn(&db).await;
        let browser = crate::support::browser::Browser::new(&app);
        assert_eq!(browser.log_in("alice", "correct horse").await.status, 303);
        let page = browser.get("/console").await;
        let token = crate::support::browser::csrf_token(&page.raw).unwrap();
        let r = browser
            .post(
                "/console/clients",
                &[
                    ("name", "busy"),
                    ("grant", "password"),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let to = r.header("location").unwrap().to_string();
        let client = TestClient {
            id: to.trim_start_matches("/console/clients/").to_string(),
            secret: None,
        };
        many_tokens(&db, &client);
        // SQLite's writer counts its writes (PostgreSQL's writes go
        // through the pool, uncounted).
        let before = match db.label() {
            "sqlite" => Some(writes(&app).await),
            _ => None,
        };
        let r = browser
            .post(&format!("{to}/delete"), &[("csrf_token", &token)])
            .await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        if let Some(before) = before {
            let after = writes(&app).await;
            assert!(
                after - before >= 3.0,
                "[{}] the removal was {} write(s)",
                db.label(),
                after - before
            );
        }
        let left: Count = diesel::sql_query("SELECT count(*) AS n FROM refresh_tokens")
            .get_result(&mut conn(&db))
            .unwrap();
        assert_eq!(left.n, 0, "[{}]", db.label());
        assert_eq!(browser.get(&to).await.status, 404);
        app.stop().await;
    })
    .await;
}

/// PostgreSQL: while `authd client remove` waits for a token that another
/// transaction holds (the last in key order, as a rotation would), the
/// chunks before it are already committed: others see the client's
/// tokens going. When the holder commits, the removal finishes.
#[test]
fn client_remove_commits_its_token_chunks_as_it_goes() {
    let Some(db) = postgres_only("client_remove_commits_its_token_chunks_as_it_goes") else {
        return;
    };
    let db = Arc::new(db);
    role(&db, "writer", "posts:read");
    user(&db, "alice", "correct horse", &["writer"]);
    let client = ClientSpec::new(&db).create();
    many_tokens(&db, &client);

    let mut holder = PgConnection::establish(db.url()).unwrap();
    let sql = |conn: &mut PgConnection, q: &str| diesel::sql_query(q).execute(conn);
    sql(&mut holder, "BEGIN").unwrap();
    let held = sql(
        &mut holder,
        "SELECT 1 FROM refresh_tokens WHERE token_hash = \
         (SELECT max(token_hash) FROM refresh_tokens) FOR UPDATE",
    )
    .unwrap();
    assert_eq!(held, 1);

    let removal = {
        let (db, id) = (db.clone(), client.id.clone());
        std::thread::spawn(move || authd(&db, &["client", "remove", &id], None))
    };
    wait_until_blocked(&db, &removal, "the removal");
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    let left = tokens_of(&mut watcher, &client.id);
    assert!(
        left < TOKENS,
        "no chunk was committed before the wait: {left} tokens left"
    );
    sql(&mut holder, "COMMIT").unwrap();
    let out = removal.join().unwrap();
    assert!(
        out.status.success(),
        "the removal failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tokens_of(&mut watcher, &client.id), 0);
}
