//! Usernames and client names: look-alike spellings are one name, invisible
//! and text-direction characters are refused, login finds a user by any
//! spelling of their name, and a name is escaped in the audit trail.

use diesel::RunQueryDsl;

use crate::cli::usernames;
use crate::support::fixtures::{conn, login_as, standard};
use crate::support::helpers::{
    authd_fails, authd_json, authd_logging, every_backend, on_every_backend, TestApp,
};

const PW: Option<&str> = Some("correct horse battery\n");

#[test]
fn usernames_that_fold_alike_are_one_name() {
    every_backend(|db| {
        authd_json(&db, &["user", "add", "alice", "--password-stdin"], PW);
        for other in ["Alice", "ALICE", "ａｌｉｃｅ"] {
            let err = authd_fails(&db, &["user", "add", other, "--password-stdin"], PW);
            assert!(
                err.contains(&format!("user '{other}' already exists")),
                "[{}] {other}: {err}",
                db.label()
            );
        }
        // Names fold with their accents kept: another name.
        authd_json(&db, &["user", "add", "José", "--password-stdin"], PW);
        let err = authd_fails(&db, &["user", "add", "JOSÉ", "--password-stdin"], PW);
        assert!(err.contains("already exists"), "[{}] {err}", db.label());
        // Any spelling names the user in admin commands too.
        let user = authd_json(&db, &["user", "disable", "ALICE"], None);
        assert_eq!(user["username"], "alice", "[{}]", db.label());
        assert_eq!(usernames(&db), ["José", "alice"], "[{}]", db.label());
    });
}

#[test]
fn invisible_and_direction_characters_are_refused_in_names() {
    every_backend(|db| {
        for bad in [
            "evil\u{202e}gnp",
            "a\u{200b}b",
            "\u{2066}admin\u{2069}",
            "zero\u{feff}width",
            "no\u{a0}break",
            "soft\u{ad}hyphen",
        ] {
            let err = authd_fails(&db, &["user", "add", bad, "--password-stdin"], PW);
            assert!(err.contains("invisible"), "[{}] {bad:?}: {err}", db.label());
            // The message shows the character escaped, never raw.
            assert!(!err.contains(bad), "[{}] {bad:?}: {err}", db.label());
            let err = authd_fails(&db, &["client", "add", bad], None);
            assert!(err.contains("invisible"), "[{}] {bad:?}: {err}", db.label());
        }
        for good in ["José", "李", "o'brien"] {
            let user = authd_json(&db, &["user", "add", good, "--password-stdin"], PW);
            assert_eq!(user["username"], good, "[{}]", db.label());
        }
        let client = authd_json(&db, &["client", "add", "My App 李"], None);
        assert_eq!(client["name"], "My App 李", "[{}]", db.label());
        let users = authd_json(&db, &["user", "list"], None);
        assert_eq!(users.as_array().unwrap().len(), 3, "[{}]", db.label());
    });
}

/// Login finds a user by any spelling that folds to their name.
#[actix_web::test]
async fn login_looks_a_user_up_by_the_folded_name() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = TestApp::spawn(&db).await;
        for spelling in ["alice", "Alice", "ＡＬＩＣＥ"] {
            let r = login_as(&app, &c, spelling, "correct horse").await;
            assert_eq!(r.status, 200, "[{}] {spelling}: {}", db.label(), r.raw);
        }
        login_as(&app, &c, "alice", "wrong horse")
            .await
            .assert_error(400, "invalid_grant");
        app.stop().await;
    })
    .await;
}

/// A name stored before the rules (here put in by hand) is escaped in the
/// audit trail: a right-to-left override cannot turn the line around.
#[test]
fn names_are_escaped_in_the_audit_trail() {
    every_backend(|db| {
        authd_json(&db, &["user", "add", "mallory", "--password-stdin"], PW);
        diesel::sql_query("UPDATE users SET username = 'mal\u{202e}lory\u{200b}'")
            .execute(&mut conn(&db))
            .unwrap();
        let out = authd_logging(
            &db,
            &["user", "disable", "mal\u{202e}lory\u{200b}"],
            None,
            "info",
        );
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "[{}] {log}", db.label());
        assert!(
            log.contains(r#"username="mal\u{202e}lory\u{200b}""#),
            "[{}] {log}",
            db.label()
        );
        assert!(!log.contains('\u{202e}'), "[{}] {log}", db.label());
    });
}

/// Users made before the folded column existed get it when migrations
/// run; two of them whose names fold alike do not stop the start: the
/// older keeps the folded name, the other logs in by its exact name, and
/// a warning names both.
#[actix_web::test]
async fn existing_users_that_fold_alike_do_not_stop_the_start() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        authd_json(&db, &["user", "add", "bob", "--password-stdin"], PW);
        // As before the column: nothing folded, and a look-alike of alice.
        let mut raw = conn(&db);
        diesel::sql_query(
            "INSERT INTO users (id, username, password_hash, disabled, created_at, updated_at, \
             tokens_valid_after) SELECT 'later', 'ALICE', password_hash, disabled, \
             created_at + 1, updated_at, tokens_valid_after FROM users WHERE username = 'alice'",
        )
        .execute(&mut raw)
        .unwrap();
        diesel::sql_query("INSERT INTO user_roles (user_id, role_name) VALUES ('later', 'writer')")
            .execute(&mut raw)
            .unwrap();
        diesel::sql_query("UPDATE users SET username_folded = NULL")
            .execute(&mut raw)
            .unwrap();
        drop(raw);
        let out = authd_logging(&db, &["migrate"], None, "warn");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "[{}] {log}", db.label());
        assert!(
            log.contains("user 'ALICE' has a name that folds like user 'alice'"),
            "[{}] {log}",
            db.label()
        );
        let app = TestApp::spawn(&db).await;
        for (spelling, id) in [("alice", None), ("Alice", None), ("ALICE", Some("later"))] {
            let r = login_as(&app, &c, spelling, "correct horse").await;
            assert_eq!(r.status, 200, "[{}] {spelling}: {}", db.label(), r.raw);
            if let Some(id) = id {
                let user = authd::db::users::by_username(&mut conn(&db), spelling)
                    .unwrap()
                    .unwrap();
                assert_eq!(user.id, id, "[{}]", db.label());
            }
        }
        app.stop().await;
        // bob got his folded name: another spelling of it is taken.
        let err = authd_fails(&db, &["user", "add", "BOB", "--password-stdin"], PW);
        assert!(err.contains("already exists"), "[{}] {err}", db.label());
    })
    .await;
}
