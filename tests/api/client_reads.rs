//! Reads made many at a time (client lookups, access tokens' standing):
//! at the storage layer on every backend, and on PostgreSQL combined
//! across concurrent requests.

use std::time::Duration;

use authd::db::access_standing::{self, Asked};
use authd::db::{clients, revoked_access_tokens};
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::rotation_batch::{lock_waits, wait_for_lock_waits};
use crate::support::fixtures::{conn, login_as, post, standard, ClientSpec, TestClient};
use crate::support::helpers::{every_backend, postgres_only, TestApp};

#[test]
fn find_many_reads_the_named_clients_and_no_others() {
    every_backend(|db| {
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
    });
}

#[test]
fn the_standing_of_many_tokens_is_that_of_each() {
    every_backend(|db| {
        standard(&db);
        let mut c = conn(&db);
        let (user, client) = crate::support::fixtures::standard_ids(&mut c);
        revoked_access_tokens::insert(&mut c, "revoked", i64::MAX, None).unwrap();
        let asked = |jti: &str, client_id: &str, sub: &str| Asked {
            jti: jti.into(),
            client_id: client_id.into(),
            sub: sub.into(),
        };
        let all = [
            asked("live", &client, &user),
            asked("revoked", &client, &user),
            asked("orphan", "no-such-client", &user),
            asked("stranger", &client, "no-such-user"),
            asked("machine", &client, &client),
            asked("live again", &client, &user),
        ];
        let many = access_standing::read_many(&mut c, &all).unwrap();
        let seen: Vec<(bool, Option<String>)> = many
            .into_iter()
            .map(|s| (s.unrevoked_with_client, s.user.map(|u| u.id)))
            .collect();
        let alice = Some(user.clone());
        assert_eq!(
            seen,
            [
                (true, alice.clone()),
                (false, None),
                (false, None),
                (true, None),
                (true, None),
                (true, alice),
            ],
            "[{}]",
            db.label()
        );
        for (one, seen) in all.iter().zip(&seen) {
            let alone = access_standing::read(&mut c, one).unwrap();
            let alone = (alone.unrevoked_with_client, alone.user.map(|u| u.id));
            assert_eq!(&alone, seen, "[{}] {}", db.label(), one.jti);
        }
        assert!(access_standing::read_many(&mut c, &[]).unwrap().is_empty());
    });
}

/// While the revoked tokens' table is locked, ten introspections wait on
/// one backend, not ten: their standing reads share one statement. Each
/// is then answered for its own token.
#[actix_web::test]
async fn concurrent_introspections_share_one_standing_statement() {
    let Some(db) = postgres_only("concurrent_introspections_share_one_standing_statement") else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    let mut tokens = Vec::new();
    for _ in 0..10 {
        let r = login_as(&app, &c, "alice", "correct horse").await;
        tokens.push(r.body["access_token"].as_str().unwrap().to_string());
    }
    // The client is read once, before the lock (a lookup of its own).
    assert_eq!(
        introspect_task(&app, &c, &tokens[0]).await.unwrap()["active"],
        true
    );
    let mut holder = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query("LOCK TABLE revoked_access_tokens IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .unwrap();
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    let first = introspect_task(&app, &c, &tokens[0]);
    wait_for_lock_waits(&mut watcher, 1).await;
    let rest: Vec<_> = tokens[1..]
        .iter()
        .map(|t| introspect_task(&app, &c, t))
        .collect();
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        lock_waits(&mut watcher),
        1,
        "standing reads waited on their own"
    );
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    let mut answers = vec![first.await.unwrap()];
    for r in rest {
        answers.push(r.await.unwrap());
    }
    for (answer, token) in answers.iter().zip(&tokens) {
        assert_eq!(answer["active"], true, "{answer}");
        assert_eq!(answer["jti"], payload(token)["jti"], "{answer}");
        assert_eq!(answer["username"], "alice");
    }
    app.stop().await;
}

/// An introspection in a task of its own: its answer.
fn introspect_task(
    app: &TestApp,
    c: &TestClient,
    token: &str,
) -> actix_web::rt::task::JoinHandle<serde_json::Value> {
    let (http, url, c, token) = (
        app.http.clone(),
        app.url("/oauth/introspect"),
        c.clone(),
        token.to_string(),
    );
    actix_web::rt::spawn(async move {
        let res = http
            .post(url)
            .basic_auth(&c.id, c.secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    })
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
