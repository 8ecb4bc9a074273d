//! Client lookups: many read at once at the storage layer on every
//! backend, and on PostgreSQL combined across concurrent requests.

use std::time::Duration;

use authd::db::clients;
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::fixtures::{conn, post, ClientSpec, TestClient};
use crate::helpers::{backends, postgres_only, TestApp};
use crate::rotation_batch::{lock_waits, wait_for_lock_waits};

#[test]
fn find_many_reads_the_named_clients_and_no_others() {
    for db in backends() {
        let made: Vec<TestClient> = ["a", "b", "c"]
            .iter()
            .map(|name| ClientSpec::new(&db).name(name).create())
            .collect();
        let mut c = conn(&db);
        let wanted = [made[0].id.as_str(), made[2].id.as_str(), "no-such-client"];
        let mut found: Vec<String> = clients::find_many(&mut c, &wanted)
            .unwrap()
            .into_iter()
            .map(|c| c.client_id)
            .collect();
        found.sort();
        let mut expected = vec![made[0].id.clone(), made[2].id.clone()];
        expected.sort();
        assert_eq!(found, expected, "[{}]", db.label());
        assert!(clients::find_many(&mut c, &[]).unwrap().is_empty());
    }
}

/// While the clients table is locked, ten client_credentials requests
/// wait on one backend, not ten: their lookups share one statement. Each
/// is then answered for its own client, and an unknown client is refused.
#[actix_web::test]
async fn concurrent_lookups_share_one_statement() {
    let Some(db) = postgres_only("concurrent_lookups_share_one_statement") else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    let machines: Vec<TestClient> = (0..10)
        .map(|i| {
            ClientSpec::new(&db)
                .name(&format!("machine {i}"))
                .grants(&["client_credentials"])
                .create()
        })
        .collect();
    let stranger = TestClient {
        id: "no-such-client".into(),
        secret: Some("guess".into()),
    };
    let mut holder = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .unwrap();
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    let ask = |c: &TestClient| {
        let (http, url, c) = (app.http.clone(), app.url("/oauth/token"), c.clone());
        actix_web::rt::spawn(async move {
            let res = http
                .post(url)
                .basic_auth(&c.id, c.secret.as_deref())
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            (status, body)
        })
    };
    let first = ask(&machines[0]);
    wait_for_lock_waits(&mut watcher, 1).await;
    let mut rest: Vec<_> = machines[1..].iter().map(ask).collect();
    rest.push(ask(&stranger));
    // Time for them all to queue.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lock_waits(&mut watcher), 1, "lookups waited on their own");
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    let (status, _) = first.await.unwrap();
    assert_eq!(status, 200);
    let refused = rest.pop().unwrap().await.unwrap();
    assert_eq!(
        (refused.0, refused.1["error"].as_str()),
        (401, Some("invalid_client"))
    );
    for (reply, machine) in rest.into_iter().zip(&machines[1..]) {
        let (status, body) = reply.await.unwrap();
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap();
        let claims = payload(token);
        assert_eq!(claims["sub"], machine.id.as_str());
    }
    // And one more, after: served as before.
    let later = post(
        &app,
        "/oauth/token",
        Some(&machines[0]),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(later.status, 200, "{}", later.raw);
    app.stop().await;
}

/// The payload of a JWT, unverified (its signature is the token tests'
/// business).
fn payload(token: &str) -> serde_json::Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
