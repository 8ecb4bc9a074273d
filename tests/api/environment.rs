//! A developer's exported settings cannot change what the tests see: the
//! in-process server ignores AUTHD_* and DATABASE_URL, and the binary never
//! receives them.
//!
//! The check reruns this test binary with such variables set, so that no
//! test thread ever changes the process environment of the others.

use std::process::Command;

use crate::support::fixtures::{password_grant, standard, verify_with_jwks};
use crate::support::helpers::{authd_json, command, TestApp, TestDb};

/// Each would break or change a test if it reached authd.
const HOSTILE: &[(&str, &str)] = &[
    ("AUTHD_ACCESS_TOKEN_TTL", "5"),
    ("AUTHD_BIND", "garbage"),
    ("AUTHD_ISSUER", "https://leaked.example"),
    ("AUTHD_SIGNING_ALG", "RS256"),
    ("AUTHD_KEY_ENCRYPTION_KEY", "not base64!"),
    ("AUTHD_DB_POOL_SIZE", "0"),
    ("DATABASE_URL", "mysql://leaked/x"),
    // The harness's own variable is for the helpers, not the binary.
    ("AUTHD_TEST_POSTGRES_URL", "postgres://leaked@127.0.0.1:1/x"),
];

/// The name libtest gives a test of this module.
fn test_name(f: &str) -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::{f}")
}

#[test]
fn exported_settings_do_not_reach_the_server_or_the_binary() {
    let inner = [
        test_name("in_process_server_uses_defaults"),
        test_name("binary_runs_with_defaults"),
    ];
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "--test-threads", "1"])
        .args(&inner)
        .envs(HOSTILE.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 2 passed"),
        "with {HOSTILE:?} exported:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[actix_web::test]
#[ignore = "run by exported_settings_do_not_reach_the_server_or_the_binary"]
async fn in_process_server_uses_defaults() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    assert!(
        app.issuer.starts_with("http://127.0.0.1:"),
        "{}",
        app.issuer
    );
    let c = standard(&db);
    let r = password_grant(&app, &c, &[]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["expires_in"], 900);
    let token = r.body["access_token"].as_str().unwrap();
    let (header, claims) = verify_with_jwks(&app, token, &app.issuer).await;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    app.stop().await;
}

#[test]
#[ignore = "run by exported_settings_do_not_reach_the_server_or_the_binary"]
fn binary_runs_with_defaults() {
    let db = TestDb::sqlite();
    let key = authd_json(&db, &["keys", "rotate"], None);
    assert_eq!(key["alg"], "ES256");
    assert!(db.sqlite_path().unwrap().exists(), "used the test database");

    // What every binary the helpers start inherits.
    let out = command("env").output().expect("env(1) runs");
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "PATH is kept");
    let leaked: Vec<&str> = env
        .lines()
        .filter(|l| l.starts_with("AUTHD_") || l.starts_with("DATABASE_URL="))
        .collect();
    assert!(leaked.is_empty(), "passed to the binary: {leaked:?}");
}
