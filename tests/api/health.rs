//! `GET /healthz` on every backend.

use crate::helpers::{backends, TestApp};

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
async fn healthz_is_503_when_the_database_is_gone() {
    // Dropping a PostgreSQL database under a running server is the one way
    // to make a database stop answering without killing the shared server.
    for mut db in backends().into_iter().filter(|d| d.label() == "postgres") {
        let app = TestApp::spawn(&db).await;
        assert_eq!(
            app.http
                .get(app.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        db.drop_now();
        let res = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "unavailable");
        app.stop().await;
    }
}
