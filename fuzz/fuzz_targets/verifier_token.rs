//! The resource server's token check on any string, with a static key set:
//! no panic, and nothing the fuzzer writes can pass (it holds no key).
//! The claims type is also fed any JSON text directly, since the verifier
//! deserializes it only after a signature check that random input fails.

#![no_main]

#[path = "common/mod.rs"]
mod common;

use authd_resource::Claims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Claims>(data);
    if let Ok(token) = std::str::from_utf8(data) {
        let verified = common::KEYS.verifier.verify_cached(token);
        assert!(verified.is_err(), "an unsigned token verified: {token:?}");
    }
});
