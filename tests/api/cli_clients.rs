//! Client and key commands, and secrets at rest, through the real binary.

use serde_json::Value;

use crate::cli::strings;
use crate::support::helpers::{
    authd, authd_fails, authd_json, bare_authd_fails, every_backend, TestDb,
};

#[test]
fn clients_lifecycle() {
    every_backend(|db| {
        let app = authd_json(
            &db,
            &[
                "client",
                "add",
                "my-app",
                "--scope",
                "posts:read posts:write",
                "--audience",
                "https://api.example.com",
            ],
            None,
        );
        let id = app["client_id"].as_str().unwrap().to_string();
        let secret = app["client_secret"].as_str().unwrap().to_string();
        assert!(secret.len() >= 43, "256-bit secret");
        assert_eq!(strings(&app["grants"]), ["password", "refresh_token"]);
        assert_eq!(strings(&app["scopes"]), ["posts:read", "posts:write"]);
        assert_eq!(app["name"], "my-app");

        let public = authd_json(
            &db,
            &[
                "client",
                "add",
                "spa",
                "--public",
                "--grant",
                "authorization_code",
                "--grant",
                "refresh_token",
                "--redirect-uri",
                "http://localhost:3000/cb",
            ],
            None,
        );
        assert!(
            public.get("client_secret").is_none(),
            "public client has no secret"
        );

        let err = authd_fails(
            &db,
            &[
                "client",
                "add",
                "bad",
                "--public",
                "--grant",
                "client_credentials",
            ],
            None,
        );
        assert!(
            err.contains("public client cannot use client_credentials"),
            "{err}"
        );
        let err = authd_fails(&db, &["client", "add", "bad", "--grant", "implicit"], None);
        assert!(err.contains("unknown grant 'implicit'"), "{err}");
        let err = authd_fails(&db, &["client", "add", "bad", "--scope", "a\\b"], None);
        assert!(err.contains("invalid scope"), "{err}");
        let err = authd_fails(
            &db,
            &["client", "add", "bad", "--grant", "authorization_code"],
            None,
        );
        assert!(err.contains("redirect-uri"), "{err}");
        let err = authd_fails(
            &db,
            &[
                "client",
                "add",
                "bad",
                "--grant",
                "authorization_code",
                "--redirect-uri",
                "https://x/cb#frag",
            ],
            None,
        );
        assert!(err.contains("fragment"), "{err}");

        let list = authd(&db, &["client", "list", "--json"], None);
        let text = String::from_utf8(list.stdout).unwrap();
        assert!(!text.contains(&secret), "client list shows the secret");
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            list.as_array().unwrap().len(),
            2,
            "[{}] failed adds left a client",
            db.label()
        );

        let rotated = authd_json(&db, &["client", "rotate-secret", &id], None);
        assert_eq!(rotated["client_id"], id.as_str());
        let new_secret = rotated["client_secret"].as_str().unwrap();
        assert_ne!(new_secret, secret);
        let err = authd_fails(
            &db,
            &[
                "client",
                "rotate-secret",
                public["client_id"].as_str().unwrap(),
            ],
            None,
        );
        assert!(err.contains("public"), "{err}");
        let err = authd_fails(&db, &["client", "rotate-secret", "nope"], None);
        assert!(err.contains("unknown client 'nope'"), "{err}");

        let removed = authd_json(&db, &["client", "remove", &id], None);
        assert_eq!(removed["removed"], true);
        let err = authd_fails(&db, &["client", "remove", &id], None);
        assert!(err.contains("unknown client"), "{err}");
        assert_eq!(
            authd_json(&db, &["client", "list"], None)
                .as_array()
                .unwrap()
                .len(),
            1
        );
    });
}

#[test]
fn clients_that_introspect_an_audience() {
    every_backend(|db| {
        let label = db.label();
        let rs = authd_json(
            &db,
            &[
                "client",
                "add",
                "posts-api",
                "--grant",
                "client_credentials",
                "--introspects",
                "https://api.example.com",
                "--introspects",
                "https://b.example.com",
                "--introspects",
                "https://api.example.com",
            ],
            None,
        );
        assert_eq!(
            strings(&rs["introspects"]),
            ["https://api.example.com", "https://b.example.com"],
            "[{label}]"
        );
        for field in ["client_id", "client_secret", "name", "grants", "scopes"] {
            assert!(rs.get(field).is_some(), "[{label}] {field} missing: {rs}");
        }
        let plain = authd_json(&db, &["client", "add", "plain"], None);
        assert_eq!(plain["introspects"], serde_json::json!([]), "[{label}]");

        let list = authd_json(&db, &["client", "list"], None);
        let listed = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == rs["client_id"])
            .unwrap();
        assert_eq!(listed["introspects"], rs["introspects"], "[{label}]");
        let text = String::from_utf8(authd(&db, &["client", "list"], None).stdout).unwrap();
        assert!(
            text.contains("introspects: https://api.example.com https://b.example.com"),
            "[{label}] {text}"
        );

        for (args, message) in [
            (
                &["--public", "--introspects", "https://api.example.com"][..],
                "public client cannot introspect",
            ),
            (&["--introspects", " "][..], "must not be empty"),
            (&["--introspects", "a b"][..], "without spaces"),
        ] {
            let mut all = vec!["client", "add", "bad"];
            all.extend_from_slice(args);
            let err = authd_fails(&db, &all, None);
            assert!(err.contains(message), "[{label}] {args:?}: {err}");
        }
        let list = authd_json(&db, &["client", "list"], None);
        assert_eq!(
            list.as_array().unwrap().len(),
            2,
            "[{label}] refused adds left a client"
        );
    });
}

