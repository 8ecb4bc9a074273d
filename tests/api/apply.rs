//! docs/interface.md "Declarative configuration": `authd apply` and
//! `authd export` through the real binary, on every backend: what they create, change and delete, that a
//! second run and a dry run change nothing, that a refusal anywhere
//! changes nothing, and where secrets come from (never the file).

use std::process::Output;

use serde_json::{json, Value};

use crate::support::fixtures::{post, ClientSpec, TestClient};
use crate::support::helpers::{
    authd, authd_json, authd_with_env, every_backend, on_every_backend, TestApp, TestDb,
};

/// The example the README shows.
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/authd.toml");

/// What the example's `BILLING_CLIENT_SECRET` holds in these tests.
const BILLING_SECRET: &str = "billing-0123456789-abcdefghijklmnopqrstuv";

/// The example's environment.
const BILLING_ENV: &[(&str, &str)] = &[("BILLING_CLIENT_SECRET", BILLING_SECRET)];

/// Writes `text` into the test's folder; its path.
fn file(db: &TestDb, name: &str, text: &str) -> String {
    let path = db.dir().join(name);
    std::fs::write(&path, text).expect("write the file");
    path.display().to_string()
}

/// `authd apply -f FILE ARGS…` with `envs`.
fn apply(db: &TestDb, path: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut all = vec!["apply", "-f", path];
    all.extend_from_slice(args);
    authd_with_env(db, &all, None, "warn", envs)
}

