//! The client cache (`--client-cache-ttl`, off by default) and changes
//! made by another process (the CLI): with the cache off they take effect
//! at once; with it on, a new secret works at once and an old secret or a
//! removed client stops working within the TTL.

use std::time::Duration;

use crate::support::fixtures::{post, ClientSpec, TestClient};
use crate::support::helpers::{authd_json, on_every_backend, TestApp, TestDb};

/// The statuses of a client_credentials grant and of an introspection
/// (of a token that is not ours: 200 with `active: false` once the client
/// authenticates) for `c`: both use the cache.
async fn statuses(app: &TestApp, c: &TestClient) -> (u16, u16) {
    let grant = [("grant_type", "client_credentials")];
    let token = post(app, "/oauth/token", Some(c), &grant).await.status;
    let asked = [("token", "not-a-token")];
    let introspection = post(app, "/oauth/introspect", Some(c), &asked).await;
    if introspection.status == 200 {
        assert_eq!(introspection.body, serde_json::json!({"active": false}));
    }
    (token, introspection.status)
}

fn daemon(db: &TestDb) -> TestClient {
    ClientSpec::new(db)
        .grants(&["client_credentials"])
        .scopes("posts:read")
        .create()
}

/// Rotates `c`'s secret with the CLI; returns the client with the new one.
fn rotate(db: &TestDb, c: &TestClient) -> TestClient {
    let rotated = authd_json(db, &["client", "rotate-secret", &c.id], None);
    TestClient {
        id: c.id.clone(),
        secret: rotated["client_secret"].as_str().map(str::to_string),
    }
}

/// Rotates, then removes, a client with the CLI while the server runs
/// with `args`; checks the old secret, then the client, stop working once
/// `bite` has passed after the change (and, when `cached`, not before).
async fn cli_changes_bite_after(args: &[&str], bite: Duration, cached: bool) {
    on_every_backend(|db| async move {
        let old = daemon(&db);
        let app = TestApp::spawn_with(&db, args).await;
        let label = db.label();
        assert_eq!(statuses(&app, &old).await, (200, 200));
        let new = rotate(&db, &old);
        if cached {
            // The documented staleness: the old secret is served from the
            // cache until the TTL ends (asked first: the new secret's
            // lookup replaces the record).
            assert_eq!(statuses(&app, &old).await, (200, 200), "[{label}]");
        }
        // At once even with the old record cached: a secret that does not
        // match it is checked against the database.
        assert_eq!(statuses(&app, &new).await, (200, 200), "[{label}]");
        tokio::time::sleep(bite).await;
        assert_eq!(statuses(&app, &old).await, (401, 401), "[{label}]");
        assert_eq!(statuses(&app, &new).await, (200, 200));

        authd_json(&db, &["client", "remove", &new.id], None);
        tokio::time::sleep(bite).await;
        assert_eq!(statuses(&app, &new).await, (401, 401), "[{label}]");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn without_the_cache_cli_changes_take_effect_at_once() {
    cli_changes_bite_after(&[], Duration::ZERO, false).await;
}

#[actix_web::test]
async fn with_the_cache_cli_changes_take_effect_within_its_ttl() {
    let ttl = ["--client-cache-ttl", "3"];
    cli_changes_bite_after(&ttl, Duration::from_millis(3200), true).await;
}
