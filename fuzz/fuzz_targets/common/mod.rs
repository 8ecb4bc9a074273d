//! A verifier with a static key set, and the private keys behind it, made
//! once per fuzzing process (fresh keys each run: none is kept anywhere).

// Each target uses a part of this.
#![allow(dead_code)]

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use authd::keys::{encoding_key, generate, SigningAlg};
use authd_resource::Verifier;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

/// The issuer the verifier expects.
pub const ISS: &str = "https://issuer.example";
/// The audience the verifier expects.
pub const AUD: &str = "https://api.example";
/// The kid of a symmetric key in the published set, which the verifier
/// must drop (an HMAC "secret" that everyone can read).
pub const OCT_KID: &str = "oct-key";
/// The bytes of that symmetric key.
pub const OCT_SECRET: &[u8] = b"published to the world";

/// A key the verifier trusts, with its private half.
pub struct Signer {
    pub kid: String,
    pub alg: Algorithm,
    pub key: EncodingKey,
}

/// The verifier and the keys it trusts.
pub struct Keys {
    pub verifier: Verifier,
    pub es256: Signer,
    /// Published without an `alg`, so the header's `alg` is all there is.
    pub eddsa: Signer,
    pub rs256: Signer,
}

fn signer(alg: SigningAlg, strip_alg: bool) -> (Signer, Value) {
    let new = generate(alg).expect("key generation works");
    let key = encoding_key(alg, &new.private_key_pem).expect("a fresh key parses");
    let mut jwk: Value = serde_json::from_str(&new.public_jwk).expect("a JWK is JSON");
    if strip_alg {
        if let Some(o) = jwk.as_object_mut() {
            o.remove("alg");
        }
    }
    let signer = Signer {
        kid: new.kid,
        alg: alg.jwt(),
        key,
    };
    (signer, jwk)
}

/// Made on first use.
pub static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    authd_resource::install_crypto_provider();
    let (es256, es_jwk) = signer(SigningAlg::Es256, false);
    let (eddsa, ed_jwk) = signer(SigningAlg::EdDsa, true);
    let (rs256, rs_jwk) = signer(SigningAlg::Rs256, false);
    let oct = json!({
        "kty": "oct",
        "kid": OCT_KID,
        "alg": "HS256",
        "k": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, OCT_SECRET),
    });
    let set: JwkSet = serde_json::from_value(json!({ "keys": [es_jwk, ed_jwk, rs_jwk, oct] }))
        .expect("the key set parses");
    let verifier = Verifier::builder(ISS, AUD)
        .static_keys(set)
        .build()
        .expect("verifier settings are valid");
    Keys {
        verifier,
        es256,
        eddsa,
        rs256,
    }
});

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
