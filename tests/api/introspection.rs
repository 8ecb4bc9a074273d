//! Introspection is for the token's own client, or a resource server for
//! the access tokens meant for it, and it follows the current state
//! (docs/interface.md "Introspection is for the token's own client").

use authd::manage::{clients, users};
use serde_json::{json, Value};

use crate::support::fixtures::{
    conn, hash_password, login_as, post, standard, user, ClientSpec, TestClient,
};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};

const API: &str = "https://api.example.com";

async fn introspect(app: &TestApp, asker: &TestClient, token: &str) -> Value {
    let r = post(app, "/oauth/introspect", Some(asker), &[("token", token)]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body
}

/// Access and refresh token of a password login of `username` (password
/// "correct horse") through `c`.
async fn login(app: &TestApp, c: &TestClient, username: &str) -> (String, String) {
    login_with(app, c, username, "correct horse").await
}

async fn login_with(
    app: &TestApp,
    c: &TestClient,
    username: &str,
    password: &str,
) -> (String, String) {
    let r = login_as(app, c, username, password).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let field = |f: &str| r.body[f].as_str().unwrap().to_string();
    (field("access_token"), field("refresh_token"))
}

/// A client whose tokens are for the API, and a resource server that may
/// introspect them.
fn api_clients(db: &TestDb) -> (TestClient, TestClient) {
    let app = ClientSpec::new(db)
        .scopes("posts:read posts:write")
        .audience(API)
        .create();
    let resource_server = ClientSpec::new(db)
        .grants(&["client_credentials"])
        .introspects(API)
        .create();
    (app, resource_server)
}

fn inactive() -> Value {
    json!({"active": false})
}

#[actix_web::test]
async fn introspection_is_for_the_tokens_own_client() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let label = db.label();
        let c = standard(&db);
        let other = ClientSpec::new(&db)
            .scopes("posts:read posts:write")
            .create();
        let (api_app, rs) = api_clients(&db);
        let elsewhere = ClientSpec::new(&db)
            .grants(&["client_credentials"])
            .introspects("https://other.example.com")
            .create();

        // Another confidential client learns nothing about c's tokens.
        let (at, rt) = login(&app, &c, "alice").await;
        assert_eq!(introspect(&app, &c, &at).await["active"], true, "[{label}]");
        assert_eq!(introspect(&app, &c, &rt).await["active"], true, "[{label}]");
        for asker in [&other, &rs, &elsewhere] {
            assert_eq!(introspect(&app, asker, &at).await, inactive(), "[{label}]");
            assert_eq!(introspect(&app, asker, &rt).await, inactive(), "[{label}]");
        }

        // The resource server sees the access tokens meant for it, never
        // refresh tokens; a resource server for another audience sees none.
        let (api_at, api_rt) = login(&app, &api_app, "alice").await;
        let seen = introspect(&app, &rs, &api_at).await;
        assert_eq!(seen["active"], true, "[{label}] {seen}");
        assert_eq!(seen["aud"], API);
        assert_eq!(seen["client_id"], api_app.id.as_str());
        assert_eq!(seen["username"], "alice");
        assert_eq!(
            introspect(&app, &rs, &api_rt).await,
            inactive(),
            "[{label}]"
        );
        assert_eq!(
            introspect(&app, &elsewhere, &api_at).await,
            inactive(),
            "[{label}]"
        );
        assert_eq!(
            introspect(&app, &other, &api_at).await,
            inactive(),
            "[{label}]"
        );
        // Its own client_credentials token is its own, whatever its aud.
        let r = post(
            &app,
            "/oauth/token",
            Some(&rs),
            &[("grant_type", "client_credentials")],
        )
        .await;
        let own = r.body["access_token"].as_str().unwrap();
        let seen = introspect(&app, &rs, own).await;
        assert_eq!(seen["active"], true, "[{label}] {seen}");
        assert!(seen.get("username").is_none(), "{seen}");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn introspection_follows_the_current_state() {
    on_every_backend(|db| async move {
        let label = db.label();
        // Users first: the server's clock must not stand before the
        // moment they were created (their tokens_valid_after).
        let c = standard(&db);
        user(&db, "bob", "correct horse", &["writer"]);
        user(&db, "carol", "correct horse", &["writer"]);
        let app = TestApp::spawn_clocked(&db, &[], authd::clock::Clock::manual_from_now()).await;
        let (api_app, rs) = api_clients(&db);
        let (alice_at, alice_rt) = login(&app, &c, "alice").await;
        let (bob_at, _) = login(&app, &c, "bob").await;
        let (api_at, _) = login(&app, &api_app, "carol").await;
        let (revoked_at, _) = login(&app, &api_app, "carol").await;
        for (asker, token) in [
            (&c, &alice_at),
            (&c, &alice_rt),
            (&c, &bob_at),
            (&rs, &api_at),
            (&rs, &revoked_at),
        ] {
            let seen = introspect(&app, asker, token).await;
            assert_eq!(seen["active"], true, "[{label}] {seen}");
        }
        app.clock.advance(1);
        let now = app.clock.now();

        // A disabled user's tokens; enabling again does not revive them.
        users::set_disabled(&mut conn(&db), "bob", true, now).unwrap();
        assert_eq!(introspect(&app, &c, &bob_at).await, inactive(), "[{label}]");
        users::set_disabled(&mut conn(&db), "bob", false, now).unwrap();
        assert_eq!(introspect(&app, &c, &bob_at).await, inactive(), "[{label}]");

        // A new password ends what was issued before it, not after.
        users::set_password(&mut conn(&db), "alice", &hash_password("new horse"), now).unwrap();
        assert_eq!(
            introspect(&app, &c, &alice_at).await,
            inactive(),
            "[{label}]"
        );
        assert_eq!(
            introspect(&app, &c, &alice_rt).await,
            inactive(),
            "[{label}]"
        );
        let (after, _) = login_with(&app, &c, "alice", "new horse").await;
        assert_eq!(
            introspect(&app, &c, &after).await["active"],
            true,
            "[{label}]"
        );

        // A revoked jti.
        let r = post(
            &app,
            "/oauth/revoke",
            Some(&api_app),
            &[("token", &revoked_at)],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(
            introspect(&app, &rs, &revoked_at).await,
            inactive(),
            "[{label}]"
        );

        // A removed client's access tokens.
        assert_eq!(
            introspect(&app, &rs, &api_at).await["active"],
            true,
            "[{label}]"
        );
        clients::remove(&mut conn(&db), &api_app.id, None).unwrap();
        assert_eq!(
            introspect(&app, &rs, &api_at).await,
            inactive(),
            "[{label}]"
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_password_set_within_the_same_second_is_told_apart() {
    // Issuance, reset and the next login all in one second of the
    // server's clock: the credential generation in the token decides.
    on_every_backend(|db| async move {
        let label = db.label();
        let c = standard(&db);
        let app = TestApp::spawn_clocked(&db, &[], authd::clock::Clock::manual_from_now()).await;
        let (before, _) = login(&app, &c, "alice").await;
        let now = app.clock.now();
        users::set_password(&mut conn(&db), "alice", &hash_password("new horse"), now).unwrap();
        assert_eq!(introspect(&app, &c, &before).await, inactive(), "[{label}]");
        let (after, _) = login_with(&app, &c, "alice", "new horse").await;
        assert_eq!(
            introspect(&app, &c, &after).await["active"],
            true,
            "[{label}]"
        );
        app.stop().await;
    })
    .await;
}
