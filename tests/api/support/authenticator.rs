//! A passkey authenticator in software, for the HTTP-level tests that
//! need no browser: it answers the options a page's script would pass to
//! `navigator.credentials`, as a browser and a CTAP2 device would
//! together (WebAuthn Level 2 §6.1 authenticator data, §5.8.1 client
//! data, `none` attestation, ES256 signatures), written here from the
//! specification rather than taken from the server's library. Each
//! answer is the JSON the script posts in the field `credential`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// User present, user verified (§6.1 flags).
const UP_UV: u8 = 0x01 | 0x04;

/// Attested credential data included.
const AT: u8 = 0x40;

/// One discoverable credential.
pub struct SoftKey {
    key: EcdsaKeyPair,
    /// The credential id.
    pub id: Vec<u8>,
    /// The user handle it stored at registration.
    pub user_handle: Vec<u8>,
    /// Its signature counter (the next answer sends one more).
    pub counter: u32,
    /// The origin the "browser" puts in its client data.
    pub origin: String,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A CBOR head (RFC 8949 §3): major type and argument.
fn head(major: u8, n: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        _ => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}

fn cbor_int(v: i64, out: &mut Vec<u8>) {
    match v {
        0.. => head(0, v as usize, out),
        _ => head(1, (-1 - v) as usize, out),
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    head(2, b.len(), out);
    out.extend_from_slice(b);
}

fn cbor_text(t: &str, out: &mut Vec<u8>) {
    head(3, t.len(), out);
    out.extend_from_slice(t.as_bytes());
}

impl SoftKey {
    /// A new key whose "browser" is at `origin` (e.g. `http://localhost:PORT`).
    pub fn new(origin: &str) -> SoftKey {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("a P-256 key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref())
            .expect("the key parses");
        let mut id = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut id).expect("random");
        SoftKey {
            key,
            id,
            user_handle: Vec::new(),
            counter: 0,
            origin: origin.to_string(),
        }
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("options with a challenge");
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn auth_data(&self, rp_id: &str, flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        data
    }

    /// The COSE_Key of the public key (RFC 9053 §7.1.1: EC2, ES256).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let mut out = Vec::new();
        head(5, 5, &mut out);
        for (label, value) in [(1, 2), (3, -7), (-1, 1)] {
            cbor_int(label, &mut out);
            cbor_int(value, &mut out);
        }
        cbor_int(-2, &mut out);
        cbor_bytes(&point[1..33], &mut out);
        cbor_int(-3, &mut out);
        cbor_bytes(&point[33..65], &mut out);
        out
    }

    /// The answer to registration `options`: a new credential for their
    /// user, attested `none`.
    pub fn register(&mut self, options: &Value) -> String {
        let o = &options["publicKey"];
        let user = o["user"]["id"].as_str().expect("a user id");
        self.user_handle = URL_SAFE_NO_PAD.decode(user).expect("base64url");
        let rp_id = o["rp"]["id"].as_str().expect("an rp id");
        let mut auth = self.auth_data(rp_id, UP_UV | AT);
        auth.extend([0u8; 16]); // AAGUID
        auth.extend((self.id.len() as u16).to_be_bytes());
        auth.extend(&self.id);
        auth.extend(self.cose_key());
        let mut attestation = Vec::new();
        head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        head(5, 0, &mut attestation);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth, &mut attestation);
        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "extensions": {},
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&self.client_data("webauthn.create", options)),
            },
        })
        .to_string()
    }

    /// The answer to sign-in `options`, with the counter one more and the
    /// user verified.
    pub fn assert(&mut self, options: &Value) -> String {
        self.counter += 1;
        self.answer(options, UP_UV)
    }

    /// The answer to sign-in `options` with these flags, at the counter
    /// as it is.
    pub fn answer(&self, options: &Value, flags: u8) -> String {
        let rp_id = options["publicKey"]["rpId"].as_str().expect("an rp id");
        let auth = self.auth_data(rp_id, flags);
        let client = self.client_data("webauthn.get", options);
        let mut signed = auth.clone();
        signed.extend(Sha256::digest(&client));
        let sig = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .expect("a signature");
        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "extensions": {},
            "response": {
                "authenticatorData": b64(&auth),
                "clientDataJSON": b64(&client),
                "signature": b64(sig.as_ref()),
                "userHandle": b64(&self.user_handle),
            },
        })
        .to_string()
    }
}

/// User present only: no user verification.
pub const PRESENT_ONLY: u8 = 0x01;
