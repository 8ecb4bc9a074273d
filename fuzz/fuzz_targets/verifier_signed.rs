//! The resource server's token check past the signature: the fuzzer writes
//! the header and the claims (as fields or raw bytes) and picks the key
//! that signs them, so that claim parsing and validation see input that a
//! random string never reaches. Nothing may panic, and a token may pass
//! only when a trusted key signed it under its own algorithm and `kid`
//! for our issuer and audience.

#![no_main]

#[path = "common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

use common::{Signer, AUD, ISS, KEYS, OCT_KID, OCT_SECRET};

/// Any JSON value.
#[derive(Arbitrary, Debug)]
enum Json<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Array(Vec<Json<'a>>),
    Object(Vec<(&'a str, Json<'a>)>),
}

impl Json<'_> {
    fn value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(i) => Value::from(*i),
            Json::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Json::Str(s) => Value::from(*s),
            Json::Array(items) => Value::Array(items.iter().map(Json::value).collect()),
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.value()))
                    .collect(),
            ),
        }
    }
}

/// One header or claim: absent, right, a plausible wrong value, a time
/// relative to now, or anything at all.
#[derive(Arbitrary, Debug)]
enum Field<'a> {
    Absent,
    Good,
    Alt(u8),
    Offset(i32),
    Any(Json<'a>),
}

impl Field<'_> {
    fn value(&self, good: Value, alts: &[Value], now: i64) -> Option<Value> {
        match self {
            Field::Absent => None,
            Field::Good => Some(good),
            Field::Alt(i) if alts.is_empty() => Some(Value::from(*i)),
            Field::Alt(i) => Some(alts[usize::from(*i) % alts.len()].clone()),
            Field::Offset(secs) => Some(Value::from(now + i64::from(*secs))),
            Field::Any(json) => Some(json.value()),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct HeaderFields<'a> {
    alg: Field<'a>,
    typ: Field<'a>,
    kid: Field<'a>,
    extra: Vec<(&'a str, Json<'a>)>,
}

#[derive(Arbitrary, Debug)]
struct ClaimFields<'a> {
    iss: Field<'a>,
    sub: Field<'a>,
    aud: Field<'a>,
    exp: Field<'a>,
    nbf: Field<'a>,
    iat: Field<'a>,
    jti: Field<'a>,
    client_id: Field<'a>,
    scope: Field<'a>,
    extra: Vec<(&'a str, Json<'a>)>,
}

#[derive(Arbitrary, Debug)]
enum Part<'a, T> {
    Fields(T),
    Raw(&'a [u8]),
}

/// Who signs.
#[derive(Arbitrary, Debug)]
enum Sig<'a> {
    Es256,
    EdDsa,
    Rs256,
    /// HMAC with the symmetric key of the published set.
    Hmac(u8),
    Empty,
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: Part<'a, HeaderFields<'a>>,
    claims: Part<'a, ClaimFields<'a>>,
    sig: Sig<'a>,
}

const ALGS: &[&str] = &[
    "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA",
    "HS256", "HS384", "HS512", "none", "",
];

fn put(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(name.to_string(), v);
    }
}

fn strings(values: &[&str]) -> Vec<Value> {
    values.iter().map(|s| Value::from(*s)).collect()
}

fn header_json(h: &HeaderFields, signer: Option<&Signer>, now: i64) -> Vec<u8> {
    let k = &*KEYS;
    let kids = strings(&[&k.es256.kid, &k.eddsa.kid, &k.rs256.kid, OCT_KID, ""]);
    let (good_alg, good_kid) = match signer {
        Some(s) => (alg_name(s.alg), s.kid.as_str()),
        None => ("HS256", OCT_KID),
    };
    let mut map = Map::new();
    for (name, value) in &h.extra {
        map.insert(name.to_string(), value.value());
    }
    put(
        &mut map,
        "alg",
        h.alg.value(good_alg.into(), &strings(ALGS), now),
    );
    let typs = strings(&["application/at+jwt", "AT+JWT", "JWT", "at+jwt ", ""]);
    put(&mut map, "typ", h.typ.value("at+jwt".into(), &typs, now));
    put(&mut map, "kid", h.kid.value(good_kid.into(), &kids, now));
    serde_json::to_vec(&map).unwrap_or_default()
}

