//! Every kind of bad token is a 401 `invalid_token` from the posts API.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

use crate::resource::{active_key, assert_401, call, good_claims, login, setup, sign, PostsApp};
use crate::support::helpers::{TestApp, TestDb};

#[actix_web::test]
async fn every_kind_of_bad_token_is_401() {
    let db = TestDb::sqlite();
    let authd = TestApp::spawn(&db).await;
    let c = setup(&db);
    let api = PostsApp::spawn(&authd.issuer, Duration::from_secs(1)).await;
    let url = format!("{}/posts", api.base);
    let get = |t: String| {
        call(
            reqwest::Method::GET,
            url.clone(),
            Some(Box::leak(t.into_boxed_str())),
            None,
        )
    };

    let good = login(&authd, &c, "alice").await;
    assert_eq!(get(good.clone()).await.status, 200);
    let (kid, alg, key) = active_key(&db);
    let mut header = Header::new(alg.jwt());
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.clone());
    let iss = authd.issuer.clone();
    let now = authd::clock::Clock::system().now();

    // Sanity: a token we forge with the real key and good claims passes,
    // so every rejection below is for the one thing changed.
    assert_eq!(
        get(sign(&header, &good_claims(&iss), &key)).await.status,
        200
    );

    assert_401(&get("garbage".into()).await, "garbage", true);

    let parts: Vec<&str> = good.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["scope"] = "posts:read posts:write posts:delete".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_401(&get(tampered).await, "tampered payload", true);

    let other = authd::keys::generate(alg).unwrap();
    let other_key = authd::keys::encoding_key(alg, &other.private_key_pem).unwrap();
    assert_401(
        &get(sign(&header, &good_claims(&iss), &other_key)).await,
        "wrong signature",
        true,
    );

    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
    let none = format!(
        "{none_header}.{}.",
        URL_SAFE_NO_PAD.encode(good_claims(&iss).to_string())
    );
    assert_401(&get(none).await, "alg none", true);

    let jwks: Value = authd.get_json("/.well-known/jwks.json").await;
    let public = jwks["keys"][0].to_string();
    let mut hs = Header::new(jsonwebtoken::Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some(kid.clone());
    let hs_key = EncodingKey::from_secret(public.as_bytes()).unwrap();
    assert_401(
        &get(sign(&hs, &good_claims(&iss), &hs_key)).await,
        "HS256 with the public key",
        true,
    );

    let mut c2 = good_claims(&iss);
    c2["exp"] = (now - 120).into();
    let r = get(sign(&header, &c2, &key)).await;
    assert_401(&r, "expired", true);
    assert!(r.header("www-authenticate").unwrap().contains("expired"));

    let mut c2 = good_claims(&iss);
    c2["nbf"] = (now + 120).into();
    assert_401(&get(sign(&header, &c2, &key)).await, "not yet valid", true);
    // Within the 30 s leeway, a slightly early nbf is fine.
    let mut c2 = good_claims(&iss);
    c2["nbf"] = (now + 5).into();
    assert_eq!(
        get(sign(&header, &c2, &key)).await.status,
        200,
        "nbf within leeway"
    );

    let mut c2 = good_claims(&iss);
    c2["iss"] = "https://evil.example".into();
    assert_401(&get(sign(&header, &c2, &key)).await, "wrong iss", true);

    let mut c2 = good_claims(&iss);
    c2["aud"] = "https://other-api.example".into();
    assert_401(&get(sign(&header, &c2, &key)).await, "wrong aud", true);

    let mut jwt_typ = header.clone();
    jwt_typ.typ = Some("JWT".into());
    assert_401(
        &get(sign(&jwt_typ, &good_claims(&iss), &key)).await,
        "wrong typ",
        true,
    );

    // The real key under another kid: only the kid is wrong, so a verifier
    // that ignored it would accept this token.
    let mut unknown = header.clone();
    unknown.kid = Some("no-such-kid".into());
    assert_401(
        &get(sign(&unknown, &good_claims(&iss), &key)).await,
        "unknown kid",
        true,
    );

    api.handle.stop(false).await;
    authd.stop().await;
}
