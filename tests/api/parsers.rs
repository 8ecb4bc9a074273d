//! Bounded property runs of the parsers that read network bytes, the
//! in-suite counterpart of the fuzz/ targets: any input gives an answer
//! (never a panic), and what a client encodes correctly comes back intact.
//! 256 cases each keep the suite fast; `PROPTEST_CASES` raises it locally.

use std::sync::LazyLock;

use authd::http::form::Form;
use authd::keys::{encoding_key, generate, SigningAlg};
use authd::oauth::client_auth::parse_basic;
use authd::oauth::token::GrantRequest;
use authd::resource::{Claims, Verifier};
use authd::scope::{self, ScopeSet};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{EncodingKey, Header};
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use proptest::sample::select;

const CASES: u32 = 256;
const ISS: &str = "https://issuer.example";
const AUD: &str = "https://api.example";

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(CASES)
}

/// Pieces that make form bodies interesting: separators, escapes good and
/// bad (`%FF` alone is invalid UTF-8), NUL, and the parameter names.
const FORM_PIECES: &[&str] = &[
    "a",
    "=",
    "&",
    "%",
    "%2",
    "%20",
    "%00",
    "%FF",
    "%C3%A9",
    "%C3",
    "+",
    "é",
    "\0",
    "grant_type",
    "password",
    "scope",
    "refresh_token",
    "client_id",
    "username",
];

/// Bodies built from [`FORM_PIECES`], which random bytes rarely assemble.
fn form_like() -> impl Strategy<Value = Vec<u8>> {
    vec(select(FORM_PIECES), 0..32).prop_map(|pieces| pieces.concat().into_bytes())
}

/// Percent-encodes every byte but ASCII letters and digits: a form the
/// strictest reader decodes the same way (no `+` for space).
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A string with no NUL, which no parser accepts anywhere.
fn no_nul() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.replace('\0', ""))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn form_parse_takes_any_bytes(body in prop_oneof![vec(any::<u8>(), 0..256), form_like()]) {
        if let Ok(form) = Form::parse(&body) {
            let _ = GrantRequest::from_form(&form);
        }
    }

    #[test]
    fn form_parse_returns_an_encoded_map(map in btree_map(no_nul(), no_nul(), 0..8)) {
        let body = map
            .iter()
            .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
            .collect::<Vec<_>>()
            .join("&");
        let form = Form::parse(body.as_bytes())
            .unwrap_or_else(|e| panic!("{body:?} refused: {e}"));
        for (k, v) in &map {
            // An empty value counts as absent (RFC 6749 §3.1).
            let expected = Some(v.as_str()).filter(|v| !v.is_empty());
            prop_assert_eq!(form.get(k), expected, "{}", body);
        }
    }

    #[test]
    fn basic_takes_any_header_value(value in any::<String>(), raw in vec(any::<u8>(), 0..128)) {
        for value in [value, format!("Basic {}", STANDARD.encode(&raw))] {
            if let Err(e) = parse_basic(&value) {
                let code = e.code();
                prop_assert!(
                    code == "invalid_client" || code == "invalid_request",
                    "{:?} gave {}", value, code
                );
            }
        }
    }

    #[test]
    fn basic_returns_encoded_credentials(
        id in no_nul().prop_filter("an id is not empty", |s| !s.is_empty()),
        secret in no_nul(),
    ) {
        let header = format!("Basic {}", STANDARD.encode(format!("{}:{}", pct(&id), pct(&secret))));
        let (got_id, got_secret) = parse_basic(&header)
            .unwrap_or_else(|e| panic!("{header:?} refused: {e}"));
        prop_assert_eq!(got_id, id);
        prop_assert_eq!(got_secret.expose(), secret.as_str());
    }

    #[test]
    fn scope_parse_takes_any_strings(inputs in vec(any::<String>(), 0..4)) {
        if let Ok(set) = scope::parse(inputs.iter().map(String::as_str)) {
            prop_assert!(set.iter().all(|t| scope::is_valid_token(t)), "{:?}", set);
        }
    }

    #[test]
    fn scope_parse_returns_a_joined_set(set in btree_set(scope_token(), 0..8)) {
        prop_assert_eq!(scope::parse([scope::join(&set).as_str()]), Ok(set));
    }

    #[test]
    fn verifier_takes_any_string(token in prop_oneof![any::<String>(), jwt_like()]) {
        prop_assert!(VERIFIER.verifier.verify_cached(&token).is_err(), "{:?} verified", token);
    }

    #[test]
    fn claims_take_any_json(value in json(), text in any::<String>()) {
        let _ = serde_json::from_str::<Claims>(&value.to_string());
        let _ = serde_json::from_str::<Claims>(&text);
    }

    #[test]
    fn verifier_returns_signed_claims(
        sub in any::<String>(),
        scopes in btree_set(scope_token(), 0..6),
    ) {
        let now = authd::clock::Clock::system().now();
        let claims = serde_json::json!({
            "iss": ISS, "sub": sub, "aud": AUD, "exp": now + 600, "iat": now,
            "scope": scope::join(&scopes),
        });
        let token = jsonwebtoken::encode(&VERIFIER.header, &claims, &VERIFIER.key)
            .expect("signing works");
        let got = VERIFIER.verifier.verify_cached(&token)
            .unwrap_or_else(|e| panic!("a signed token was refused: {e}"));
        prop_assert_eq!(got.sub, sub);
        prop_assert_eq!(got.scope, scopes);
    }
}

