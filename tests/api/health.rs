//! `GET /healthz` on every backend, and what requests get while
//! PostgreSQL is unreachable: a quick RFC-shaped 503, then service again
//! once it answers, without a restart.

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::support::fixtures::{password_grant, standard, Reply, TestClient};
use crate::support::helpers::{on_every_backend, postgres_only, TestApp, TestDb};

/// The test database's name on its PostgreSQL server.
fn pg_name(db: &TestDb) -> String {
    url::Url::parse(db.url())
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string()
}

/// Runs `sql` on the server the test database lives on (as its admin,
/// from another database).
fn on_server(db: &TestDb, sql: &str) {
    let mut conn = PgConnection::establish(db.admin_url().unwrap()).unwrap();
    diesel::sql_query(sql).execute(&mut conn).unwrap();
}

/// Ends every session on the test database: what a server restart does to
/// pooled connections. Each termination waits (up to 5 s) until its
/// backend has exited and so closed its socket, as a restart has by the
/// time it accepts connections again.
fn terminate_sessions(db: &TestDb) {
    on_server(
        db,
        &format!(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '{}'",
            pg_name(db)
        ),
    );
}

/// Makes the test database refuse new sessions, or accept them again;
/// with [`terminate_sessions`], an outage of this one database that the
/// shared server and other tests do not notice.
fn allow_connections(db: &TestDb, allow: bool) {
    on_server(
        db,
        &format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
            pg_name(db)
        ),
    );
}

