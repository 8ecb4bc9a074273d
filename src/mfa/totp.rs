//! TOTP (RFC 6238): HOTP (RFC 4226) over the count of 30-second steps
//! since the Unix epoch, with HMAC-SHA-1 and six digits, the parameters
//! every authenticator app reads from an `otpauth://` URI. SHA-1 is what
//! those apps support; HMAC-SHA-1 has no known weakness that matters here
//! (RFC 4226 Appendix A.2).

use aws_lc_rs::hmac;
use rand::RngExt;

use crate::secret::constant_time_eq;

/// Digits of a code.
pub const DIGITS: u32 = 6;

/// Seconds per time step (RFC 6238 §4.1's X, its recommended default).
pub const PERIOD: i64 = 30;

/// Steps accepted before and after the current one: ±30 s of clock drift
/// (RFC 6238 §5.2 recommends at most one step of network delay).
pub const WINDOW: i64 = 1;

/// Bytes of a new secret: 160 bits, RFC 4226 §4 R6's recommendation.
pub const SECRET_BYTES: usize = 20;

/// A TOTP secret; `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// The time step that `now` (Unix seconds) falls in.
pub fn step_of(now: i64) -> i64 {
    now.div_euclid(PERIOD)
}

/// HOTP (RFC 4226 §5.3): the truncated HMAC-SHA-1 of the counter, as
/// `digits` decimal digits.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

impl TotpSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> TotpSecret {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rng().fill(&mut bytes[..]);
        TotpSecret(bytes)
    }

    /// The secret an authenticator app is given (RFC 4648 base32,
    /// unpadded, as the `otpauth://` format wants).
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The secret back from [`TotpSecret::to_base32`]; `None` if it is
    /// not base32 or too short to be one of ours.
    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        base32_decode(text)
            .filter(|b| b.len() >= 16)
            .map(TotpSecret)
    }

    /// The code of time step `step`.
    pub fn code_at(&self, step: i64) -> String {
        let counter = u64::try_from(step).unwrap_or(0);
        format!(
            "{:0width$}",
            hotp(&self.0, counter, DIGITS),
            width = DIGITS as usize
        )
    }

    /// The step within [`WINDOW`] of `now` whose code is `code`, if it is
    /// later than `after` (the last step accepted: no code is accepted
    /// twice, nor one older than an accepted one, RFC 6238 §5.2). Every
    /// step of the window is computed and compared in constant time.
    pub fn matching_step(&self, code: &str, now: i64, after: i64) -> Option<i64> {
        let current = step_of(now);
        let mut found = None;
        for step in current - WINDOW..=current + WINDOW {
            let matches = constant_time_eq(self.code_at(step).as_bytes(), code.as_bytes());
            if matches && step > after && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

/// Whether `code` has the shape of a TOTP code (six ASCII digits).
pub fn is_code_shaped(code: &str) -> bool {
    code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit())
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 §6 base32 without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// RFC 4648 §6 base32, case-insensitive, padding ignored.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The `otpauth://totp/ISSUER:ACCOUNT?…` URI an authenticator app scans
/// (the Key Uri Format of Google Authenticator, which the others follow):
/// the issuer as prefix and parameter, SHA-1, six digits, 30 s.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        percent_encode(issuer),
        percent_encode(account),
        secret.to_base32(),
        percent_encode(issuer),
    )
}

/// Percent-encodes all but RFC 3986's unreserved characters (so a `:` in
/// a name cannot split the label, nor a space become `+`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows: the seed is the ASCII of
    /// "12345678901234567890", codes have eight digits, X = 30.
    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let key = b"12345678901234567890";
        for (time, code) in [
            (59u64, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(key, time / 30, 8), code, "T = {time}");
        }
        // Six digits are the last six of the eight.
        let secret = TotpSecret(key.to_vec());
        assert_eq!(secret.code_at(step_of(59)), "287082");
        assert_eq!(secret.code_at(step_of(1_111_111_109)), "081804");
    }

    /// RFC 4226 Appendix D: HOTP values of counts 0 to 9.
    #[test]
    fn rfc4226_appendix_d_vectors() {
        let key = b"12345678901234567890";
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (count, code) in expected.into_iter().enumerate() {
            assert_eq!(hotp(key, count as u64, 6), code, "count {count}");
        }
    }

    #[test]
    fn a_code_matches_within_one_step_and_never_at_or_before_the_last_accepted() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let step = step_of(now);
        let code = secret.code_at(step);
        assert_eq!(secret.matching_step(&code, now, 0), Some(step));
        assert_eq!(secret.matching_step(&code, now + PERIOD, 0), Some(step));
        assert_eq!(secret.matching_step(&code, now - PERIOD, 0), Some(step));
        assert_eq!(secret.matching_step(&code, now + 2 * PERIOD, 0), None);
        assert_eq!(secret.matching_step(&code, now, step), None, "replay");
        assert_eq!(secret.matching_step(&code, now, step - 1), Some(step));
        let earlier = secret.code_at(step - 1);
        assert_eq!(secret.matching_step(&earlier, now, step), None);
        assert_eq!(secret.matching_step("", now, 0), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc4648() {
        // RFC 4648 §10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert!(base32_decode("MZXW1").is_none(), "1 is not base32");
        let s = TotpSecret::generate();
        assert_eq!(s.to_base32().len(), 32);
        assert_eq!(TotpSecret::from_base32(&s.to_base32()), Some(s));
        assert!(TotpSecret::from_base32("MZXW6").is_none(), "too short");
    }

    #[test]
    fn the_uri_names_issuer_and_account_and_the_parameters() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        assert_eq!(
            otpauth_uri("auth.example.com", "alice smith:x", &secret),
            "otpauth://totp/auth.example.com:alice%20smith%3Ax?\
             secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=auth.example.com\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert!(format!("{secret:?}").contains("redacted"));
        assert!(is_code_shaped("012345"));
        assert!(!is_code_shaped("12345") && !is_code_shaped("12345a"));
    }
}
