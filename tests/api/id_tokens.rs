//! ID tokens (OpenID Connect Core 1.0 §2) from the password and refresh
//! grants: issued exactly when `openid` is granted, with the claims the
//! contract lists, signed with the client's algorithm by a key published
//! beside the access-token key (made at start, or on first need for a
//! client registered since), which does not change; `keys rotate` renews
//! both. On every backend.

use authd::keys::SigningAlg;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::support::fixtures::{
    conn, password_grant, post, role, user, verify_with_jwks, ClientSpec, TestClient,
};
use crate::support::helpers::{authd_json, on_every_backend, TestApp, TestDb};

/// Role `member` (openid profile posts:read), alice with it, and a
/// confidential password + refresh client registered for those scopes.
fn setup(db: &TestDb) -> (String, TestClient) {
    role(db, "member", "openid profile posts:read");
    let alice = user(db, "alice", "correct horse", &["member"]);
    let c = ClientSpec::new(db)
        .scopes("openid profile posts:read")
        .create();
    (alice, c)
}

/// `at_hash` as a relying party computes it (Core 1.0 §3.1.3.6, RS256 and
/// ES256): the left half of SHA-256 of the token, base64url.
fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token)[..16])
}

#[actix_web::test]
async fn the_password_grant_issues_an_id_token_only_with_openid() {
    on_every_backend(|db| async move {
        let (alice, c) = setup(&db);
        let app = TestApp::spawn(&db).await;
        // Without openid: plain OAuth.
        let r = password_grant(&app, &c, &[("scope", "posts:read")]).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert!(r.body.get("id_token").is_none(), "{}", r.raw);
        // The RSA key is published from the start, before any ID token.
        let published: jsonwebtoken::jwk::JwkSet = app.get_json("/.well-known/jwks.json").await;
        assert_eq!(published.keys.len(), 2);

        let before = app.clock.now();
        let r = password_grant(&app, &c, &[("scope", "openid profile posts:read")]).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let access = r.body["access_token"].as_str().unwrap();
        let id_token = r.body["id_token"].as_str().expect("an id_token");
        let (header, claims) = verify_with_jwks(&app, id_token, &c.id).await;
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(claims["iss"], app.issuer);
        assert_eq!(claims["sub"], alice);
        assert_eq!(claims["aud"], c.id);
        assert_eq!(claims["azp"], c.id);
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
        assert_eq!(claims["preferred_username"], "alice");
        assert!(claims["auth_time"].as_i64().unwrap() >= before);
        assert!(!claims["sid"].as_str().unwrap().is_empty());
        assert!(claims.get("nonce").is_none(), "{claims}");
        assert_eq!(claims["at_hash"], at_hash(access), "{claims}");
        // The access token is unchanged: ES256, at+jwt, its own key.
        let (access_header, _) = verify_with_jwks(&app, access, &app.issuer).await;
        assert_eq!(access_header.alg, jsonwebtoken::Algorithm::ES256);
        assert_eq!(access_header.typ.as_deref(), Some("at+jwt"));
        assert_ne!(access_header.kid, header.kid);
        assert!(published.find(header.kid.as_ref().unwrap()).is_some());

        // Without `profile`: no profile claims.
        let r = password_grant(&app, &c, &[("scope", "openid")]).await;
        let (_, claims) = verify_with_jwks(&app, r.body["id_token"].as_str().unwrap(), &c.id).await;
        assert!(claims.get("preferred_username").is_none(), "{claims}");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_refresh_keeps_the_sign_in_and_hashes_its_own_access_token() {
    on_every_backend(|db| async move {
        let (alice, c) = setup(&db);
        let app = TestApp::spawn_clocked(&db, &[], authd::clock::Clock::manual_from_now()).await;
        let first = password_grant(&app, &c, &[("scope", "openid posts:read")]).await;
        let (_, signed_in) =
            verify_with_jwks(&app, first.body["id_token"].as_str().unwrap(), &c.id).await;
        app.clock.advance(120);
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    first.body["refresh_token"].as_str().unwrap(),
                ),
            ],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let access = r.body["access_token"].as_str().unwrap();
        let (_, claims) = verify_with_jwks(&app, r.body["id_token"].as_str().unwrap(), &c.id).await;
        assert_eq!(claims["sub"], alice);
        assert_eq!(claims["aud"], c.id);
        assert_eq!(claims["auth_time"], signed_in["auth_time"], "{claims}");
        assert_eq!(claims["sid"], signed_in["sid"], "{claims}");
        assert_eq!(claims["iat"], signed_in["iat"].as_i64().unwrap() + 120);
        assert!(claims.get("nonce").is_none(), "{claims}");
        // Its own access token's hash, not the first one's.
        assert_eq!(claims["at_hash"], at_hash(access));
        assert_ne!(claims["at_hash"], signed_in["at_hash"]);
        // Narrowed without openid: no ID token.
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", r.body["refresh_token"].as_str().unwrap()),
                ("scope", "posts:read"),
            ],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert!(r.body.get("id_token").is_none(), "{}", r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn each_client_gets_its_algorithm_and_keys_rotate_together() {
    on_every_backend(|db| async move {
        let (_, rs) = setup(&db);
        let app = TestApp::spawn(&db).await;
        // Registered after the start: its key is made on first need.
        let es = ClientSpec::new(&db)
            .scopes("openid")
            .id_token_alg(SigningAlg::EdDsa)
            .create();
        let id_kid = |r: &crate::support::fixtures::Reply| {
            jsonwebtoken::decode_header(r.body["id_token"].as_str().unwrap()).unwrap()
        };
        let r = password_grant(&app, &es, &[("scope", "openid")]).await;
        let (header, _) =
            verify_with_jwks(&app, r.body["id_token"].as_str().unwrap(), &es.id).await;
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
        let rs_before = id_kid(&password_grant(&app, &rs, &[("scope", "openid")]).await);
        assert_eq!(rs_before.alg, jsonwebtoken::Algorithm::RS256);

        // `keys rotate` renews the access-token key and every ID-token key.
        let active = |db: &TestDb| {
            let mut ids: Vec<String> = authd::db::signing_keys::active_id_keys(&mut conn(db))
                .unwrap()
                .into_iter()
                .map(|k| k.kid)
                .collect();
            ids.sort();
            ids
        };
        let before = active(&db);
        assert_eq!(before.len(), 2);
        let rotated = authd_json(&db, &["keys", "rotate"], None);
        assert_eq!(rotated["alg"], "ES256");
        let after = active(&db);
        assert_eq!(after.len(), 2);
        assert!(
            after.iter().all(|k| !before.contains(k)),
            "{before:?} {after:?}"
        );
        let listed = authd_json(&db, &["keys", "list"], None);
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), 6, "{listed:?}");
        let live_id = listed
            .iter()
            .filter(|k| k["purpose"] == "id_token" && k["state"] == "active");
        assert_eq!(live_id.count(), 2, "{listed:?}");
        // The server signs with the new RSA key within seconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let header = id_kid(&password_grant(&app, &rs, &[("scope", "openid")]).await);
            if after.contains(header.kid.as_ref().unwrap()) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still {:?}",
                header.kid
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        app.stop().await;
    })
    .await;
}

#[test]
fn client_add_takes_the_id_token_algorithm_and_publishes_its_key() {
    crate::support::helpers::every_backend(|db| {
        let added = authd_json(
            &db,
            &[
                "client",
                "add",
                "app",
                "--scope",
                "openid",
                "--id-token-alg",
                "ES256",
            ],
            None,
        );
        assert_eq!(added["id_token_alg"], "ES256", "{added}");
        let keys = authd::db::signing_keys::active_id_keys(&mut conn(&db)).unwrap();
        assert!(
            keys.iter().any(|k| k.alg == "ES256"),
            "no ES256 ID-token key"
        );
        let plain = authd_json(&db, &["client", "add", "other", "--scope", "openid"], None);
        assert_eq!(plain["id_token_alg"], "RS256", "{plain}");
    });
}