fn claims_json(c: &ClaimFields, now: i64) -> Vec<u8> {
    let mut map = Map::new();
    for (name, value) in &c.extra {
        map.insert(name.to_string(), value.value());
    }
    let other = |s: &str| strings(&[s, "", " "]);
    put(
        &mut map,
        "iss",
        c.iss.value(ISS.into(), &other("https://evil.example"), now),
    );
    put(
        &mut map,
        "sub",
        c.sub.value("user-1".into(), &other("\0"), now),
    );
    let auds = vec![
        Value::from(vec![AUD, "other"]),
        Value::from(Vec::<String>::new()),
        Value::from("other"),
        Value::from(vec![Value::Null]),
    ];
    put(&mut map, "aud", c.aud.value(AUD.into(), &auds, now));
    let times = vec![
        Value::from(i64::MAX),
        Value::from(i64::MIN),
        Value::from(u64::MAX),
        Value::from(1.5e300),
        Value::from(-1),
        Value::from("123"),
    ];
    put(
        &mut map,
        "exp",
        c.exp.value((now + 600).into(), &times, now),
    );
    put(&mut map, "nbf", c.nbf.value((now - 10).into(), &times, now));
    put(&mut map, "iat", c.iat.value(now.into(), &times, now));
    put(
        &mut map,
        "jti",
        c.jti.value("jti-1".into(), &other("x"), now),
    );
    put(
        &mut map,
        "client_id",
        c.client_id.value("client-1".into(), &other("c"), now),
    );
    let scopes = strings(&["", "  ", "a  b", "\u{0}", "posts:read posts:read"]);
    put(
        &mut map,
        "scope",
        c.scope.value("posts:read".into(), &scopes, now),
    );
    serde_json::to_vec(&map).unwrap_or_default()
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
        Algorithm::EdDSA => "EdDSA",
        _ => "HS256",
    }
}

fuzz_target!(|input: Input| {
    let k = &*KEYS;
    let now = common::now();
    let signer = match input.sig {
        Sig::Es256 => Some(&k.es256),
        Sig::EdDsa => Some(&k.eddsa),
        Sig::Rs256 => Some(&k.rs256),
        _ => None,
    };
    let header = match &input.header {
        Part::Fields(h) => header_json(h, signer, now),
        Part::Raw(bytes) => bytes.to_vec(),
    };
    let claims = match &input.claims {
        Part::Fields(c) => claims_json(c, now),
        Part::Raw(bytes) => bytes.to_vec(),
    };
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&header),
        URL_SAFE_NO_PAD.encode(&claims)
    );
    let signature = match (&input.sig, signer) {
        (_, Some(s)) => jsonwebtoken::crypto::sign(message.as_bytes(), &s.key, s.alg)
            .expect("a trusted key signs"),
        (Sig::Hmac(i), None) => {
            let alg = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512][usize::from(*i) % 3];
            let key = EncodingKey::from_secret(OCT_SECRET).expect("an HMAC key");
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).expect("HMAC signs")
        }
        (Sig::Raw(bytes), None) => URL_SAFE_NO_PAD.encode(bytes),
        _ => String::new(),
    };
    let token = format!("{message}.{signature}");
    let Ok(claims) = k.verifier.verify_cached(&token) else {
        return;
    };
    // It passed: only a trusted key under its own algorithm and kid, for
    // our issuer and audience, in its lifetime, may get here.
    let signer = signer.unwrap_or_else(|| panic!("a token no trusted key signed passed: {token}"));
    let parsed = jsonwebtoken::decode_header(&token).expect("a verified header parses");
    assert_eq!(parsed.alg, signer.alg, "{token}");
    assert_eq!(parsed.kid.as_deref(), Some(signer.kid.as_str()), "{token}");
    assert_eq!(claims.iss, ISS, "{token}");
    assert!(claims.aud.iter().any(|a| a == AUD), "{token}");
    assert!(claims.exp >= now - 61, "an expired token passed: {token}");
});
