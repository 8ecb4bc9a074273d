//! Token Status Lists (docs/interface.md "Token lifecycle", Revocation
//! reaches resource servers): every access token names a bit, the list is
//! served signed, a revocation sets that bit and no other, every instance
//! on the database serves it, and indices come in blocks that are used
//! again once their tokens expired. On every backend.

use std::io::Read;

use authd::clock::Clock;
use authd::db::status_blocks;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::support::fixtures::{conn, password_grant, post, standard, ClientSpec, TestClient};
use crate::support::helpers::{on_every_backend, TestApp};

/// A token's claims, unverified (the tests of its signature are elsewhere).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The `(uri, idx)` of a token's status.
fn status_of(token: &str) -> (String, usize) {
    let c = claims(token);
    let s = &c["status"]["status_list"];
    (
        s["uri"].as_str().unwrap().to_string(),
        s["idx"].as_u64().unwrap() as usize,
    )
}

async fn token(app: &TestApp, c: &TestClient) -> String {
    let r = password_grant(app, c, &[("scope", "posts:read")]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["access_token"].as_str().unwrap().to_string()
}

/// The list at `uri` as served by `app`: checked (media type, header,
/// signature by a JWKS key, claims) and inflated to its bytes.
async fn list(app: &TestApp, uri: &str) -> (Value, Vec<u8>) {
    let path = uri
        .strip_prefix(&app.issuer)
        .expect("the list is under the issuer");
    let res = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/statuslist+jwt");
    let jwt = res.text().await.unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("statuslist+jwt"));
    let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let mut v = Validation::new(header.alg);
    v.validate_aud = false;
    v.validate_exp = false;
    v.set_required_spec_claims(&["sub", "iat", "exp"]);
    let claims = jsonwebtoken::decode::<Value>(&jwt, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .expect("the list is signed with a JWKS key")
        .claims;
    assert_eq!(claims["sub"], uri);
    assert_eq!(claims["status_list"]["bits"], 1);
    let z = URL_SAFE_NO_PAD
        .decode(claims["status_list"]["lst"].as_str().unwrap())
        .unwrap();
    let mut bytes = Vec::new();
    flate2::read::ZlibDecoder::new(&z[..])
        .read_to_end(&mut bytes)
        .expect("lst is zlib");
    (claims, bytes)
}

/// The indices whose bit is set.
fn set_bits(bytes: &[u8]) -> Vec<usize> {
    (0..bytes.len() * 8)
        .filter(|i| bytes[i / 8] & (1 << (i % 8)) != 0)
        .collect()
}

async fn revoke(app: &TestApp, c: &TestClient, token: &str) {
    let r = post(app, "/oauth/revoke", Some(c), &[("token", token)]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[actix_web::test]
async fn a_revocation_sets_its_tokens_bit_and_no_other() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let clock = Clock::manual_from_now();
        let app = TestApp::spawn_clocked(&db, &["--status-list-ttl", "7"], clock.clone()).await;
        let mut tokens = Vec::new();
        for _ in 0..3 {
            tokens.push(token(&app, &c).await);
        }
        let places: Vec<_> = tokens.iter().map(|t| status_of(t)).collect();
        let uri = places[0].0.clone();
        assert_eq!(
            uri,
            format!("{}/oauth/status/0", app.issuer),
            "[{}]",
            db.label()
        );
        assert!(places.iter().all(|(u, _)| *u == uri));
        let idx: Vec<usize> = places.iter().map(|p| p.1).collect();
        assert!(
            idx[0] != idx[1] && idx[1] != idx[2] && idx[0] != idx[2],
            "{idx:?}"
        );

        let (claims, bytes) = list(&app, &uri).await;
        assert_eq!(bytes.len() as i64 * 8, status_blocks::LIST_SIZE);
        assert_eq!(set_bits(&bytes), Vec::<usize>::new(), "[{}]", db.label());
        let iat = claims["iat"].as_i64().unwrap();
        assert_eq!(iat, clock.now());
        assert_eq!(claims["ttl"], 7);
        assert_eq!(claims["exp"].as_i64().unwrap(), iat + 7);

        revoke(&app, &c, &tokens[1]).await;
        let (_, bytes) = list(&app, &uri).await;
        assert_eq!(set_bits(&bytes), vec![idx[1]], "[{}]", db.label());
        // Revoking it again changes nothing; an unknown list is 404.
        revoke(&app, &c, &tokens[1]).await;
        assert_eq!(set_bits(&list(&app, &uri).await.1), vec![idx[1]]);
        assert_eq!(app.status("/oauth/status/9").await, 404);
        assert_eq!(app.status("/oauth/status/x").await, 404);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn another_instance_serves_the_bit_and_reserves_its_own_block() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let clock = Clock::manual_from_now();
        let a = TestApp::spawn_clocked(&db, &[], clock.clone()).await;
        let b = TestApp::spawn_clocked(&db, &[], clock.clone()).await;
        let from_a = token(&a, &c).await;
        let from_b = token(&b, &c).await;
        let (uri, idx_a) = status_of(&from_a);
        let (uri_b, idx_b) = status_of(&from_b);
        // Each instance hands out its own block.
        assert_eq!(uri_b.replace(&b.issuer, &a.issuer), uri);
        assert_ne!(idx_a / 1024, idx_b / 1024, "[{}]", db.label());
        assert_eq!(status_blocks::count(&mut conn(&db)).unwrap(), 2);
        // b has made the list this second: it shows a's revocation once
        // the second has passed.
        let b_path = uri.replace(&a.issuer, &b.issuer);
        assert!(set_bits(&list(&b, &b_path).await.1).is_empty());
        revoke(&a, &c, &from_a).await;
        clock.advance(1);
        assert_eq!(
            set_bits(&list(&b, &b_path).await.1),
            vec![idx_a],
            "[{}]",
            db.label()
        );
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn indices_come_in_blocks_reserved_once_and_reused_after_expiry() {
    on_every_backend(|db| async move {
        let cc = ClientSpec::new(&db)
            .grants(&["client_credentials"])
            .scopes("posts:read")
            .create();
        let clock = Clock::manual_from_now();
        let app = TestApp::spawn_clocked(&db, &["--access-token-ttl", "300"], clock.clone()).await;
        let issue = || async {
            let r = post(
                &app,
                "/oauth/token",
                Some(&cc),
                &[("grant_type", "client_credentials")],
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.raw);
            r.body["access_token"].as_str().unwrap().to_string()
        };
        // A block's 1024 indices cost one write; the 1025th token a second.
        let mut seen = std::collections::BTreeSet::new();
        let mut first = None;
        for _ in 0..1025 {
            let t = issue().await;
            seen.insert(status_of(&t).1);
            first.get_or_insert(t);
        }
        assert_eq!(
            seen.len(),
            1025,
            "[{}] every token its own index",
            db.label()
        );
        assert_eq!(
            status_blocks::count(&mut conn(&db)).unwrap(),
            2,
            "[{}]",
            db.label()
        );
        let first = first.unwrap();
        let (uri, idx) = status_of(&first);
        revoke(&app, &cc, &first).await;
        assert_eq!(set_bits(&list(&app, &uri).await.1), vec![idx]);

        // Once every token of the blocks has expired (ttl, the hand-out
        // minute, the margin), the lowest block is reused: no new block,
        // and the old token's revocation no longer shows at its index.
        clock.advance(300 + 60 + 61);
        let again = issue().await;
        assert_eq!(status_of(&again), (uri.clone(), 0), "[{}]", db.label());
        assert_eq!(
            status_blocks::count(&mut conn(&db)).unwrap(),
            2,
            "[{}]",
            db.label()
        );
        assert!(
            set_bits(&list(&app, &uri).await.1).is_empty(),
            "[{}]",
            db.label()
        );
        app.stop().await;
    })
    .await;
}
