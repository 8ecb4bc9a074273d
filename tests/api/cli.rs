//! Every admin command, through the real binary, on every backend.

use serde_json::Value;

use crate::support::helpers::{authd, authd_fails, authd_json, every_backend, TestDb};

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// The usernames `authd user list` shows, in its order.
pub(crate) fn usernames(db: &TestDb) -> Vec<String> {
    authd_json(db, &["user", "list"], None)
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| u["username"].as_str().expect("a name").to_string())
        .collect()
}

fn user_count(db: &TestDb) -> usize {
    authd_json(db, &["user", "list"], None)
        .as_array()
        .expect("array")
        .len()
}

/// How many migrations the repository holds (one folder each).
fn migration_count() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    std::fs::read_dir(dir)
        .expect("the migrations folder")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().join("up.sql").exists()))
        .count()
}

#[test]
fn migrate_applies_once() {
    every_backend(|db| {
        let first = authd_json(&db, &["migrate"], None);
        assert_eq!(first["applied"], migration_count(), "[{}]", db.label());
        let second = authd_json(&db, &["migrate"], None);
        assert_eq!(second["applied"], 0, "[{}]", db.label());
    });
}

#[test]
fn roles_add_list_and_errors() {
    every_backend(|db| {
        let role = authd_json(
            &db,
            &[
                "role",
                "add",
                "writer",
                "--scope",
                "posts:write posts:read",
                "--scope",
                "x",
            ],
            None,
        );
        assert_eq!(role["name"], "writer");
        assert_eq!(strings(&role["scopes"]), ["posts:read", "posts:write", "x"]);

        let err = authd_fails(&db, &["role", "add", "writer", "--scope", "a"], None);
        assert!(err.contains("role 'writer' already exists"), "{err}");
        let err = authd_fails(
            &db,
            &["role", "add", "bad", "--scope", "ok bad\"scope"],
            None,
        );
        assert!(err.contains("invalid scope"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

        let list = authd_json(&db, &["role", "list"], None);
        let list = list.as_array().unwrap();
        assert_eq!(
            list.len(),
            1,
            "[{}] the failed adds left nothing",
            db.label()
        );
        assert_eq!(list[0]["name"], "writer");

        let text = String::from_utf8(authd(&db, &["role", "list"], None).stdout).unwrap();
        assert!(
            text.contains("writer") && text.contains("posts:read"),
            "{text}"
        );
    });
}

#[test]
fn users_lifecycle() {
    every_backend(|db| {
        authd_json(
            &db,
            &["role", "add", "reader", "--scope", "posts:read"],
            None,
        );
        authd_json(
            &db,
            &["role", "add", "writer", "--scope", "posts:write"],
            None,
        );
        let user = authd_json(
            &db,
            &[
                "user",
                "add",
                "alice",
                "--role",
                "reader",
                "--password-stdin",
            ],
            Some("correct horse battery\n"),
        );
        assert_eq!(user["username"], "alice");
        assert_eq!(strings(&user["roles"]), ["reader"]);
        let id = user["id"].as_str().unwrap().to_string();
        assert!(!id.is_empty());

        // Errors: one clear line, non-zero exit, nothing half-made.
        let err = authd_fails(
            &db,
            &["user", "add", "alice", "--password-stdin"],
            Some("another password\n"),
        );
        assert!(err.contains("user 'alice' already exists"), "{err}");
        let err = authd_fails(
            &db,
            &["user", "add", "bob", "--role", "nope", "--password-stdin"],
            Some("long enough pw\n"),
        );
        assert!(err.contains("unknown role 'nope'"), "{err}");
        let err = authd_fails(
            &db,
            &["user", "add", "carol", "--password-stdin"],
            Some("short\n"),
        );
        assert!(err.contains("at least 8"), "{err}");
        let long = format!("{}\n", "x".repeat(1025));
        let err = authd_fails(
            &db,
            &["user", "add", "dave", "--password-stdin"],
            Some(&long),
        );
        assert!(err.contains("too long"), "{err}");
        let err = authd_fails(
            &db,
            &["user", "add", "has space", "--password-stdin"],
            Some("long enough pw\n"),
        );
        assert!(err.contains("spaces"), "{err}");
        assert_eq!(
            user_count(&db),
            1,
            "[{}] failed adds left a user",
            db.label()
        );

        let granted = authd_json(&db, &["user", "grant-role", "alice", "writer"], None);
        assert_eq!(strings(&granted["roles"]), ["reader", "writer"]);
        let revoked = authd_json(&db, &["user", "revoke-role", "alice", "reader"], None);
        assert_eq!(strings(&revoked["roles"]), ["writer"]);
        let err = authd_fails(&db, &["user", "revoke-role", "alice", "reader"], None);
        assert!(err.contains("does not have role"), "{err}");
        let err = authd_fails(&db, &["user", "grant-role", "alice", "ghost"], None);
        assert!(err.contains("unknown role 'ghost'"), "{err}");
        let err = authd_fails(&db, &["user", "grant-role", "zed", "writer"], None);
        assert!(err.contains("unknown user 'zed'"), "{err}");

        let disabled = authd_json(&db, &["user", "disable", "alice"], None);
        assert_eq!(disabled["disabled"], true);
        let listed = authd_json(&db, &["user", "list"], None);
        assert_eq!(listed[0]["disabled"], true);
        assert_eq!(listed[0]["id"], id.as_str());
        let enabled = authd_json(&db, &["user", "enable", "alice"], None);
        assert_eq!(enabled["disabled"], false);
        let err = authd_fails(&db, &["user", "disable", "zed"], None);
        assert!(err.contains("unknown user"), "{err}");

        let set = authd_json(
            &db,
            &["user", "set-password", "alice", "--password-stdin"],
            Some("a brand new secret\n"),
        );
        assert_eq!(set["username"], "alice");
        assert_eq!(set["refresh_tokens_revoked"], 0);
        let err = authd_fails(
            &db,
            &["user", "set-password", "alice", "--password-stdin"],
            Some("tiny\n"),
        );
        assert!(err.contains("at least 8"), "{err}");
        let err = authd_fails(
            &db,
            &["user", "set-password", "zed", "--password-stdin"],
            Some("long enough pw\n"),
        );
        assert!(err.contains("unknown user 'zed'"), "{err}");
    });
}

#[test]
fn json_flag_works_anywhere_after_the_subcommand() {
    every_backend(|db| {
        let out = authd(&db, &["role", "--json", "add", "r", "--scope", "a"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["name"], "r");
    });
}

/// Runs `authd ARGS` on a pseudo-terminal (util-linux `script`), typing
/// `lines` at the prompts.
fn on_terminal(db: &TestDb, args: &str, lines: &[&str]) -> (bool, String) {
    use std::io::Write;
    let mut child = crate::support::helpers::command("script")
        .args([
            "-qec",
            &format!("{} {args}", env!("CARGO_BIN_EXE_authd")),
            "/dev/null",
        ])
        .env("DATABASE_URL", db.url())
        .envs(crate::support::helpers::cheap_argon2_env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux is installed");
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        // Let the prompt switch the terminal to no-echo before typing.
        std::thread::sleep(std::time::Duration::from_millis(400));
        let _ = writeln!(stdin, "{line}");
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn password_prompt_asks_twice_without_echo() {
    let db = TestDb::sqlite();
    let (ok, screen) = on_terminal(&db, "user add bob", &["typed secret 1", "typed secret 1"]);
    assert!(ok, "{screen}");
    assert!(
        screen.contains("Password:") && screen.contains("Repeat password:"),
        "{screen}"
    );
    assert!(
        !screen.contains("typed secret 1"),
        "the password was echoed: {screen}"
    );
    let (ok, screen) = on_terminal(&db, "user add carl", &["typed secret 1", "typed secret 2"]);
    assert!(!ok);
    assert!(screen.contains("passwords do not match"), "{screen}");
    assert_eq!(usernames(&db), ["bob"]);
}

/// PostgreSQL: `refresh_tokens` pages keep room, so that a claim (which
/// changes no indexed column) is a HOT update, not five index inserts.
/// 500 tokens inserted at once, then each claimed on its own, as the
/// refresh grant does. At the default fill factor a token's page is full
/// and only the space that pruning frees makes a claim HOT.
#[test]
fn postgres_claims_update_refresh_tokens_in_place() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(db) =
        crate::support::helpers::postgres_only("postgres_claims_update_refresh_tokens_in_place")
    else {
        return;
    };
    authd_json(&db, &["migrate"], None);
    authd_json(&db, &["migrate"], None);
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.batch_execute(
        "INSERT INTO users (id, username, password_hash, created_at, updated_at, \
           tokens_valid_after) VALUES ('u', 'u', 'x', 0, 0, 0); \
         INSERT INTO clients (client_id, name, grants, scopes, redirect_uris, created_at, \
           updated_at) VALUES ('c', 'c', 'refresh_token', '', '', 0, 0); \
         INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scope, \
           issued_at, expires_at, generation, family_expires_at) \
           SELECT 'h' || i, 'f' || i, 'u', 'c', 'a b', 0, 1, 0, 1 \
           FROM generate_series(1, 500) i;",
    )
    .unwrap();
    // A snapshot held open keeps every claimed row's old version: no
    // pruning makes room (how much pruning happens depends on what else
    // the cluster runs). Only the room the fill factor left on each page
    // takes the new versions in place: about 40 % of the claims at 70 %,
    // next to none at the default 100 %.
    let mut held = PgConnection::establish(db.url()).unwrap();
    held.batch_execute(
        "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1 FROM refresh_tokens LIMIT 1;",
    )
    .unwrap();
    for i in 1..=500 {
        let claim = format!("UPDATE refresh_tokens SET used_at = 1 WHERE token_hash = 'h{i}'");
        assert_eq!(diesel::sql_query(claim).execute(&mut conn), Ok(1));
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    // The statistics reach the view within a second or so of idle.
    let stat = |conn: &mut PgConnection, column: &str| {
        let q = format!(
            "SELECT {column} AS n FROM pg_stat_user_tables WHERE relname = 'refresh_tokens'"
        );
        diesel::sql_query(q).get_result::<Count>(conn).unwrap().n
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while stat(&mut conn, "n_tup_upd") < 500 {
        assert!(std::time::Instant::now() < deadline, "no statistics");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let hot = stat(&mut conn, "n_tup_hot_upd");
    assert!(hot >= 150, "only {hot} of 500 claims were HOT updates");
    held.batch_execute("COMMIT").unwrap();

    // A fill factor an operator chose stays.
    conn.batch_execute("ALTER TABLE refresh_tokens SET (fillfactor = 80)")
        .unwrap();
    authd_json(&db, &["migrate"], None);
    #[derive(diesel::QueryableByName)]
    struct Options {
        #[diesel(sql_type = diesel::sql_types::Text)]
        o: String,
    }
    let options: Options = diesel::sql_query(
        "SELECT array_to_string(reloptions, ',') AS o FROM pg_class \
         WHERE relname = 'refresh_tokens'",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(options.o, "fillfactor=80");
}
