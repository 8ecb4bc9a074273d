//! An authenticator app for the tests: it reads the secret off the
//! enrolment page (the `otpauth://` URI, as a phone scans it) and computes
//! codes itself (RFC 6238 with HMAC-SHA-1, written here again rather than
//! taken from the server), at the time of the server's clock.

use aws_lc_rs::hmac;

use crate::support::browser::{csrf_token, Browser};
use crate::support::fixtures::Reply;
use crate::support::helpers::TestApp;

/// The TOTP code of `secret` (base32) at `now`, six digits, 30 s steps.
pub fn code_at(secret: &str, now: i64) -> String {
    let key = base32(secret);
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key);
    let mac = hmac::sign(&key, &((now / 30) as u64).to_be_bytes());
    let mac = mac.as_ref();
    let at = (mac[19] & 0xf) as usize;
    let n = u32::from_be_bytes([mac[at] & 0x7f, mac[at + 1], mac[at + 2], mac[at + 3]]);
    format!("{:06}", n % 1_000_000)
}

/// The code of `secret` now, by the server's clock.
pub fn code(app: &TestApp, secret: &str) -> String {
    code_at(secret, app.clock.now())
}

fn base32(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base32") as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

pub fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_string())
}

/// What an enrolment page offers.
pub struct Offer {
    /// The `otpauth://` URI, as shown.
    pub uri: String,
    /// The secret in it (base32).
    pub secret: String,
    /// The form's hidden, sealed copy of it.
    pub sealed: String,
    /// The form's CSRF token.
    pub csrf: String,
}

/// Reads the enrolment form off a page.
pub fn offer(page: &Reply) -> Offer {
    let uri = between(&page.raw, r#"<code class="otpauth-uri">"#, "</code>")
        .unwrap_or_else(|| panic!("an otpauth URI: {}", page.raw))
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let secret = between(&uri, "secret=", "&").expect("a secret in the URI");
    Offer {
        secret,
        sealed: between(&page.raw, r#"name="secret" value=""#, "\"").expect("a sealed secret"),
        csrf: csrf_token(&page.raw).expect("a csrf_token"),
        uri,
    }
}

/// The recovery codes a page shows.
pub fn recovery_codes(page: &Reply) -> Vec<String> {
    page.raw
        .split(r#"<code class="recovery-code">"#)
        .skip(1)
        .filter_map(|rest| rest.split("</code>").next())
        .map(str::to_string)
        .collect()
}

/// Turns TOTP on for the signed-in `browser` on `/account/security`;
/// the secret and the recovery codes. The clock then moves on a step, so
/// that the next code is a new one.
pub async fn enrol(app: &TestApp, browser: &Browser) -> (String, Vec<String>) {
    let page = browser.get("/account/security").await;
    assert_eq!(page.status, 200, "{}", page.raw);
    let offer = offer(&page);
    let done = browser
        .post(
            "/account/security/totp",
            &[
                ("csrf_token", &offer.csrf),
                ("secret", &offer.sealed),
                ("code", &code(app, &offer.secret)),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.raw);
    let codes = recovery_codes(&done);
    assert_eq!(codes.len(), 10, "{}", done.raw);
    app.clock.advance(30);
    (offer.secret, codes)
}

/// Posts `code` to the second step `path` (`/login/code?...`) that a
/// login sent `browser` to.
pub async fn second_step(browser: &Browser, path: &str, code: &str) -> Reply {
    let page = browser.get(path).await;
    let token = csrf_token(&page.raw).unwrap_or_else(|| panic!("a second step: {}", page.raw));
    browser
        .post(path, &[("csrf_token", &token), ("code", code)])
        .await
}
