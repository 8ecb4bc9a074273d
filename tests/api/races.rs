//! Concurrency that must never end in a 500 or a failed command: requests
//! racing each other, and admin commands beside a busy server.

use crate::fixtures::{password_grant, post, standard};
use crate::helpers::{backends, TestApp};

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
