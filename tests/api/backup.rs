//! `authd backup FILE` (docs/OPERATIONS.md "Backup and restore"): an
//! online copy of a SQLite database, taken while the server writes, that
//! a restore brings back as it was; it never overwrites a file, and on
//! PostgreSQL it says to use pg_dump.

use crate::support::fixtures::{password_grant, standard, user};
use crate::support::helpers::{authd_fails, authd_json, every_backend, TestApp, TestDb};

#[actix_web::test]
async fn a_backup_taken_while_the_server_runs_restores_what_it_held() {
    let db = TestDb::sqlite();
    let c = standard(&db);
    let app = TestApp::spawn(&db).await;
    // The server has written (a refresh family, a signing key) when the
    // copy is taken.
    assert_eq!(password_grant(&app, &c, &[]).await.status, 200);
    let file = db.dir().join("copy.db");
    let out = authd_json(&db, &["backup", file.to_str().unwrap()], None);
    assert_eq!(out["backup"], file.to_str().unwrap());
    assert!(out["bytes"].as_u64().unwrap() > 0, "{out}");
    assert!(!db.dir().join("copy.db.partial").exists());
    // After the backup: lost by the restore.
    user(&db, "bob", "correct horse", &["writer"]);
    app.stop().await;

    // Restore on another host: the copy as the database, beside the same
    // key file (the in-process server just stopped may still hold the
    // old file open, so this one is left alone).
    let restored = TestDb::sqlite();
    std::fs::copy(&file, restored.sqlite_path().unwrap()).unwrap();
    std::fs::copy(db.key_file(), restored.key_file()).unwrap();
    let app = TestApp::spawn(&restored).await;
    let r = password_grant(&app, &c, &[]).await;
    assert_eq!(r.status, 200, "alice and the client are back: {}", r.raw);
    let shown = authd_fails(&restored, &["user", "show", "bob"], None);
    assert!(shown.contains("bob"), "{shown}");
    app.stop().await;

    // Never over an existing file, which stays as it was.
    let before = std::fs::read(&file).unwrap();
    let err = authd_fails(&db, &["backup", file.to_str().unwrap()], None);
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn postgres_is_pointed_to_pg_dump_and_a_missing_database_is_not_created() {
    every_backend(|db| {
        let target = tempfile::tempdir().unwrap();
        let file = target.path().join("copy.db");
        match db.sqlite_path() {
            Some(path) => {
                // No server has created it yet.
                assert!(!path.exists());
                let err = authd_fails(&db, &["backup", file.to_str().unwrap()], None);
                assert!(err.contains("no database at"), "{err}");
                assert!(!path.exists(), "backup created the database");
            }
            None => {
                let err = authd_fails(&db, &["backup", file.to_str().unwrap()], None);
                assert!(err.contains("pg_dump"), "{err}");
            }
        }
        assert!(!file.exists());
    });
}