/// The changes `apply --json` made, as `(action, kind, name)`.
fn applied(
    db: &TestDb,
    path: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Vec<(String, String, String)> {
    let mut all = args.to_vec();
    all.push("--json");
    let out = apply(db, path, &all, envs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "[{}] apply {args:?}: {stderr}",
        db.label()
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    doc["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            let field = |k: &str| c[k].as_str().expect(k).to_string();
            assert_eq!(c.as_object().unwrap().len(), 3, "{c}");
            (field("action"), field("kind"), field("name"))
        })
        .collect()
}

/// The refusal of `apply`: its one line on stderr.
fn refused(db: &TestDb, path: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = apply(db, path, args, envs);
    assert!(!out.status.success(), "[{}] apply should fail", db.label());
    assert!(out.stdout.is_empty(), "no plan printed for a refused file");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

fn change(action: &str, kind: &str, name: &str) -> (String, String, String) {
    (action.into(), kind.into(), name.into())
}

/// Everything `apply` may change, as the list commands show it.
fn state(db: &TestDb) -> Value {
    json!({
        "roles": authd_json(db, &["role", "list"], None),
        "clients": authd_json(db, &["client", "list"], None),
        "users": authd_json(db, &["user", "list"], None),
    })
}

/// The CLI's own message for `args`, without `error: `.
fn cli_message(db: &TestDb, args: &[&str]) -> String {
    let out = authd(db, args, None);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    err.trim().trim_start_matches("error: ").to_string()
}

fn example_changes() -> Vec<(String, String, String)> {
    vec![
        change("create", "role", "reader"),
        change("create", "role", "writer"),
        change("create", "client", "billing"),
        change("create", "client", "web"),
        change("create", "user", "alice"),
        change("create", "user", "bob"),
    ]
}

#[test]
fn the_example_creates_everything_once() {
    every_backend(|db| {
        assert_eq!(applied(&db, EXAMPLE, &[], BILLING_ENV), example_changes());
        let s = state(&db);
        assert_eq!(s["roles"][1]["name"], "writer");
        assert_eq!(
            s["roles"][1]["scopes"],
            json!(["posts:read", "posts:write"])
        );
        let billing = &s["clients"][0];
        assert_eq!(billing["client_id"], "billing");
        assert_eq!(billing["grants"], json!(["client_credentials"]));
        assert_eq!(billing["audience"], "posts-api");
        assert_eq!(billing["public"], false);
        let web = &s["clients"][1];
        assert_eq!(web["public"], true);
        assert_eq!(
            web["redirect_uris"],
            json!(["https://app.example.com/callback"])
        );
        let alice = &s["users"][0];
        assert_eq!(alice["username"], "alice");
        assert_eq!(alice["roles"], json!(["writer"]));
        assert_eq!(alice["email"], "alice@example.com");
        assert_eq!(alice["email_verified"], false);
        assert_eq!(alice["name"], "Alice Liddell");

        // A second run: nothing to do, in JSON and in text.
        assert_eq!(applied(&db, EXAMPLE, &[], BILLING_ENV), vec![]);
        let out = apply(&db, EXAMPLE, &[], BILLING_ENV);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no changes");
        assert_eq!(state(&db), s, "[{}]", db.label());
    });
}

#[test]
fn a_dry_run_reports_and_changes_nothing() {
    every_backend(|db| {
        let empty = state(&db);
        let planned = applied(&db, EXAMPLE, &["--dry-run"], BILLING_ENV);
        assert_eq!(planned, example_changes());
        assert_eq!(
            state(&db),
            empty,
            "[{}] a dry run changed something",
            db.label()
        );
        let out = apply(&db, EXAMPLE, &["--dry-run"], BILLING_ENV);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("create role 'reader'"), "{text}");
        assert!(text.contains("dry run"), "{text}");
        // The real run does what the dry run said.
        assert_eq!(applied(&db, EXAMPLE, &[], BILLING_ENV), planned);
        // A dry run of a refused change is refused the same way.
        authd_json(&db, &["role", "add", "extra", "--scope", "x"], None);
        let carol = [
            "user",
            "add",
            "carol",
            "--role",
            "extra",
            "--password-stdin",
        ];
        authd_json(&db, &carol, Some("correct horse battery\n"));
        let err = refused(&db, EXAMPLE, &["--dry-run", "--prune"], BILLING_ENV);
        assert!(
            err.contains("role 'extra'") && err.contains("user(s) hold it"),
            "{err}"
        );
    });
}

#[test]
fn a_changed_field_is_an_update_of_that_entry() {
    every_backend(|db| {
        applied(&db, EXAMPLE, &[], BILLING_ENV);
        let text = std::fs::read_to_string(EXAMPLE).unwrap();
        let changed = text
            .replace(
                "scopes = [\"posts:read\"]\naudience",
                "scopes = [\"posts:read posts:write\"]\naudience",
            )
            .replace("\"alice@example.com\"", "\"alice@example.org\"")
            .replace("roles = [\"reader\"]", "roles = [\"reader\", \"writer\"]")
            .replace(
                "name = \"reader\"\nscopes = [\"posts:read\"]",
                "name = \"reader\"\nscopes = [\"posts:read\", \"openid\"]",
            );
        assert_ne!(changed, text);
        let path = file(&db, "changed.toml", &changed);
        assert_eq!(
            applied(&db, &path, &[], BILLING_ENV),
            vec![
                change("update", "role", "reader"),
                change("update", "client", "billing"),
                change("update", "user", "alice"),
                change("update", "user", "bob"),
            ]
        );
        let s = state(&db);
        assert_eq!(s["roles"][0]["scopes"], json!(["openid", "posts:read"]));
        assert_eq!(
            s["clients"][0]["scopes"],
            json!(["posts:read", "posts:write"])
        );
        assert_eq!(s["users"][0]["email"], "alice@example.org");
        assert_eq!(s["users"][1]["roles"], json!(["reader", "writer"]));
        assert_eq!(applied(&db, &path, &[], BILLING_ENV), vec![]);
        // Dropping the audience gives the client the issuer's again.
        let path = file(
            &db,
            "no-aud.toml",
            &changed.replace("audience = \"posts-api\"\n", ""),
        );
        assert_eq!(
            applied(&db, &path, &[], BILLING_ENV),
            vec![change("update", "client", "billing")]
        );
        assert!(state(&db)["clients"][0].get("audience").is_none());
    });
}

#[test]
fn prune_deletes_what_the_file_leaves_out() {
    every_backend(|db| {
        applied(&db, EXAMPLE, &[], BILLING_ENV);
        authd_json(&db, &["role", "add", "extra", "--scope", "x"], None);
        authd_json(
            &db,
            &["client", "add", "Extra", "--client-id", "extra"],
            None,
        );
        authd_json(
            &db,
            &["user", "add", "carol", "--password-stdin"],
            Some("correct horse battery\n"),
        );
        // A user's own client (the console) is not the file's to delete.
        let carol = authd_json(&db, &["user", "show", "carol"], None);
        let owned = ClientSpec::new(&db)
            .owner(carol["id"].as_str().unwrap())
            .create();
        // Without --prune nothing goes.
        assert_eq!(applied(&db, EXAMPLE, &[], BILLING_ENV), vec![]);
        assert_eq!(
            applied(&db, EXAMPLE, &["--prune"], BILLING_ENV),
            vec![
                change("delete", "client", "extra"),
                change("delete", "role", "extra")
            ]
        );
        let s = state(&db);
        let ids: Vec<&str> = s["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["client_id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&owned.id.as_str()), "{ids:?}");
        assert_eq!(s["users"].as_array().unwrap().len(), 3, "users stay");
        assert_eq!(
            applied(&db, EXAMPLE, &["--prune", "--prune-users"], BILLING_ENV),
            vec![change("delete", "user", "carol")]
        );
        assert_eq!(state(&db)["users"].as_array().unwrap().len(), 2);
        // --prune-users alone is refused by the parser.
        assert!(!apply(&db, EXAMPLE, &["--prune-users"], BILLING_ENV)
            .status
            .success());
    });
}

