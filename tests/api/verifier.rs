//! The verifier's JWKS cache: rate-limited refetching, outages, static keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use authd::resource::Verifier;
use jsonwebtoken::Header;
use serde_json::{json, Value};

use crate::resource::{good_claims, sign, AUD};

/// A JWKS server that counts its requests.
async fn jwks_server(set: Value) -> (String, Arc<AtomicUsize>, actix_web::dev::ServerHandle) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let server = HttpServer::new(move || {
        let set = set.clone();
        let h = h.clone();
        App::new().route(
            "/jwks",
            web::get().to(move || {
                h.fetch_add(1, Ordering::SeqCst);
                let set = set.clone();
                async move { HttpResponse::Ok().json(set) }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/jwks", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (url, hits, handle)
}

#[actix_web::test]
async fn unknown_kids_cannot_hammer_the_issuer_and_outages_keep_the_keys() {
    let row = authd::keys::generate(authd::keys::SigningAlg::Es256).unwrap();
    let key =
        authd::keys::encoding_key(authd::keys::SigningAlg::Es256, &row.private_key_pem).unwrap();
    let jwk: Value = serde_json::from_str(&row.public_jwk).unwrap();
    let (url, hits, handle) = jwks_server(json!({"keys": [jwk]})).await;
    let verifier = Verifier::builder("https://issuer.example", AUD)
        .jwks_url(&url)
        .refetch_interval(Duration::from_secs(60))
        .max_age(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(row.kid.clone());
    let token = sign(&header, &good_claims("https://issuer.example"), &key);
    let claims = verifier.verify(&token).await.unwrap();
    assert!(claims.has_scope("posts:delete"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A flood of forged kids: at most one refetch per interval.
    for i in 0..50 {
        let mut forged = header.clone();
        forged.kid = Some(format!("forged-{i}"));
        let t = sign(&forged, &good_claims("https://issuer.example"), &key);
        assert!(verifier.verify(&t).await.is_err());
    }
    assert!(
        hits.load(Ordering::SeqCst) <= 2,
        "JWKS fetched {} times",
        hits.load(Ordering::SeqCst)
    );

    // The issuer goes away; the stale set keeps working.
    handle.stop(false).await;
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    verifier
        .verify(&token)
        .await
        .expect("last good keys still serve");
}

#[test]
fn static_key_sets_need_no_fetching() {
    let row = authd::keys::generate(authd::keys::SigningAlg::EdDsa).unwrap();
    let key =
        authd::keys::encoding_key(authd::keys::SigningAlg::EdDsa, &row.private_key_pem).unwrap();
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(&format!("{{\"keys\":[{}]}}", row.public_jwk)).unwrap();
    let verifier = Verifier::builder("https://issuer.example", AUD)
        .static_keys(set)
        .build()
        .unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(row.kid.clone());
    let token = sign(&header, &good_claims("https://issuer.example"), &key);
    assert_eq!(verifier.verify_cached(&token).unwrap().sub, "u1");
}