fn assert_unavailable(r: &Reply, what: &str) {
    r.assert_error(503, "temporarily_unavailable");
    assert!(
        r.header("retry-after")
            .is_some_and(|v| v.parse::<u64>().is_ok()),
        "{what}: Retry-After in seconds: {:?}",
        r.headers
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    assert!(r.body["error_description"].is_string(), "{what}: {}", r.raw);
}

/// Times a password grant.
async fn timed_login(app: &TestApp, c: &crate::support::fixtures::TestClient) -> (Reply, Duration) {
    let started = Instant::now();
    let r = password_grant(app, c, &[]).await;
    (r, started.elapsed())
}

#[actix_web::test]
async fn healthz_is_ok_while_the_database_answers() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let res = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200, "[{}]", db.label());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok"}));
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_home_page_names_the_issuer_escaped() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_with(&db, &["--issuer", "https://id.example.com/<b>"]).await;
        let res = app.http.get(app.url("/")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = res.text().await.unwrap();
        assert!(
            html.contains("https://id.example.com/&#60;b&#62;"),
            "{html}"
        );
        assert!(!html.contains("<b>"), "the issuer was not escaped");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn healthz_is_503_when_the_database_is_gone() {
    // Dropping a PostgreSQL database under a running server is the one way
    // to make a database stop answering without killing the shared server.
    let Some(mut db) = postgres_only("healthz_is_503_when_the_database_is_gone") else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    assert_eq!(app.status("/healthz").await, 200);
    db.drop_now();
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    // The metadata cannot list the scopes: 503, never a cacheable document
    // with none.
    let res = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    app.stop().await;
}

#[actix_web::test]
async fn the_pool_recovers_when_postgres_drops_its_connections() {
    let Some(db) = postgres_only("the_pool_recovers_when_postgres_drops_its_connections") else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    let login = password_grant(&app, &c, &[]).await;
    assert_eq!(login.status, 200);
    // A refresh, so that the rotation thread holds a connection of its
    // own.
    let refresh = |token: String| {
        let app = &app;
        let c = &c;
        async move {
            let form = [("grant_type", "refresh_token"), ("refresh_token", &token)];
            let r = crate::support::fixtures::post(app, "/oauth/token", Some(c), &form).await;
            assert_eq!(r.status, 200, "{}", r.raw);
            r.body["refresh_token"].as_str().unwrap().to_string()
        }
    };
    let next = refresh(login.body["refresh_token"].as_str().unwrap().into()).await;
    terminate_sessions(&db);
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "broken connections were handed out");
    // Token requests right after: served on fresh connections (the pool's
    // and the rotation thread's), not failed on dead ones.
    terminate_sessions(&db);
    let r = password_grant(&app, &c, &[]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    terminate_sessions(&db);
    refresh(next).await;
    // The client lookups' thread, likewise.
    let machine = machine_client(&db);
    assert_eq!(client_credentials(&app, &machine).await.status, 200);
    terminate_sessions(&db);
    let r = client_credentials(&app, &machine).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    app.stop().await;
}

/// A server at its connection limit for authd's role once the pool has
/// its connection: the rotation and read threads cannot open theirs, and their work is done on the pool instead of failing.
#[actix_web::test]
async fn at_the_connection_limit_the_threads_work_goes_to_the_pool() {
    let Some(mut db) = postgres_only("at_the_connection_limit_the_threads_work_goes_to_the_pool")
    else {
        return;
    };
    let role = format!("{}_role", pg_name(&db));
    on_server(&db, &format!("CREATE ROLE {role} LOGIN"));
    on_server(
        &db,
        &format!("ALTER DATABASE {} OWNER TO {role}", pg_name(&db)),
    );
    db.connect_as(&role);
    let app = TestApp::spawn_with(&db, &["--db-pool-size", "1"]).await;
    let c = standard(&db);
    let machine = machine_client(&db);
    let login = password_grant(&app, &c, &[]).await;
    assert_eq!(login.status, 200, "{}", login.raw);
    // Only the pool's connection is open (the threads connect when they
    // first have work): no more for this role.
    on_server(&db, &format!("ALTER ROLE {role} CONNECTION LIMIT 1"));
    let r = client_credentials(&app, &machine).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let form = [
        ("grant_type", "refresh_token"),
        (
            "refresh_token",
            login.body["refresh_token"].as_str().unwrap(),
        ),
    ];
    let r = crate::support::fixtures::post(&app, "/oauth/token", Some(&c), &form).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let access = [("token", login.body["access_token"].as_str().unwrap())];
    let r = crate::support::fixtures::post(&app, "/oauth/introspect", Some(&c), &access).await;
    assert_eq!(
        (r.status, &r.body["active"]),
        (200, &true.into()),
        "{}",
        r.raw
    );
    app.stop().await;
    db.drop_now();
    on_server(&db, &format!("DROP ROLE {role}"));
}

/// A client for the client_credentials grant.
fn machine_client(db: &TestDb) -> TestClient {
    crate::support::fixtures::ClientSpec::new(db)
        .name("machine")
        .grants(&["client_credentials"])
        .create()
}

async fn client_credentials(app: &TestApp, c: &TestClient) -> Reply {
    let form = [("grant_type", "client_credentials")];
    crate::support::fixtures::post(app, "/oauth/token", Some(c), &form).await
}

#[actix_web::test]
async fn token_requests_get_a_quick_503_during_an_outage_and_work_after_it() {
    let Some(db) =
        postgres_only("token_requests_get_a_quick_503_during_an_outage_and_work_after_it")
    else {
        return;
    };
    let app = TestApp::spawn_with(&db, &["--db-timeout", "2"]).await;
    let c = standard(&db);
    let machine = machine_client(&db);
    assert_eq!(password_grant(&app, &c, &[]).await.status, 200);
    assert_eq!(client_credentials(&app, &machine).await.status, 200);

    allow_connections(&db, false);
    terminate_sessions(&db);
    // The first request finds the pooled connections dead and cannot open
    // a new one: it waits at most the timeout, never longer.
    let (r, took) = timed_login(&app, &c).await;
    assert_unavailable(&r, "first request of the outage");
    assert!(
        took < Duration::from_millis(3500),
        "a 503 within the 2 s timeout, not a hang: {took:?}"
    );
    // Now the outage is known: answered at once.
    let (r, took) = timed_login(&app, &c).await;
    assert_unavailable(&r, "request during the outage");
    assert!(
        took < Duration::from_secs(1),
        "a known outage is answered at once: {took:?}"
    );
    let refreshed = crate::support::fixtures::post(
        &app,
        "/oauth/token",
        Some(&c),
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_unavailable(&refreshed, "refresh during the outage");
    let started = Instant::now();
    let machine_token = client_credentials(&app, &machine).await;
    assert_unavailable(&machine_token, "client_credentials during the outage");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a known outage is answered at once: {:?}",
        started.elapsed()
    );
    assert_eq!(app.status("/healthz").await, 503);

    // The database comes back: the server serves again by itself.
    allow_connections(&db, true);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = password_grant(&app, &c, &[]).await;
        if r.status == 200 {
            break;
        }
        assert_unavailable(&r, "request while reconnecting");
        assert!(
            Instant::now() < deadline,
            "still 503 10 s after the database came back"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.status("/healthz").await, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while client_credentials(&app, &machine).await.status != 200 {
        assert!(Instant::now() < deadline, "client_credentials still fail");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
