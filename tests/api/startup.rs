//! The binary from a fresh directory: default SQLite file, migrations, a
//! signing key, the address it bound, hints, health, clean shutdown; and
//! several instances starting at once on one database.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::helpers::on_every_backend;
use crate::support::process::ServerProcess;

#[actix_web::test]
async fn fresh_start_creates_the_database_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::support::helpers::authd_command()
        .args(["--bind", "127.0.0.1:0"])
        .args(crate::support::helpers::cheap_argon2_args())
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    let mut base = None;
    while base.is_none() || !log.contains("authd client add") {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("server did not report its address: {log}"));
        if let Some(rest) = line.split("listening on ").nth(1) {
            base = rest.split_whitespace().next().map(str::to_string);
        }
        log.push_str(&line);
        log.push('\n');
    }
    assert!(log.contains("generated signing key"), "{log}");
    assert!(log.contains("authd user add"), "{log}");
    assert!(dir.path().join("authd.db").exists(), "authd.db created");
    let key_file = dir.path().join("authd.db.key");
    assert!(
        key_file.exists(),
        "the key-encryption key file is created beside the database"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is private");
    }

    let base = base.unwrap();
    authd::resource::install_crypto_provider();
    let res = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit on SIGTERM: {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many migrations the binary embeds: one folder each.
fn migration_count() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("up.sql").exists())
        .count()
}

#[derive(diesel::QueryableByName)]
struct Applied {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

#[actix_web::test]
async fn instances_starting_at_once_on_an_empty_database_migrate_once() {
    use authd::db::schema::signing_keys;
    use diesel::prelude::*;

    on_every_backend(|db| async move {
        // Three servers on one empty database (and one key file), started
        // together: each must find or create the tables and the first key.
        let starting: Vec<_> = (0..3)
            .map(|_| {
                let cmd = ServerProcess::command(&db, &[]);
                std::thread::spawn(move || ServerProcess::spawn(cmd))
            })
            .collect();
        let mut servers = Vec::new();
        for start in starting {
            match start.join() {
                Ok(server) => servers.push(server),
                Err(_) => panic!("[{}] an instance failed to start", db.label()),
            }
        }
        let http = reqwest::Client::new();
        for server in &servers {
            let res = http.get(server.url("/healthz")).send().await.unwrap();
            assert_eq!(res.status(), 200, "[{}] {}", db.label(), server.log());
        }

        let mut conn = crate::support::fixtures::conn(&db);
        let mut applied: Vec<String> =
            diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
                .load::<Applied>(&mut conn)
                .unwrap()
                .into_iter()
                .map(|a| a.version)
                .collect();
        applied.sort();
        let listed = applied.len();
        applied.dedup();
        assert_eq!(
            (listed, applied.len()),
            (migration_count(), migration_count()),
            "[{}] each migration is recorded once: {applied:?}",
            db.label()
        );
        let live_keys: Vec<(String, String)> = signing_keys::table
            .filter(signing_keys::retired_at.is_null())
            .select((signing_keys::purpose, signing_keys::alg))
            .order(signing_keys::purpose)
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            live_keys,
            [
                ("access".into(), "ES256".into()),
                ("id_token".into(), "RS256".into())
            ],
            "[{}] one access-token key and one ID-token key, made once",
            db.label()
        );

        for mut server in servers {
            server.terminate();
            let status = server.wait_exit(Duration::from_secs(20));
            assert!(
                status.is_some_and(|s| s.success()),
                "[{}] clean exit: {status:?}\n{}",
                db.label(),
                server.log()
            );
        }
    })
    .await;
}
