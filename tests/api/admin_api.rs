//! The admin HTTP API (docs/interface.md "Administration"): who may call
//! it, and each operation's success, 404 and 409, on every backend.

use serde_json::{json, Value};

use crate::support::admin::{admin_token, call, client_token, service_client};
use crate::support::fixtures::{login_as, post, reply, role, user, ClientSpec, Reply};
use crate::support::helpers::{authd_json, on_every_backend, TestApp};

fn names(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|e| e[key].as_str().unwrap_or_default().to_string())
        .collect()
}

fn challenge(r: &Reply) -> &str {
    r.header("www-authenticate").unwrap_or("")
}

#[actix_web::test]
async fn only_a_standing_token_with_authd_admin_gets_in() {
    on_every_backend(|db| async move {
        let label = db.label();
        role(&db, "admins", "authd:admin openid");
        role(&db, "readers", "posts:read");
        user(&db, "root", "correct horse battery", &["admins"]);
        user(&db, "reader", "correct horse battery", &["readers"]);
        let people = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("authd:admin openid posts:read")
            .create();
        let app = TestApp::spawn(&db).await;

        let none = call(&app, "GET", "/admin/v1/users", None, None).await;
        assert_eq!(none.status, 401, "[{label}] {}", none.raw);
        assert_eq!(challenge(&none), r#"Bearer realm="authd""#, "[{label}]");

        let bad = call(&app, "GET", "/admin/v1/users", Some("not.a.token"), None).await;
        bad.assert_error(401, "invalid_token");
        assert!(
            challenge(&bad).contains(r#"error="invalid_token""#),
            "[{label}]"
        );

        let other = client_token(&app, &service_client(&db, "posts:read")).await;
        let r = call(&app, "GET", "/admin/v1/users", Some(&other), None).await;
        r.assert_error(403, "insufficient_scope");
        assert!(
            challenge(&r).contains(r#"error="insufficient_scope""#)
                && challenge(&r).contains(r#"scope="authd:admin""#),
            "[{label}] {}",
            challenge(&r)
        );
        // A person whose roles do not grant it gets no such token.
        let r = login_as(&app, &people, "reader", "correct horse battery").await;
        let token = r.body["access_token"].as_str().expect("token").to_string();
        let r = call(&app, "GET", "/admin/v1/keys", Some(&token), None).await;
        r.assert_error(403, "insufficient_scope");

        // A role may grant it to a person; disabling them stops it at once.
        let r = login_as(&app, &people, "root", "correct horse battery").await;
        let token = r.body["access_token"].as_str().expect("token").to_string();
        let r = call(&app, "GET", "/admin/v1/users", Some(&token), None).await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);
        authd_json(&db, &["user", "disable", "root"], None);
        let r = call(&app, "GET", "/admin/v1/users", Some(&token), None).await;
        r.assert_error(401, "invalid_token");

        // The description needs no token.
        let doc = call(&app, "GET", "/admin/v1/openapi.json", None, None).await;
        assert_eq!(doc.status, 200, "[{label}]");
        assert_eq!(doc.body["openapi"], "3.1.0", "[{label}]");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn users_are_created_listed_changed_and_deleted() {
    on_every_backend(|db| async move {
        let label = db.label();
        role(&db, "writer", "posts:read posts:write");
        role(&db, "reader", "posts:read");
        let app = TestApp::spawn(&db).await;
        let t = admin_token(&app, &db).await;
        let t = Some(t.as_str());

        let body = json!({"username": "alice", "password": "correct horse battery",
            "roles": ["writer"], "email": "alice@example.com", "name": "Alice"});
        let made = call(&app, "POST", "/admin/v1/users", t, Some(body.clone())).await;
        assert_eq!(made.status, 201, "[{label}] {}", made.raw);
        assert_eq!(made.body["username"], "alice");
        assert_eq!(made.body["roles"], json!(["writer"]));
        assert_eq!(made.body["email"], "alice@example.com");
        assert!(made.body["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(made.header("cache-control"), Some("no-store"));
        // Her password works.
        let app_client = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("posts:read")
            .create();
        let r = login_as(&app, &app_client, "alice", "correct horse battery").await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);

        let taken = call(&app, "POST", "/admin/v1/users", t, Some(body)).await;
        taken.assert_error(409, "conflict");
        assert_eq!(
            taken.body["error_description"],
            "user 'alice' already exists"
        );

        // Without a password: a user no password signs in.
        let r = call(
            &app,
            "POST",
            "/admin/v1/users",
            t,
            Some(json!({"username": "bob"})),
        )
        .await;
        assert_eq!(r.status, 201, "[{label}] {}", r.raw);
        assert_eq!(r.body["roles"], json!([]));

        let all = call(&app, "GET", "/admin/v1/users", t, None).await;
        assert_eq!(names(&all.body, "username"), ["alice", "bob"], "[{label}]");
        let one = call(&app, "GET", "/admin/v1/users/alice", t, None).await;
        assert_eq!(one.body["id"], made.body["id"], "[{label}]");

        let patch =
            json!({"email": "a@example.org", "name": "", "roles": ["reader"], "disabled": true});
        let r = call(&app, "PATCH", "/admin/v1/users/alice", t, Some(patch)).await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);
        assert_eq!(r.body["email"], "a@example.org");
        assert_eq!(r.body["name"], Value::Null);
        assert_eq!(r.body["roles"], json!(["reader"]));
        assert_eq!(r.body["disabled"], true);
        let r = login_as(&app, &app_client, "alice", "correct horse battery").await;
        r.assert_error(400, "invalid_grant");
        // All or nothing: an unknown role leaves her as she was.
        let patch = json!({"disabled": false, "roles": ["nope"]});
        let r = call(&app, "PATCH", "/admin/v1/users/alice", t, Some(patch)).await;
        r.assert_error(400, "invalid_request");
        let one = call(&app, "GET", "/admin/v1/users/alice", t, None).await;
        assert_eq!(one.body["disabled"], true, "[{label}]");
        let r = call(
            &app,
            "PATCH",
            "/admin/v1/users/alice",
            t,
            Some(json!({"disabled": false})),
        )
        .await;
        assert_eq!(r.body["disabled"], false, "[{label}] {}", r.raw);
        let r = call(
            &app,
            "PATCH",
            "/admin/v1/users/alice",
            t,
            Some(json!({"mail": "x"})),
        )
        .await;
        r.assert_error(400, "invalid_request");

        let r = call(&app, "DELETE", "/admin/v1/users/alice", t, None).await;
        assert_eq!((r.status, r.raw.as_str()), (204, ""), "[{label}]");
        for (method, body) in [
            ("GET", None),
            ("PATCH", Some(json!({"name": "x"}))),
            ("DELETE", None),
        ] {
            let r = call(&app, method, "/admin/v1/users/alice", t, body).await;
            r.assert_error(404, "not_found");
            assert_eq!(
                r.body["error_description"], "unknown user 'alice' (see 'authd user list')",
                "[{label}]"
            );
        }
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn deleting_a_user_ends_their_token_at_once() {
    on_every_backend(|db| async move {
        let label = db.label();
        role(&db, "member", "openid");
        user(&db, "alice", "correct horse battery", &["member"]);
        let c = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("openid")
            .create();
        let app = TestApp::spawn(&db).await;
        let t = admin_token(&app, &db).await;
        let r = login_as(&app, &c, "alice", "correct horse battery").await;
        let access = r.body["access_token"].as_str().expect("token").to_string();
        let userinfo = || async {
            let req = app
                .http
                .get(app.url("/oauth/userinfo"))
                .bearer_auth(&access);
            reply(req.send().await.unwrap()).await
        };
        assert_eq!(userinfo().await.status, 200, "[{label}]");
        let r = call(&app, "DELETE", "/admin/v1/users/alice", Some(&t), None).await;
        assert_eq!(r.status, 204, "[{label}] {}", r.raw);
        userinfo().await.assert_error(401, "invalid_token");
        let r = post(&app, "/oauth/introspect", Some(&c), &[("token", &access)]).await;
        assert_eq!(r.body["active"], false, "[{label}]");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn roles_are_created_changed_and_deleted_only_when_free_or_forced() {
    on_every_backend(|db| async move {
        let label = db.label();
        let app = TestApp::spawn(&db).await;
        let t = admin_token(&app, &db).await;
        let t = Some(t.as_str());
        let new = json!({"name": "writer", "scopes": ["posts:read posts:write"]});
        let r = call(&app, "POST", "/admin/v1/roles", t, Some(new.clone())).await;
        assert_eq!(r.status, 201, "[{label}] {}", r.raw);
        assert_eq!(r.body["scopes"], json!(["posts:read", "posts:write"]));
        call(&app, "POST", "/admin/v1/roles", t, Some(new))
            .await
            .assert_error(409, "conflict");

        let patch = json!({"scopes": ["posts:read", "posts:edit"], "require_mfa": true});
        let r = call(&app, "PATCH", "/admin/v1/roles/writer", t, Some(patch)).await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);
        assert_eq!(r.body["scopes"], json!(["posts:edit", "posts:read"]));
        assert_eq!(r.body["require_mfa"], true);
        let r = call(&app, "GET", "/admin/v1/roles", t, None).await;
        assert_eq!(names(&r.body, "name"), ["writer"], "[{label}]");
        let r = call(
            &app,
            "PATCH",
            "/admin/v1/roles/nope",
            t,
            Some(json!({"scopes": ["a"]})),
        )
        .await;
        r.assert_error(404, "not_found");

        user(&db, "alice", "correct horse battery", &["writer"]);
        let r = call(&app, "DELETE", "/admin/v1/roles/writer", t, None).await;
        r.assert_error(409, "conflict");
        assert!(
            r.body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("role 'writer' is held by 1 user(s)")),
            "[{label}] {}",
            r.raw
        );
        let r = call(&app, "DELETE", "/admin/v1/roles/writer?force=true", t, None).await;
        assert_eq!(r.status, 204, "[{label}] {}", r.raw);
        let alice = call(&app, "GET", "/admin/v1/users/alice", t, None).await;
        assert_eq!(alice.body["roles"], json!([]), "[{label}]");
        call(&app, "DELETE", "/admin/v1/roles/writer", t, None)
            .await
            .assert_error(404, "not_found");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn clients_are_registered_changed_rekeyed_and_removed() {
    on_every_backend(|db| async move {
        let label = db.label();
        let app = TestApp::spawn(&db).await;
        let t = admin_token(&app, &db).await;
        let t = Some(t.as_str());
        let new = json!({"name": "billing", "client_id": "billing-api",
            "grants": ["client_credentials"], "scopes": ["invoices:read"],
            "id_token_alg": "EdDSA"});
        let r = call(&app, "POST", "/admin/v1/clients", t, Some(new.clone())).await;
        assert_eq!(r.status, 201, "[{label}] {}", r.raw);
        assert_eq!(r.body["client_id"], "billing-api");
        assert_eq!(r.body["id_token_alg"], "EdDSA");
        let secret = r.body["client_secret"]
            .as_str()
            .expect("a secret")
            .to_string();
        let billing = crate::support::fixtures::TestClient {
            id: "billing-api".into(),
            secret: Some(secret),
        };
        client_token(&app, &billing).await;
        let jwks: Value = app.get_json("/.well-known/jwks.json").await;
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["alg"] == "EdDSA"),
            "[{label}] {jwks}"
        );
        let r = call(&app, "POST", "/admin/v1/clients", t, Some(new)).await;
        r.assert_error(409, "conflict");
        assert_eq!(
            r.body["error_description"],
            "client id 'billing-api' is taken: choose another"
        );

        let r = call(&app, "GET", "/admin/v1/clients/billing-api", t, None).await;
        assert_eq!(
            r.body["scopes"],
            json!(["invoices:read"]),
            "[{label}] {}",
            r.raw
        );
        assert!(r.body.get("client_secret").is_none());
        let patch = json!({"scopes": ["invoices:read invoices:write"], "name": "billing",
            "post_logout_redirect_uris": ["https://billing.example/out"],
            "backchannel_logout_uri": "https://billing.example/bc"});
        let r = call(
            &app,
            "PATCH",
            "/admin/v1/clients/billing-api",
            t,
            Some(patch),
        )
        .await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);
        assert_eq!(
            r.body["changed"],
            json!([
                "scopes",
                "post_logout_redirect_uris",
                "backchannel_logout_uri"
            ])
        );
        assert_eq!(
            r.body["backchannel_logout_uri"],
            "https://billing.example/bc"
        );
        let grant = [
            ("grant_type", "client_credentials"),
            ("scope", "invoices:write"),
        ];
        let r2 = post(&app, "/oauth/token", Some(&billing), &grant).await;
        assert_eq!(
            r2.status, 200,
            "[{label}] its next request sees it: {}",
            r2.raw
        );

        let r = call(
            &app,
            "POST",
            "/admin/v1/clients/billing-api/secret",
            t,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);
        let rekeyed = crate::support::fixtures::TestClient {
            id: "billing-api".into(),
            secret: r.body["client_secret"].as_str().map(str::to_string),
        };
        let old = post(&app, "/oauth/token", Some(&billing), &grant[..1]).await;
        old.assert_error(401, "invalid_client");
        client_token(&app, &rekeyed).await;

        let r = call(&app, "GET", "/admin/v1/clients", t, None).await;
        assert!(names(&r.body, "client_id").contains(&"billing-api".to_string()));
        let r = call(&app, "DELETE", "/admin/v1/clients/billing-api", t, None).await;
        assert_eq!(r.status, 204, "[{label}] {}", r.raw);
        let r = post(&app, "/oauth/token", Some(&rekeyed), &grant[..1]).await;
        r.assert_error(401, "invalid_client");
        for (method, path) in [("GET", ""), ("DELETE", ""), ("POST", "/secret")] {
            let r = call(
                &app,
                method,
                &format!("/admin/v1/clients/billing-api{path}"),
                t,
                None,
            )
            .await;
            r.assert_error(404, "not_found");
        }
        let r = call(
            &app,
            "PATCH",
            "/admin/v1/clients/billing-api",
            t,
            Some(json!({"name": "x"})),
        )
        .await;
        r.assert_error(404, "not_found");

        let keys = call(&app, "GET", "/admin/v1/keys", t, None).await;
        assert_eq!(keys.status, 200, "[{label}] {}", keys.raw);
        let keys = keys.body.as_array().expect("an array").clone();
        assert!(
            keys.iter()
                .any(|k| k["purpose"] == "access" && k["state"] == "active"),
            "{keys:?}"
        );
        assert!(keys.iter().all(|k| k.get("private_key_sealed").is_none()));
        app.stop().await;
    })
    .await;
}
