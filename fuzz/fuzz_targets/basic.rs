//! HTTP Basic client credentials: `parse_basic` on any header value, and
//! on any decoded credentials behind a valid base64 layer (which random
//! bytes would rarely reach).

#![no_main]

use authd::oauth::client_auth::parse_basic;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;

fn check(value: &str) {
    if let Ok((id, _secret)) = parse_basic(value) {
        // An id that the database could not store is refused up front.
        assert!(!id.is_empty(), "empty client id accepted from {value:?}");
        assert!(
            !id.contains('\0'),
            "NUL in client id accepted from {value:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = std::str::from_utf8(data) {
        check(value);
    }
    check(&format!("Basic {}", STANDARD.encode(data)));
});
