//! The active signing key, parsed once. `jsonwebtoken::encode` builds its
//! signer from the PKCS#8 bytes at every call, and parsing the key was
//! about a third of an access token's signing cost in the profile of the
//! refresh grant.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Header;
use serde::Serialize;

use super::{crypto, KeyError, SigningAlg};

/// A private key ready to sign JWS (RFC 7515) compact serializations.
pub enum Signer {
    /// ECDSA P-256 with SHA-256, signature as R || S (RFC 7518 §3.4).
    Es256(EcdsaKeyPair),
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256(RsaKeyPair),
    /// Ed25519 (RFC 8037).
    EdDsa(Ed25519KeyPair),
}

impl Signer {
    /// Parses a PKCS#8 DER private key of `alg`.
    pub fn new(alg: SigningAlg, pkcs8: &[u8]) -> Result<Signer, KeyError> {
        Ok(match alg {
            SigningAlg::Es256 => Signer::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(crypto)?,
            ),
            SigningAlg::Rs256 => Signer::Rs256(RsaKeyPair::from_der(pkcs8).map_err(crypto)?),
            SigningAlg::EdDsa => Signer::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(crypto)?),
        })
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(match self {
            Signer::Es256(key) => key
                .sign(&SystemRandom::new(), message)
                .map_err(crypto)?
                .as_ref()
                .to_vec(),
            Signer::Rs256(key) => {
                let mut out = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut out)
                    .map_err(crypto)?;
                out
            }
            Signer::EdDsa(key) => key.sign(message).as_ref().to_vec(),
        })
    }

    /// `header.claims.signature`, each part base64url without padding.
    pub fn jws<T: Serialize>(&self, header: &Header, claims: &T) -> Result<String, KeyError> {
        let mut out = part(header)?;
        out.push('.');
        out.push_str(&part(claims)?);
        let signature = self.signature(out.as_bytes())?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(out)
    }
}

fn part<T: Serialize>(value: &T) -> Result<String, KeyError> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).map_err(crypto)?))
}
