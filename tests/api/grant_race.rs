//! `authd user grant-role` beside another grant of the same role: the
//! loser finds the role granted and succeeds, it never reports the
//! database's duplicate-key error.

use std::sync::Arc;

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::cli::strings;
use crate::support::helpers::{
    authd, authd_json, every_backend, postgres_only, wait_until_blocked, TestDb,
};

fn alice_and_role(db: &TestDb) {
    authd_json(
        db,
        &["role", "add", "reader", "--scope", "posts:read"],
        None,
    );
    authd_json(
        db,
        &["user", "add", "alice", "--password-stdin"],
        Some("correct horse battery\n"),
    );
}

/// Granting a role the user already has answers with the user, on both
/// backends.
#[test]
fn granting_a_held_role_again_succeeds() {
    every_backend(|db| {
        alice_and_role(&db);
        for _ in 0..2 {
            let user = authd_json(&db, &["user", "grant-role", "alice", "reader"], None);
            assert_eq!(strings(&user["roles"]), ["reader"], "[{}]", db.label());
        }
    });
}

/// PostgreSQL: another transaction inserts the same grant after the
/// command has looked and before it inserts (it holds the row, uncommitted,
/// while the command's insert waits for it). On SQLite the command's
/// transaction holds the write lock from its first statement, so nothing
/// can come in between there.
#[test]
fn a_grant_racing_another_insert_of_it_succeeds() {
    let Some(db) = postgres_only("a_grant_racing_another_insert_of_it_succeeds") else {
        return;
    };
    let db = Arc::new(db);
    alice_and_role(&db);
    let sql = |conn: &mut PgConnection, q: &str| diesel::sql_query(q).execute(conn);
    let mut other = PgConnection::establish(db.url()).unwrap();
    sql(&mut other, "BEGIN").unwrap();
    let inserted = sql(
        &mut other,
        "INSERT INTO user_roles (user_id, role_name) \
         SELECT id, 'reader' FROM users WHERE username = 'alice'",
    )
    .unwrap();
    assert_eq!(inserted, 1);

    let grant = {
        let db = db.clone();
        std::thread::spawn(move || authd(&db, &["user", "grant-role", "alice", "reader"], None))
    };
    // Until the command's insert waits for the uncommitted row.
    wait_until_blocked(&db, &grant, "the grant");
    sql(&mut other, "COMMIT").unwrap();
    let out = grant.join().unwrap();
    assert!(
        out.status.success(),
        "the grant failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user: serde_json::Value = authd_json(&db, &["user", "list"], None)[0].clone();
    assert_eq!(strings(&user["roles"]), ["reader"]);
}
