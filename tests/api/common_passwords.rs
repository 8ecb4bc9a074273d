//! `authd user add` and `authd user set-password` refuse common and leaked
//! passwords (the list shipped with the binary), in any case.

use crate::support::helpers::{authd_fails, authd_json, every_backend};

const REFUSED: &str =
    "password is too common (it appears in lists of leaked passwords): choose another";

#[test]
fn the_cli_refuses_common_passwords() {
    every_backend(|db| {
        for password in ["password1\n", "Qwerty123\n", "12345678\n"] {
            let err = authd_fails(
                &db,
                &["user", "add", "bob", "--password-stdin"],
                Some(password),
            );
            assert!(
                err.contains(REFUSED),
                "[{}] {password:?}: {err}",
                db.label()
            );
        }
        let users = authd_json(&db, &["user", "list"], None);
        assert_eq!(
            users,
            serde_json::json!([]),
            "[{}] nothing created",
            db.label()
        );

        authd_json(
            &db,
            &["user", "add", "bob", "--password-stdin"],
            Some("correct horse battery\n"),
        );
        let err = authd_fails(
            &db,
            &["user", "set-password", "bob", "--password-stdin"],
            Some("IloveYou\n"),
        );
        assert!(err.contains(REFUSED), "[{}] {err}", db.label());
    });
}
