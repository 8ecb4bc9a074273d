//! What the container image relies on (the Dockerfile;
//! docs/OPERATIONS.md "Container image"): the binary links no system
//! library beyond the C runtime, OpenSSL included (libpq's TLS is built
//! in).

use std::process::Command;

#[test]
fn the_binary_needs_no_system_openssl() {
    let binary = env!("CARGO_BIN_EXE_authd");
    let out = match Command::new("ldd").arg(binary).output() {
        Ok(out) => out,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("the_binary_needs_no_system_openssl skipped: no ldd ({e})");
            return;
        }
        Err(e) => panic!("ldd: {e}"),
    };
    let linked = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{linked}");
    for library in ["libssl", "libcrypto", "libpq"] {
        assert!(!linked.contains(library), "links {library}: {linked}");
    }
}
