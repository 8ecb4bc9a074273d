//! Argon2id over memory each thread keeps: one hash allocates nothing
//! after the first, so a flood of logins does not churn 19 MiB blocks
//! through the allocator (which kept them: hundreds of MiB of RSS), and no
//! page faults are paid per hash. PHC strings in and out, as the argon2
//! crate's own `PasswordHasher` / `PasswordVerifier` produce and read.

use std::cell::RefCell;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::secret::constant_time_eq;

thread_local! {
    /// This thread's Argon2 memory, grown to the largest cost it met.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Longest output we compute (the PHC `Output` maximum).
const MAX_OUTPUT: usize = 64;

fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password,
            salt,
            out,
            &mut memory[..blocks],
        )
    })
}

/// Hashes `password` with a fresh random salt: an Argon2id PHC string.
pub fn hash(params: &Params, password: &[u8]) -> Result<String, String> {
    let salt = Salt::generate();
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut out = [0u8; MAX_OUTPUT];
    let out = out.get_mut(..len).ok_or("output length too large")?;
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password,
        salt.as_ref(),
        out,
    )
    .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
        salt: Some(salt),
        hash: Some(Output::new(out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the parsed PHC hash (any Argon2 variant,
/// version and cost it names). Compared in constant time.
pub fn verify(parsed: &PasswordHash, password: &[u8]) -> bool {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    let mut out = [0u8; MAX_OUTPUT];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    argon2_into(algorithm, version, params, password, salt.as_ref(), out).is_ok()
        && constant_time_eq(out, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};

    fn params() -> Params {
        Params::new(64, 1, 1, None).unwrap()
    }

    #[test]
    fn agrees_with_the_argon2_crate_both_ways() {
        let ours = hash(&params(), b"correct horse").unwrap();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        assert!(argon2
            .verify_password(b"correct horse", ours.as_str())
            .is_ok());
        let theirs = argon2.hash_password(b"correct horse").unwrap().to_string();
        let parsed = PasswordHash::new(&theirs).unwrap();
        assert!(verify(&parsed, b"correct horse"));
        assert!(!verify(&parsed, b"wrong horse"));
    }

    #[test]
    fn reads_other_costs_and_variants() {
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(128, 2, 1, Some(16)).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        assert!(verify(&PasswordHash::new(&other).unwrap(), b"pw"));
    }
}
