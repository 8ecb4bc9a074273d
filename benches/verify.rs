//! The resource verifier on a cached key set versus a bare
//! `jsonwebtoken::decode` of the same token with the same key and the same
//! checks. The verifier's extra work (header parse, kid lookup, typ and
//! alg checks) must stay within 10% of the bare decode.
//!
//!     cargo bench --bench verify

use std::hint::black_box;

use authd::keys::{encoding_key, generate, SigningAlg};
use authd::resource::{Claims, Verifier};
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{decode, DecodingKey, Header, Validation};

const ISS: &str = "https://issuer.example";
const AUD: &str = "https://api.example";

fn bench(c: &mut Criterion) {
    for alg in [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Rs256] {
        let row = generate(alg).expect("key");
        let key = encoding_key(alg, &row.private_key_pem).expect("encoding key");
        let jwk: Jwk = serde_json::from_str(&row.public_jwk).expect("jwk");
        let mut header = Header::new(alg.jwt());
        header.typ = Some("at+jwt".into());
        header.kid = Some(row.kid.clone());
        let now = authd::clock::Clock::system().now();
        let claims = serde_json::json!({
            "iss": ISS, "sub": "user-1", "aud": AUD, "exp": now + 3600, "iat": now,
            "jti": "abc", "client_id": "client-1", "scope": "posts:read posts:write",
        });
        let token = jsonwebtoken::encode(&header, &claims, &key).expect("token");

        let verifier = Verifier::builder(ISS, AUD)
            .static_keys(JwkSet {
                keys: vec![jwk.clone()],
            })
            .build()
            .expect("verifier");
        let decoding = DecodingKey::from_jwk(&jwk).expect("decoding key");
        let mut validation = Validation::new(alg.jwt());
        validation.leeway = 30;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISS]);
        validation.set_audience(&[AUD]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

        let mut group = c.benchmark_group(format!("verify/{alg}"));
        group.bench_function("jsonwebtoken::decode", |b| {
            b.iter(|| decode::<Claims>(black_box(&token), &decoding, &validation).expect("valid"))
        });
        group.bench_function("Verifier::verify_cached", |b| {
            b.iter(|| verifier.verify_cached(black_box(&token)).expect("valid"))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