#[test]
fn prune_refuses_a_role_that_a_kept_user_holds() {
    every_backend(|db| {
        applied(&db, EXAMPLE, &[], BILLING_ENV);
        let text = std::fs::read_to_string(EXAMPLE).unwrap();
        let reader = "[[role]]\nname = \"reader\"\nscopes = [\"posts:read\"]\n";
        assert!(text.contains(reader));
        let path = file(&db, "no-reader.toml", &text.replace(reader, ""));
        let before = state(&db);
        let err = refused(&db, &path, &["--prune"], BILLING_ENV);
        assert!(
            err.contains("role 'reader'") && err.contains("1 user(s) hold it"),
            "{err}"
        );
        assert_eq!(state(&db), before, "[{}]", db.label());
        // Once the file takes it from bob too, it goes.
        let path = file(
            &db,
            "no-reader-at-all.toml",
            &text
                .replace(reader, "")
                .replace("roles = [\"reader\"]", "roles = []"),
        );
        assert_eq!(
            applied(&db, &path, &["--prune"], BILLING_ENV),
            vec![
                change("update", "user", "bob"),
                change("delete", "role", "reader")
            ]
        );
    });
}

#[test]
fn a_refusal_half_way_changes_nothing() {
    every_backend(|db| {
        let before = state(&db);
        // Roles and clients come first: they are made, then the user's
        // unknown role is refused, and the whole run rolls back.
        let text = std::fs::read_to_string(EXAMPLE)
            .unwrap()
            .replace("roles = [\"reader\"]", "roles = [\"nobody\"]");
        let path = file(&db, "half.toml", &text);
        let err = refused(&db, &path, &[], BILLING_ENV);
        assert!(err.contains("user 'bob'"), "{err}");
        assert!(err.contains("unknown role 'nobody'"), "{err}");
        assert_eq!(state(&db), before, "[{}] half a run stayed", db.label());
        // On a database with content too: an update that a later entry
        // undoes by failing.
        applied(&db, EXAMPLE, &[], BILLING_ENV);
        let before = state(&db);
        let text = std::fs::read_to_string(EXAMPLE)
            .unwrap()
            .replace("\"Billing service\"", "\"Billing\"")
            .replace(
                "grants = [\"authorization_code\", \"refresh_token\"]",
                "grants = [\"client_credentials\"]",
            )
            .replace("\"alice@example.com\"", "\"alice@example.org\"");
        let path = file(&db, "half2.toml", &text);
        let err = refused(&db, &path, &[], BILLING_ENV);
        assert!(
            err.contains("a public client cannot use client_credentials"),
            "{err}"
        );
        assert_eq!(state(&db), before, "[{}]", db.label());
    });
}