#[test]
fn keys_list_and_rotate() {
    every_backend(|db| {
        assert_eq!(
            authd_json(&db, &["keys", "list"], None),
            serde_json::json!([])
        );
        let first = authd_json(&db, &["keys", "rotate"], None);
        assert_eq!(first["alg"], "ES256");
        let second = authd_json(&db, &["keys", "rotate", "--alg", "EdDSA"], None);
        assert_eq!(second["alg"], "EdDSA");
        let third = authd_json(&db, &["--signing-alg", "RS256", "keys", "rotate"], None);
        assert_eq!(third["alg"], "RS256");
        let list = authd_json(&db, &["keys", "list"], None);
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 3);
        let active: Vec<_> = list.iter().filter(|k| k["state"] == "active").collect();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0]["kid"], third["kid"]);
        assert!(list
            .iter()
            .any(|k| k["kid"] == first["kid"] && k["state"] == "retired"));
        let err = authd_fails(&db, &["keys", "rotate", "--alg", "HS256"], None);
        assert!(err.contains("HS256") && err.contains("ES256"), "{err}");
    });
}

#[test]
fn secrets_are_not_stored_in_the_clear() {
    let db = TestDb::sqlite();
    let password = "unmistakable-password-4711";
    authd_json(
        &db,
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    let client = authd_json(&db, &["client", "add", "app"], None);
    let secret = client["client_secret"].as_str().unwrap().to_string();
    let rotated = authd_json(
        &db,
        &[
            "client",
            "rotate-secret",
            client["client_id"].as_str().unwrap(),
        ],
        None,
    );
    let rotated = rotated["client_secret"].as_str().unwrap().to_string();
    // Checkpoint the WAL so every write is in the main file too.
    authd_json(&db, &["migrate"], None);
    let dir = db.sqlite_path().unwrap().parent().unwrap().to_path_buf();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in [password, secret.as_str(), rotated.as_str()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "a secret is stored in the clear"
            );
        }
    }
}

#[test]
fn unusable_database_urls_are_clear_errors() {
    let args = |url: &'static str| ["--database-url", url, "user", "list"];
    let err = bare_authd_fails(&args("mysql://root:pw@localhost/x"), &[]);
    assert!(
        err.contains("unsupported database URL scheme 'mysql://'"),
        "{err}"
    );

    let err = bare_authd_fails(&args("postgres://bob:hunter2@127.0.0.1:1/x"), &[]);
    assert!(
        err.contains("cannot open database postgres://bob:***@127.0.0.1:1/x"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "password leaked: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn private_keys_are_sealed_and_need_their_key() {
    every_backend(|db| {
        authd_json(&db, &["keys", "rotate"], None);
        let mut conn = crate::support::fixtures::conn(&db);
        let rows = authd::db::signing_keys::list(&mut conn).unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0].private_key_sealed.starts_with("enc:v1:"),
            "[{}]",
            db.label()
        );
        assert!(!rows[0].private_key_sealed.contains("PRIVATE KEY"));
        if let Some(path) = db.sqlite_path() {
            // Nowhere in the database file either.
            authd_json(&db, &["migrate"], None);
            let bytes = std::fs::read(path).unwrap();
            assert!(!bytes.windows(11).any(|w| w == b"PRIVATE KEY"));
        }

        // Without its key file, or with another key: a clear error, and no
        // new key sealed with the wrong one.
        let elsewhere = db.dir().join("missing.key");
        let url = std::ffi::OsStr::new(db.url());
        let err = bare_authd_fails(
            &["keys", "rotate"],
            &[
                ("DATABASE_URL", url),
                ("AUTHD_KEY_FILE", elsewhere.as_os_str()),
            ],
        );
        assert!(
            err.contains("does not exist") && err.contains("AUTHD_KEY_FILE"),
            "{err}"
        );
        assert!(!elsewhere.exists(), "a second key file was created");
        let wrong = std::ffi::OsStr::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let err = bare_authd_fails(
            &["keys", "rotate"],
            &[("DATABASE_URL", url), ("AUTHD_KEY_ENCRYPTION_KEY", wrong)],
        );
        assert!(err.contains("cannot decrypt signing key"), "{err}");
        assert!(!err.contains("AAAAAAAA"), "the key was echoed: {err}");
        assert_eq!(authd::db::signing_keys::list(&mut conn).unwrap().len(), 1);
    });
}

#[test]
fn a_key_encryption_key_can_replace_the_file() {
    let db = TestDb::sqlite();
    let kek = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    let run = |args: &[&str]| {
        crate::support::helpers::authd_command()
            .args(args)
            .env("DATABASE_URL", db.url())
            .env("AUTHD_KEY_ENCRYPTION_KEY", kek)
            .output()
            .unwrap()
    };
    assert!(run(&["keys", "rotate"]).status.success());
    assert!(
        run(&["keys", "rotate"]).status.success(),
        "the same key opens what it sealed"
    );
    assert!(!db.key_file().exists(), "no key file when the key is given");
    let out = run(&["--key-encryption-key", "not base64!", "keys", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTHD_KEY_ENCRYPTION_KEY"));
}