/// A valid scope token (RFC 6749 §3.3): 1*( %x21 / %x23-5B / %x5D-7E ).
fn scope_token() -> impl Strategy<Value = String> {
    let allowed: Vec<char> = (0x21u8..=0x7E)
        .filter(|b| *b != 0x22 && *b != 0x5C)
        .map(char::from)
        .collect();
    vec(select(allowed), 1..12).prop_map(|chars| chars.into_iter().collect())
}

/// Any JSON, its objects mostly keyed by claim names.
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    let name = prop_oneof![
        select(
            &[
                "iss",
                "sub",
                "aud",
                "exp",
                "nbf",
                "iat",
                "jti",
                "client_id",
                "scope"
            ][..]
        )
        .prop_map(str::to_string),
        any::<String>(),
    ];
    leaf.prop_recursive(3, 32, 8, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(name.clone(), inner, 0..9)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Three dot-separated base64url-ish parts, so that header parsing runs.
fn jwt_like() -> impl Strategy<Value = String> {
    let part = vec(any::<u8>(), 0..48)
        .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b));
    (part.clone(), part.clone(), part).prop_map(|(h, c, s)| format!("{h}.{c}.{s}"))
}

/// A verifier with one static ES256 key, and that key to sign with.
struct Signed {
    verifier: Verifier,
    key: EncodingKey,
    header: Header,
}

static VERIFIER: LazyLock<Signed> = LazyLock::new(|| {
    authd::resource::install_crypto_provider();
    let new = generate(SigningAlg::Es256).expect("key");
    let key = encoding_key(SigningAlg::Es256, &new.private_key_pem).expect("encoding key");
    let jwk: Jwk = serde_json::from_str(&new.public_jwk).expect("jwk");
    let verifier = Verifier::builder(ISS, AUD)
        .static_keys(JwkSet { keys: vec![jwk] })
        .build()
        .expect("verifier");
    let mut header = Header::new(SigningAlg::Es256.jwt());
    header.typ = Some("at+jwt".into());
    header.kid = Some(new.kid);
    Signed {
        verifier,
        key,
        header,
    }
});

/// The same properties' known edge cases, pinned.
#[test]
fn encoded_edges_round_trip() {
    let body = format!("{}={}", pct("k&="), pct("v+%&="));
    assert_eq!(
        Form::parse(body.as_bytes()).unwrap().get("k&="),
        Some("v+%&=")
    );
    let set: ScopeSet = ["!", "~", "a:b"].iter().map(|s| s.to_string()).collect();
    assert_eq!(scope::parse([scope::join(&set).as_str()]), Ok(set));
}