#[test]
fn an_invalid_file_says_what_the_cli_says() {
    every_backend(|db| {
        let before = state(&db);
        let unknown_key = file(&db, "key.toml", "[[role]]\nname = \"r\"\nscope = [\"x\"]\n");
        let err = refused(&db, &unknown_key, &[], &[]);
        assert!(err.contains("line 3: unknown field `scope`"), "{err}");

        let bad_scope = file(
            &db,
            "scope.toml",
            "[[role]]\nname = \"r\"\nscopes = [\"a\\\"b\"]\n",
        );
        let err = refused(&db, &bad_scope, &[], &[]);
        let cli = cli_message(&db, &["role", "add", "r", "--scope", "a\"b"]);
        assert!(err.contains(&format!("role 'r': {cli}")), "{err} / {cli}");

        let bad_grant = file(
            &db,
            "grant.toml",
            "[[role]]\nname = \"r\"\nscopes = [\"x\"]\n\
             [[client]]\nclient_id = \"c\"\nname = \"C\"\npublic = true\ngrants = [\"implicit\"]\n",
        );
        let err = refused(&db, &bad_grant, &[], &[]);
        let cli = cli_message(
            &db,
            &["client", "add", "C", "--public", "--grant", "implicit"],
        );
        assert!(err.contains(&format!("client 'c': {cli}")), "{err} / {cli}");

        let literal = file(
            &db,
            "literal.toml",
            "[[client]]\nclient_id = \"c\"\nname = \"C\"\nclient_secret = \"hunter2hunter2\"\n",
        );
        let err = refused(&db, &literal, &[], &[]);
        assert!(
            err.contains("a secret is never written in the file"),
            "{err}"
        );
        assert!(
            !err.contains("hunter2"),
            "the secret is not repeated: {err}"
        );
        let password = file(
            &db,
            "pw.toml",
            "[[user]]\nusername = \"a\"\npassword = \"pw\"\n",
        );
        assert!(refused(&db, &password, &[], &[]).contains("no passwords"));
        assert_eq!(state(&db), before, "[{}]", db.label());
    });
}

/// A token by client_credentials for `c`: its status.
async fn credentials_status(app: &TestApp, c: &TestClient) -> u16 {
    post(
        app,
        "/oauth/token",
        Some(c),
        &[("grant_type", "client_credentials")],
    )
    .await
    .status
}

