//! Metadata, JWKS and key rotation, revocation, introspection.

use std::time::{Duration, Instant};

use crate::support::fixtures::{
    self, password_grant, post, standard, verify_with_jwks, ClientSpec,
};
use crate::support::helpers::{authd_json, on_every_backend, TestApp, TestDb};

#[actix_web::test]
async fn metadata_follows_the_issuer() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_with(&db, &["--issuer", "https://id.example.com/"]).await;
        let c = standard(&db);
        let m: serde_json::Value = app
            .get_json("/.well-known/oauth-authorization-server")
            .await;
        assert_eq!(m["issuer"], "https://id.example.com");
        for (field, path) in [
            ("token_endpoint", "/oauth/token"),
            ("authorization_endpoint", "/oauth/authorize"),
            ("jwks_uri", "/.well-known/jwks.json"),
            ("revocation_endpoint", "/oauth/revoke"),
            ("introspection_endpoint", "/oauth/introspect"),
        ] {
            assert_eq!(m[field], format!("https://id.example.com{path}"), "{field}");
        }
        assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            m["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
        );
        let grants = m["grant_types_supported"].as_array().unwrap();
        for g in ["password", "refresh_token", "client_credentials"] {
            assert!(grants.iter().any(|x| x == g), "{g}");
        }
        assert_eq!(
            m["scopes_supported"],
            serde_json::json!(["openid", "posts:read", "posts:write"])
        );

        // Tokens carry the configured issuer.
        let r = password_grant(&app, &c, &[]).await;
        let (_, claims) = verify_with_jwks(
            &app,
            r.body["access_token"].as_str().unwrap(),
            "https://id.example.com",
        )
        .await;
        assert_eq!(claims["iss"], "https://id.example.com");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn key_rotation_from_another_process_while_running() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let res = app
            .http
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        let cache = res
            .headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(cache.contains("max-age="), "{cache}");
        let old = password_grant(&app, &c, &[]).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();

        let rotated = authd_json(&db, &["keys", "rotate"], None);
        let new_kid = rotated["kid"].as_str().unwrap().to_string();
        assert_ne!(new_kid, old_kid);

        let deadline = Instant::now() + Duration::from_secs(5);
        let fresh = loop {
            let t = password_grant(&app, &c, &[]).await.body["access_token"]
                .as_str()
                .unwrap()
                .to_string();
            if jsonwebtoken::decode_header(&t).unwrap().kid.as_deref() == Some(new_kid.as_str()) {
                break t;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] still signing with the old key after 5 s",
                db.label()
            );
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        };
        // Both verify against the published JWKS.
        verify_with_jwks(&app, &fresh, &app.issuer).await;
        verify_with_jwks(&app, &old, &app.issuer).await;
        app.stop().await;
    })
    .await;
}

async fn introspect(app: &TestApp, c: &fixtures::TestClient, token: &str) -> serde_json::Value {
    let r = post(app, "/oauth/introspect", Some(c), &[("token", token)]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.body
}

#[actix_web::test]
async fn introspection_and_revocation() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let r = password_grant(&app, &c, &[]).await;
        let at = r.body["access_token"].as_str().unwrap().to_string();
        let rt = r.body["refresh_token"].as_str().unwrap().to_string();

        let a = introspect(&app, &c, &at).await;
        assert_eq!(a["active"], true, "{a}");
        assert_eq!(a["username"], "alice");
        assert_eq!(a["client_id"], c.id.as_str());
        assert_eq!(a["scope"], "posts:read posts:write");
        assert_eq!(a["token_type"], "Bearer");
        assert_eq!(a["iss"], app.issuer.as_str());
        assert_eq!(a["aud"], app.issuer.as_str());
        for f in ["sub", "exp", "iat"] {
            assert!(a.get(f).is_some(), "{f}");
        }
        let rr = introspect(&app, &c, &rt).await;
        assert_eq!(rr["active"], true, "{rr}");
        assert_eq!(rr["token_type"], "refresh_token");
        assert_eq!(rr["username"], "alice");
        assert_eq!(rr["sub"], a["sub"]);

        // Malformed, foreign and tampered tokens are inactive.
        let inactive = serde_json::json!({"active": false});
        assert_eq!(introspect(&app, &c, "garbage").await, inactive);
        let mut tampered = at.clone();
        tampered.pop();
        tampered.push(if at.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(introspect(&app, &c, &tampered).await, inactive);
        let other_db = TestDb::sqlite();
        let other = TestApp::spawn(&other_db).await;
        let oc = standard(&other_db);
        let foreign = password_grant(&other, &oc, &[]).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(introspect(&app, &c, &foreign).await, inactive);
        other.stop().await;

        // A public client proves nothing: it may not introspect at all.
        let public = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("posts:read")
            .public()
            .create();
        let r = post(
            &app,
            "/oauth/introspect",
            None,
            &[("token", &at), ("client_id", &public.id)],
        )
        .await;
        r.assert_error(401, "invalid_client");
        // Introspection authenticates like the token endpoint.
        let wrong = fixtures::TestClient {
            id: c.id.clone(),
            secret: Some("nope".into()),
        };
        let r = post(&app, "/oauth/introspect", Some(&wrong), &[("token", &at)]).await;
        assert_eq!((r.status, r.error()), (401, "invalid_client"));
        assert_eq!(r.header("www-authenticate"), Some(r#"Basic realm="authd""#));

        // Revoking the access token: its jti is remembered.
        let r = post(&app, "/oauth/revoke", Some(&c), &[("token", &at)]).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(introspect(&app, &c, &at).await, inactive);
        // Revoking the refresh token kills its family.
        let r1 = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
        let rt2 = r1.body["refresh_token"].as_str().unwrap().to_string();
        assert_eq!(
            post(
                &app,
                "/oauth/revoke",
                Some(&c),
                &[("token", &rt2), ("token_type_hint", "refresh_token")]
            )
            .await
            .status,
            200
        );
        assert_eq!(introspect(&app, &c, &rt2).await, inactive);
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
        )
        .await;
        assert_eq!(r.error(), "invalid_grant");
        // Unknown tokens: 200 all the same. Unauthenticated: 401.
        assert_eq!(
            post(&app, "/oauth/revoke", Some(&c), &[("token", "unknown")])
                .await
                .status,
            200
        );
        let r = post(&app, "/oauth/revoke", Some(&wrong), &[("token", "unknown")]).await;
        assert_eq!((r.status, r.error()), (401, "invalid_client"));
        let r = post(&app, "/oauth/revoke", Some(&c), &[]).await;
        assert_eq!((r.status, r.error()), (400, "invalid_request"));
        for path in ["/oauth/revoke", "/oauth/introspect"] {
            let res = app.http.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 405);
            assert_eq!(res.headers().get("allow").unwrap(), "POST");
        }
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn expired_access_tokens_are_inactive() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(
            &db,
            &["--access-token-ttl", "60"],
            authd::clock::Clock::manual_from_now(),
        )
        .await;
        let at = password_grant(&app, &c, &[]).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        app.clock.advance(59);
        assert_eq!(
            introspect(&app, &c, &at).await["active"],
            true,
            "[{}]",
            db.label()
        );
        // exp is checked against the server's clock, not the wall clock.
        app.clock.advance(1);
        assert_eq!(
            introspect(&app, &c, &at).await,
            serde_json::json!({"active": false}),
            "[{}]",
            db.label()
        );
        app.stop().await;
    })
    .await;
}
