//! One set of Argon2 parameters per database, shared by the server and the
//! admin commands, so that the dummy hash an unknown user is checked
//! against costs what a stored hash costs (no timing oracle). Parameters
//! are read from PHC strings: no timed tests.

use authd::clock::Clock;
use authd::password::{cost_of, Cost};

use crate::support::fixtures::{conn, login_as as login, standard};
use crate::support::helpers::{
    authd_command, cheap_argon2_env, on_every_backend, TestApp, TestDb, CHEAP_ARGON2,
};

/// Other parameters than [`CHEAP_ARGON2`], as cheap.
const OTHER: Cost = Cost {
    m_kib: 128,
    t: 1,
    p: 1,
};

/// `authd ARGS --json` with the test database but this memory cost.
fn authd_with_memory(db: &TestDb, m_kib: u32, args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = authd_command()
        .args(args)
        .arg("--json")
        .env("DATABASE_URL", db.url())
        .env("AUTHD_KEY_FILE", db.key_file())
        .envs(cheap_argon2_env())
        .env("AUTHD_ARGON2_MEMORY_KIB", m_kib.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("authd binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("authd finishes");
    assert!(
        out.status.success(),
        "[{}] authd {args:?}: {}",
        db.label(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The parameters of `username`'s stored hash.
fn stored_cost(db: &TestDb, username: &str) -> Cost {
    let user = authd::db::users::by_username(&mut conn(db), username)
        .unwrap()
        .expect("the user exists");
    cost_of(&user.password_hash).expect("an Argon2 PHC string")
}

#[actix_web::test]
async fn the_cli_hashes_with_the_servers_parameters_and_the_dummy_matches() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        // An admin shell without the server's settings.
        authd_with_memory(
            &db,
            OTHER.m_kib,
            &["user", "add", "bob", "--password-stdin"],
            "bob's password\n",
        );
        let bob = stored_cost(&db, "bob");
        assert_eq!(bob, CHEAP_ARGON2, "[{}] the CLI used its own", db.label());
        assert_eq!(app.passwords.dummy_cost(), Some(bob), "[{}]", db.label());
        authd_with_memory(
            &db,
            OTHER.m_kib,
            &["user", "set-password", "bob", "--password-stdin"],
            "bob's new password\n",
        );
        assert_eq!(stored_cost(&db, "bob"), CHEAP_ARGON2, "[{}]", db.label());
        app.stop().await;

        // The server's settings change: they become the stored set, the
        // dummy hash and the CLI follow, and a user is rehashed at the
        // next login.
        let memory = OTHER.m_kib.to_string();
        let app = TestApp::spawn_with(&db, &["--argon2-memory-kib", &memory]).await;
        assert_eq!(app.passwords.dummy_cost(), Some(OTHER), "[{}]", db.label());
        authd_with_memory(
            &db,
            CHEAP_ARGON2.m_kib,
            &["user", "add", "carol", "--password-stdin"],
            "carol's password\n",
        );
        assert_eq!(stored_cost(&db, "carol"), OTHER, "[{}]", db.label());
        assert_eq!(stored_cost(&db, "alice"), CHEAP_ARGON2);
        assert_eq!(login(&app, &c, "alice", "correct horse").await.status, 200);
        assert_eq!(stored_cost(&db, "alice"), OTHER, "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn after_a_cost_change_an_unknown_user_is_checked_at_a_stored_hashs_cost() {
    on_every_backend(|db| async move {
        let memory = OTHER.m_kib.to_string();
        let other_cost = ["--argon2-memory-kib", memory.as_str()];
        let app = TestApp::spawn_with(&db, &other_cost).await;
        assert_eq!(app.passwords.other_dummy_costs(), Vec::<Cost>::new());
        // alice's hash has the cost of an earlier setting.
        let c = standard(&db);
        login(&app, &c, "nobody", "whatever1")
            .await
            .assert_error(400, "invalid_grant");
        assert_eq!(
            app.passwords.other_dummy_costs(),
            [CHEAP_ARGON2],
            "[{}] the unknown name was not checked at alice's cost",
            db.label()
        );
        app.stop().await;

        // At the next start, that dummy hash is made before any login.
        let app = TestApp::spawn_with(&db, &other_cost).await;
        assert_eq!(
            app.passwords.other_dummy_costs(),
            [CHEAP_ARGON2],
            "[{}]",
            db.label()
        );
        app.stop().await;
    })
    .await;
}
