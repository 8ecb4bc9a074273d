//! Files at rest: the SQLite database, its `-wal`/`-shm` files and the key
//! file are created private (0600); a key file others may read is refused.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::helpers::{authd, authd_command, authd_fails, every_backend, TestApp, TestDb};
use crate::support::process::ServerProcess;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[actix_web::test]
async fn a_fresh_sqlite_database_its_wal_and_shm_and_the_key_file_are_private() {
    let db = TestDb::sqlite();
    let path = db.sqlite_path().unwrap();
    // The server keeps a connection open, so the WAL files exist now.
    let app = TestApp::spawn(&db).await;
    let wal = path.with_extension("db-wal");
    let shm = path.with_extension("db-shm");
    for file in [&path, &wal, &shm, &db.key_file()] {
        assert_eq!(format!("{:o}", mode(file)), "600", "{}", file.display());
    }
    app.stop().await;
}

#[test]
fn an_existing_sqlite_database_open_to_others_is_reported_at_start() {
    let db = TestDb::sqlite();
    let path = db.sqlite_path().unwrap();
    assert!(authd(&db, &["migrate"], None).status.success());
    set_mode(&path, 0o644);
    let log = ServerProcess::start_logging(&db, &[], "warn").stop();
    assert!(
        log.contains(&format!("(mode 0644): run chmod 600 {}", path.display())),
        "{log}"
    );
}

/// Runs `authd serve` and waits for it to exit by itself (it must refuse
/// to start); returns its stderr.
fn serve_refuses(db: &TestDb) -> String {
    let mut child = authd_command()
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("AUTHD_KEY_FILE", db.key_file())
        .env("AUTHD_BIND", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("authd binary runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("[{}] authd serve started with an open key file", db.label());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "[{}] non-zero exit", db.label());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_key_file_others_can_read_is_refused_with_the_fix() {
    every_backend(|db| {
        // Creates the key file.
        assert!(authd(&db, &["keys", "rotate"], None).status.success());
        let key_file = db.key_file();
        assert_eq!(mode(&key_file), 0o600, "[{}]", db.label());

        set_mode(&key_file, 0o644);
        let fix = format!("(mode 0644): run chmod 600 {}", key_file.display());
        let err = authd_fails(&db, &["keys", "rotate"], None);
        assert!(err.contains(&fix), "[{}] {err}", db.label());
        assert_eq!(
            err.trim().lines().count(),
            1,
            "[{}] one line: {err}",
            db.label()
        );
        let err = serve_refuses(&db);
        assert!(err.contains(&fix), "[{}] {err}", db.label());

        set_mode(&key_file, 0o600);
        assert!(authd(&db, &["keys", "rotate"], None).status.success());
    });
}
