//! The scope parser on any list of strings: no panic, and what it accepts
//! is a set of valid tokens that survives a join and a second parse.

#![no_main]

use authd::scope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|inputs: Vec<&str>| {
    let Ok(set) = scope::parse(inputs.iter().copied()) else {
        return;
    };
    for token in &set {
        assert!(
            scope::is_valid_token(token),
            "invalid token {token:?} accepted"
        );
    }
    let joined = scope::join(&set);
    assert_eq!(scope::parse([joined.as_str()]).as_ref(), Ok(&set));
});
