//! The verifier's JWKS cache: rate-limited refetching in the background,
//! one fetch at a time, outages, static keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use authd::resource::Verifier;
use jsonwebtoken::Header;
use serde_json::{json, Value};

use crate::resource::{good_claims, sign, AUD};

const ISS: &str = "https://issuer.example";

/// How the test JWKS server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Keys,
    /// The keys with `Cache-Control: max-age=N`.
    KeysMaxAge(u64),
    /// Answers only after far longer than any fetch timeout in these tests.
    Hang,
    Status500,
}

/// A JWKS server that counts its requests and answers as told.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    answer: Arc<Mutex<Answer>>,
    handle: actix_web::dev::ServerHandle,
}

impl JwksServer {
    async fn spawn(set: Value) -> JwksServer {
        let hits = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new(Answer::Keys));
        let (h, a) = (hits.clone(), answer.clone());
        let server = HttpServer::new(move || {
            let (set, h, a) = (set.clone(), h.clone(), a.clone());
            App::new().route(
                "/jwks",
                web::get().to(move || {
                    h.fetch_add(1, Ordering::SeqCst);
                    let (set, answer) = (set.clone(), *a.lock().unwrap());
                    async move {
                        match answer {
                            Answer::Keys => HttpResponse::Ok().json(set),
                            Answer::KeysMaxAge(n) => HttpResponse::Ok()
                                .insert_header(("cache-control", format!("public, max-age={n}")))
                                .json(set),
                            Answer::Hang => {
                                actix_web::rt::time::sleep(Duration::from_secs(30)).await;
                                HttpResponse::Ok().json(set)
                            }
                            Answer::Status500 => HttpResponse::InternalServerError().finish(),
                        }
                    }
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
        JwksServer {
            url,
            hits,
            answer,
            handle,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }
}

/// An ES256 key published by a fresh JWKS server, and a good token signed
/// with it.
async fn issuer_with_token() -> (JwksServer, String) {
    let row = authd::keys::generate(authd::keys::SigningAlg::Es256).unwrap();
    let key =
        authd::keys::encoding_key(authd::keys::SigningAlg::Es256, &row.private_key_pem).unwrap();
    let jwk: Value = serde_json::from_str(&row.public_jwk).unwrap();
    let server = JwksServer::spawn(json!({"keys": [jwk]})).await;
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(row.kid);
    let token = sign(&header, &good_claims(ISS), &key);
    (server, token)
}

#[actix_web::test]
async fn the_issuers_max_age_decides_when_the_keys_are_refetched() {
    let (jwks, token) = issuer_with_token().await;
    jwks.answer(Answer::KeysMaxAge(1));
    let verifier = Verifier::builder(ISS, AUD)
        .jwks_url(&jwks.url)
        .refetch_interval(Duration::ZERO)
        .max_age(Duration::from_secs(3600))
        .build()
        .unwrap();
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    assert_eq!(jwks.hits(), 1, "fresh keys are not refetched");
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    // Past the issuer's max-age (not the verifier's hour): refetched in
    // the background of the next verification.
    verifier.verify(&token).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while jwks.hits() < 2 && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(jwks.hits(), 2);
}

#[actix_web::test]
async fn unknown_kids_cannot_hammer_the_issuer_and_outages_keep_the_keys() {
    let row = authd::keys::generate(authd::keys::SigningAlg::Es256).unwrap();
    let key =
        authd::keys::encoding_key(authd::keys::SigningAlg::Es256, &row.private_key_pem).unwrap();
    let jwk: Value = serde_json::from_str(&row.public_jwk).unwrap();
    let jwks = JwksServer::spawn(json!({"keys": [jwk]})).await;
    let verifier = Verifier::builder(ISS, AUD)
        .jwks_url(&jwks.url)
        .refetch_interval(Duration::from_secs(60))
        .max_age(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(row.kid.clone());
    let token = sign(&header, &good_claims(ISS), &key);
    let claims = verifier.verify(&token).await.unwrap();
    assert!(claims.has_scope("posts:delete"));
    assert_eq!(jwks.hits(), 1);

    // A flood of forged kids: at most one refetch per interval.
    for i in 0..50 {
        let mut forged = header.clone();
        forged.kid = Some(format!("forged-{i}"));
        let t = sign(&forged, &good_claims(ISS), &key);
        assert!(verifier.verify(&t).await.is_err());
    }
    assert!(jwks.hits() <= 2, "JWKS fetched {} times", jwks.hits());

    // The issuer goes away; the stale set keeps working.
    jwks.handle.stop(false).await;
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    verifier
        .verify(&token)
        .await
        .expect("last good keys still serve");
}

#[actix_web::test]
async fn a_hanging_issuer_does_not_hold_up_requests_on_stale_keys() {
    let (jwks, token) = issuer_with_token().await;
    let timeout = Duration::from_millis(500);
    let verifier = Verifier::builder(ISS, AUD)
        .jwks_url(&jwks.url)
        .max_age(Duration::from_millis(100))
        .refetch_interval(Duration::from_millis(100))
        .fetch_timeout(timeout)
        .build()
        .unwrap();
    verifier.verify(&token).await.unwrap();

    // The keys go stale while the issuer hangs: each request still answers
    // at once from them, rather than waiting out a fetch in turn.
    jwks.answer(Answer::Hang);
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    let results = futures_util::future::join_all((0..50).map(|_| verifier.verify(&token))).await;
    let took = started.elapsed();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(took < 2 * timeout, "50 verifications took {took:?}");
    assert!(jwks.hits() <= 2, "JWKS fetched {} times", jwks.hits());
    jwks.handle.stop(false).await;
}

#[actix_web::test]
async fn a_failing_issuer_is_fetched_at_most_once_per_interval() {
    let (jwks, token) = issuer_with_token().await;
    let interval = Duration::from_millis(300);
    let verifier = Verifier::builder(ISS, AUD)
        .jwks_url(&jwks.url)
        .max_age(Duration::from_millis(100))
        .refetch_interval(interval)
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    verifier.verify(&token).await.unwrap();

    jwks.answer(Answer::Status500);
    actix_web::rt::time::sleep(interval + Duration::from_millis(50)).await;
    let before = jwks.hits();
    let started = Instant::now();
    for _ in 0..100 {
        verifier.verify(&token).await.expect("stale keys serve");
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    // Let the last background fetch land before counting.
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    let fetches = jwks.hits() - before;
    let allowed = (started.elapsed().as_millis() / interval.as_millis()) as usize + 1;
    assert!(
        (1..=allowed).contains(&fetches),
        "{fetches} fetches in {:?}, at most {allowed} allowed",
        started.elapsed()
    );
    jwks.handle.stop(false).await;
}

#[actix_web::test]
async fn requests_share_the_first_fetch() {
    let (jwks, token) = issuer_with_token().await;
    let timeout = Duration::from_millis(500);
    let verifier = Verifier::builder(ISS, AUD)
        .jwks_url(&jwks.url)
        .fetch_timeout(timeout)
        .build()
        .unwrap();

    // With no keys yet, requests wait for the one fetch, not one each.
    jwks.answer(Answer::Hang);
    let started = Instant::now();
    let results = futures_util::future::join_all((0..20).map(|_| verifier.verify(&token))).await;
    let took = started.elapsed();
    assert!(results.iter().all(Result::is_err));
    assert!(took < 3 * timeout, "20 verifications took {took:?}");
    assert_eq!(jwks.hits(), 1);

    // Against an issuer that answers, a fresh verifier's requests also
    // share one fetch, and all get in.
    jwks.answer(Answer::Keys);
    let verifier = Verifier::builder(ISS, AUD)
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let results = futures_util::future::join_all((0..20).map(|_| verifier.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(jwks.hits(), 2);
    jwks.handle.stop(false).await;
}

#[test]
fn static_key_sets_need_no_fetching() {
    let row = authd::keys::generate(authd::keys::SigningAlg::EdDsa).unwrap();
    let key =
        authd::keys::encoding_key(authd::keys::SigningAlg::EdDsa, &row.private_key_pem).unwrap();
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(&format!("{{\"keys\":[{}]}}", row.public_jwk)).unwrap();
    let verifier = Verifier::builder(ISS, AUD)
        .static_keys(set)
        .build()
        .unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(row.kid.clone());
    let token = sign(&header, &good_claims(ISS), &key);
    assert_eq!(verifier.verify_cached(&token).unwrap().sub, "u1");
}