#[actix_web::test]
async fn secrets_come_from_the_environment_or_a_file() {
    on_every_backend(|db| async move {
        let secret_file = db.dir().join("svc.secret");
        let file_secret = "from-a-file-0123456789-abcdefghijklmnop";
        std::fs::write(&secret_file, format!("{file_secret}\n")).unwrap();
        let text = format!(
            "[[client]]\nclient_id = \"env\"\nname = \"Env\"\ngrants = [\"client_credentials\"]\n\
             secret_env = \"ENV_SECRET\"\n\
             [[client]]\nclient_id = \"file\"\nname = \"File\"\ngrants = [\"client_credentials\"]\n\
             secret_file = \"{}\"\n",
            secret_file.display()
        );
        let path = file(&db, "secrets.toml", &text);
        // A variable that is not set: a new client cannot be made.
        let err = refused(&db, &path, &[], &[]);
        assert!(
            err.contains("client 'env'") && err.contains("ENV_SECRET is not set"),
            "{err}"
        );
        let short = [("ENV_SECRET", "short")];
        assert!(refused(&db, &path, &[], &short).contains("32 to 512 characters"));
        let first = "from-the-environment-0123456789-abcdefgh";
        let env = [("ENV_SECRET", first)];
        assert_eq!(applied(&db, &path, &[], &env).len(), 2);

        let app = TestApp::spawn(&db).await;
        let client = |id: &str, secret: &str| TestClient {
            id: id.into(),
            secret: Some(secret.into()),
        };
        assert_eq!(credentials_status(&app, &client("env", first)).await, 200);
        assert_eq!(
            credentials_status(&app, &client("file", file_secret)).await,
            200
        );

        // The same secrets again: no change (checked against the hash).
        assert_eq!(applied(&db, &path, &[], &env), vec![]);
        // Unset later: the client keeps its secret, with a warning.
        let out = apply(&db, &path, &[], &[]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("ENV_SECRET is not set"));
        assert_eq!(credentials_status(&app, &client("env", first)).await, 200);
        // A new secret replaces the old one.
        let second = "a-second-secret-0123456789-abcdefghijklm";
        assert_eq!(
            applied(&db, &path, &[], &[("ENV_SECRET", second)]),
            vec![change("update", "client", "env")]
        );
        assert_eq!(credentials_status(&app, &client("env", second)).await, 200);
        assert_eq!(credentials_status(&app, &client("env", first)).await, 401);
        // A missing file is an error, whatever the client's age.
        std::fs::remove_file(&secret_file).unwrap();
        let err = refused(&db, &path, &[], &[("ENV_SECRET", second)]);
        assert!(
            err.contains("client 'file'") && err.contains("secret_file"),
            "{err}"
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_user_made_by_apply_has_no_password_until_one_is_set() {
    on_every_backend(|db| async move {
        applied(&db, EXAMPLE, &[], BILLING_ENV);
        let pw = file(
            &db,
            "pw.toml",
            "[[client]]\nclient_id = \"pw\"\nname = \"Password app\"\n\
             grants = [\"password\"]\nscopes = [\"posts:read\"]\nsecret_env = \"PW_SECRET\"\n",
        );
        let secret = "password-app-0123456789-abcdefghijklmn";
        applied(&db, &pw, &[], &[("PW_SECRET", secret)]);
        let app = TestApp::spawn(&db).await;
        let c = TestClient {
            id: "pw".into(),
            secret: Some(secret.into()),
        };
        let login = |password: &'static str| {
            let (app, c) = (&app, &c);
            async move {
                let form = [
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", password),
                ];
                post(app, "/oauth/token", Some(c), &form).await
            }
        };
        for password in ["!", "correct horse battery"] {
            login(password).await.assert_error(400, "invalid_grant");
        }
        let set = authd(
            &db,
            &["user", "set-password", "alice", "--password-stdin"],
            Some("correct horse battery\n"),
        );
        assert!(set.status.success());
        let ok = login("correct horse battery").await;
        assert_eq!(ok.status, 200, "{}", ok.raw);
        app.stop().await;
    })
    .await;
}

#[test]
fn export_then_apply_changes_nothing_and_holds_no_secret() {
    every_backend(|db| {
        applied(&db, EXAMPLE, &[], BILLING_ENV);
        authd_json(
            &db,
            &["role", "set", "writer", "--require-mfa", "true"],
            None,
        );
        authd_json(
            &db,
            &[
                "user",
                "set",
                "bob",
                "--email",
                "bob@example.com",
                "--email-verified",
                "true",
            ],
            None,
        );
        let console = ClientSpec::new(&db)
            .owner(
                authd_json(&db, &["user", "show", "bob"], None)["id"]
                    .as_str()
                    .unwrap(),
            )
            .create();
        let out = authd(&db, &["export"], None);
        assert!(out.status.success());
        let exported = String::from_utf8(out.stdout).unwrap();
        assert!(!exported.contains(BILLING_SECRET), "{exported}");
        assert!(!exported.contains("client_secret"), "{exported}");
        assert!(
            exported.contains("secret_env = \"AUTHD_SECRET_BILLING\""),
            "{exported}"
        );
        assert!(
            !exported.contains(&console.id),
            "a user's client is theirs: {exported}"
        );
        assert!(exported.contains("require_mfa = true"), "{exported}");
        let path = file(&db, "exported.toml", &exported);
        let before = state(&db);
        // Without the secrets at hand, and pruning: still nothing to do.
        assert_eq!(
            applied(&db, &path, &["--prune", "--prune-users"], &[]),
            vec![]
        );
        assert_eq!(state(&db), before, "[{}]", db.label());
        // --json gives the same document as JSON.
        let doc = authd_json(&db, &["export"], None);
        assert_eq!(doc["client"][0]["secret_env"], "AUTHD_SECRET_BILLING");
        assert_eq!(doc["user"][1]["email_verified"], true);
    });
}
