//! A status list as served: the bits of one list (one per index, set for a
//! revoked token, draft-ietf-oauth-status-list §4.1), zlib-compressed and
//! signed as a `statuslist+jwt` (§5.1).

use std::io::Write;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};

use crate::db::status_blocks::LIST_SIZE;
use crate::keys::{KeyError, KeySnapshot};

/// The claims of a status list token (§5.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListClaims {
    /// The list's URI, as the tokens name it.
    pub sub: String,
    /// When it was made (Unix seconds).
    pub iat: i64,
    /// After this, a verifier must not use it (here `iat + ttl`).
    pub exp: i64,
    /// Seconds a verifier may cache it before fetching it again.
    pub ttl: i64,
    /// The list itself.
    pub status_list: Bits,
}

/// The `status_list` claim (§4.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bits {
    /// Bits per token: 1 (valid or invalid).
    pub bits: u8,
    /// The byte array, zlib-compressed (RFC 1950), base64url.
    pub lst: String,
}

/// The byte array of a list of [`LIST_SIZE`] entries with the bits at
/// `revoked` set: index `i` is bit `i % 8` (least significant first) of
/// byte `i / 8` (§4.1). Indices outside the list are ignored.
pub fn bytes(revoked: &[i64]) -> Vec<u8> {
    let mut out = vec![0u8; (LIST_SIZE / 8) as usize];
    for &i in revoked {
        if (0..LIST_SIZE).contains(&i) {
            out[(i / 8) as usize] |= 1 << (i % 8);
        }
    }
    out
}

/// `bytes` zlib-compressed (best compression: a list is made at most once
/// a second per instance, and mostly of zeros).
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(bytes);
    z.finish().unwrap_or_default()
}

/// The signed list `uri` with `revoked` set, made at `now`.
pub fn signed(
    keys: &KeySnapshot,
    uri: String,
    revoked: &[i64],
    now: i64,
    ttl: i64,
) -> Result<String, KeyError> {
    let claims = ListClaims {
        sub: uri,
        iat: now,
        exp: now + ttl,
        ttl,
        status_list: Bits {
            bits: 1,
            lst: URL_SAFE_NO_PAD.encode(compress(&bytes(revoked))),
        },
    };
    keys.sign_status_list(&claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        ZlibDecoder::new(z).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn index_i_is_bit_i_mod_8_of_byte_i_div_8() {
        let b = bytes(&[0, 9, 15, LIST_SIZE - 1, LIST_SIZE, -1]);
        assert_eq!(b.len() as i64, LIST_SIZE / 8);
        assert_eq!(b[0], 0b0000_0001);
        assert_eq!(b[1], 0b1000_0010);
        assert_eq!(b[b.len() - 1], 0b1000_0000);
        assert_eq!(b.iter().map(|x| x.count_ones()).sum::<u32>(), 4);
        assert_eq!(inflate(&compress(&b)), b);
    }

    /// The size report of docs/design.md "Status lists": one million live
    /// tokens fill four lists (1,048,576 bits, 128 KiB raw); with 1 % of
    /// them revoked at random the four compress to about 15 KiB together
    /// (about 4 KiB each), and a list with none set to about 50 bytes.
    #[test]
    fn a_million_live_tokens_fill_four_small_lists() {
        use rand::RngExt;
        let mut rng = rand::rng();
        let lists = 1_048_576 / LIST_SIZE;
        let mut total = 0;
        for _ in 0..lists {
            let revoked: Vec<i64> = (0..LIST_SIZE)
                .filter(|_| rng.random_ratio(1, 100))
                .collect();
            total += compress(&bytes(&revoked)).len();
        }
        let empty = compress(&bytes(&[])).len();
        eprintln!("1M tokens, 1% revoked: {total} bytes zlib in {lists} lists; an empty list: {empty} bytes");
        assert!((8_000..30_000).contains(&total), "{total}");
        assert!(empty < 200, "{empty}");
    }
}
