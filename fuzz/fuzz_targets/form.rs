//! The token endpoint's body reader: `Form::parse` on any bytes, then the
//! grant request built from it, as the handler does. Neither may panic.

#![no_main]

use authd::http::form::Form;
use authd::oauth::token::GrantRequest;
use libfuzzer_sys::fuzz_target;

/// Every parameter some endpoint reads.
const NAMES: &[&str] = &[
    "grant_type",
    "username",
    "password",
    "scope",
    "refresh_token",
    "client_id",
    "client_secret",
    "code",
    "redirect_uri",
    "code_verifier",
    "token",
    "token_type_hint",
];

fuzz_target!(|data: &[u8]| {
    let Ok(form) = Form::parse(data) else {
        return;
    };
    for name in NAMES {
        // An empty value counts as absent: `get` never hands one out.
        if let Some(value) = form.get(name) {
            assert!(!value.is_empty(), "{name} is empty but present");
            assert!(!value.contains('\0'), "{name} holds a NUL");
        }
        let _ = form.require(name);
    }
    let _ = GrantRequest::from_form(&form);
});
