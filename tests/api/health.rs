//! `GET /healthz` on every backend.

use crate::helpers::{backends, postgres_only, TestApp};

#[actix_web::test]
async fn healthz_is_ok_while_the_database_answers() {
    for db in backends() {
        let app = TestApp::spawn(&db).await;
        let res = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200, "[{}]", db.label());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok"}));
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_home_page_names_the_issuer_escaped() {
    for db in backends() {
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
    }
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
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(db) = postgres_only("the_pool_recovers_when_postgres_drops_its_connections") else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    assert_eq!(app.status("/healthz").await, 200);
    // What a server restart does to every pooled connection.
    let name = url::Url::parse(db.url())
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let mut conn = PgConnection::establish(db.admin_url().unwrap()).unwrap();
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .execute(&mut conn)
    .unwrap();
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "broken connections were handed out");
    app.stop().await;
}
