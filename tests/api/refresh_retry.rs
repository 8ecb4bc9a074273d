//! Retried refreshes (`--refresh-retry-grace`): a rotated token presented
//! again by its client within the grace, its successor unused, gets that
//! same successor and a new access token; past the grace, or once the
//! successor was used, it is reuse. The successor is kept only sealed,
//! and only for the grace. On every backend, on a manual clock.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use authd::clock::Clock;
use authd::db::refresh_retries;
use authd::db::refresh_tokens::RefreshToken;
use authd::secret::Secret;
use diesel::RunQueryDsl;

use crate::refresh::refresh;
use crate::support::fixtures::{self, conn, password_grant, standard, Reply, TestClient};
use crate::support::helpers::{every_backend, on_every_backend, TestApp, TestDb};

const GRACE: &str = "30";

fn rt(r: &Reply) -> String {
    r.body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token: {}", r.raw))
        .to_string()
}

fn at(r: &Reply) -> String {
    r.body["access_token"].as_str().unwrap().to_string()
}

fn hash(token: &str) -> String {
    Secret::new(token).hash()
}

/// What the row of `token` holds sealed for retries.
fn sealed(db: &TestDb, token: &str) -> Option<String> {
    refresh_retries::sealed_of(&mut conn(db), &hash(token)).unwrap()
}

async fn spawn(db: &TestDb, extra: &[&str]) -> TestApp {
    let mut args = vec!["--refresh-retry-grace", GRACE];
    args.extend_from_slice(extra);
    TestApp::spawn_clocked(db, &args, Clock::manual_from_now()).await
}

fn assert_invalid_grant(r: &Reply, db: &TestDb) {
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant"),
        "[{}] {}",
        db.label(),
        r.raw
    );
}

/// The `jti` of an access token that verifies with the published keys.
async fn verified_jti(app: &TestApp, token: &str) -> String {
    let (_, claims) = fixtures::verify_with_jwks(app, token, &app.issuer).await;
    claims["jti"].as_str().unwrap().to_string()
}

/// `n` refreshes of `token` at once: all succeed, with one successor and
/// `n` different access tokens, each valid.
async fn all_get_one_successor(
    app: &TestApp,
    db: &TestDb,
    c: &TestClient,
    token: &str,
    n: usize,
) -> String {
    let attempts = (0..n).map(|_| refresh(app, c, token, None));
    let replies = futures_util::future::join_all(attempts).await;
    for r in &replies {
        assert_eq!(r.status, 200, "[{}] {}", db.label(), r.raw);
    }
    let successors: BTreeSet<String> = replies.iter().map(rt).collect();
    assert_eq!(successors.len(), 1, "[{}] {successors:?}", db.label());
    let mut jtis = BTreeSet::new();
    for r in &replies {
        jtis.insert(verified_jti(app, &at(r)).await);
    }
    assert_eq!(
        jtis.len(),
        n,
        "[{}] each answer has its own access token",
        db.label()
    );
    successors.into_iter().next().unwrap()
}

#[actix_web::test]
async fn retries_within_the_grace_get_the_same_successor() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = spawn(&db, &["--db-pool-size", "20"]).await;
        let first = password_grant(&app, &c, &[]).await;
        let first_jti = verified_jti(&app, &at(&first)).await;
        let first = rt(&first);

        // Two at once: both succeed, with one and the same successor.
        let successor = all_get_one_successor(&app, &db, &c, &first, 2).await;
        assert_ne!(successor, first);

        // Once more, late in the grace: the same successor again, and an
        // access token of its own, for the successor's grant.
        app.clock.advance(29);
        let again = refresh(&app, &c, &first, Some("posts:read")).await;
        assert_eq!(again.status, 200, "[{}] {}", db.label(), again.raw);
        assert_eq!(rt(&again), successor, "[{}]", db.label());
        assert_eq!(again.body["scope"], "posts:read");
        assert_ne!(verified_jti(&app, &at(&again)).await, first_jti);

        // The successor itself still rotates as usual.
        let next = refresh(&app, &c, &successor, None).await;
        assert_eq!(next.status, 200, "[{}] {}", db.label(), next.raw);
        assert_ne!(rt(&next), successor);

        // Twenty at once, on another family: twenty answers, one successor.
        let other = rt(&password_grant(&app, &c, &[]).await);
        all_get_one_successor(&app, &db, &c, &other, 20).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_retry_after_the_grace_revokes_the_family() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = spawn(&db, &[]).await;
        let first = rt(&password_grant(&app, &c, &[]).await);
        let successor = rt(&refresh(&app, &c, &first, None).await);
        app.clock.advance(30);
        assert_invalid_grant(&refresh(&app, &c, &first, None).await, &db);
        // Reuse: the family died with it.
        assert_invalid_grant(&refresh(&app, &c, &successor, None).await, &db);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_retry_after_the_successor_was_used_revokes_the_family() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = spawn(&db, &[]).await;
        let first = rt(&password_grant(&app, &c, &[]).await);
        let successor = rt(&refresh(&app, &c, &first, None).await);
        let next = rt(&refresh(&app, &c, &successor, None).await);
        // Within the grace, but the successor is used: reuse.
        app.clock.advance(1);
        assert_invalid_grant(&refresh(&app, &c, &first, None).await, &db);
        assert_invalid_grant(&refresh(&app, &c, &next, None).await, &db);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn another_client_gets_no_retry_and_revokes_nothing() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let other = fixtures::ClientSpec::new(&db)
            .grants(&["password", "refresh_token"])
            .scopes("posts:read")
            .create();
        let app = spawn(&db, &[]).await;
        let first = rt(&password_grant(&app, &c, &[]).await);
        let successor = rt(&refresh(&app, &c, &first, None).await);
        assert_invalid_grant(&refresh(&app, &other, &first, None).await, &db);
        assert_eq!(refresh(&app, &c, &first, None).await.status, 200);
        assert_eq!(refresh(&app, &c, &successor, None).await.status, 200);
        app.stop().await;
    })
    .await;
}

/// Waits (a few of the wiper's one-second beats at most) until `token`'s
/// row holds nothing sealed.
async fn wiped(db: &TestDb, token: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if sealed(db, token).is_none() {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[actix_web::test]
async fn the_sealed_successor_is_wiped_once_used_and_after_the_grace() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = spawn(&db, &[]).await;
        let label = db.label();
        let first = rt(&password_grant(&app, &c, &[]).await);
        assert_eq!(
            sealed(&db, &first),
            None,
            "[{label}] a family's first token"
        );
        let successor = rt(&refresh(&app, &c, &first, None).await);
        let kept = sealed(&db, &successor).expect("the successor is kept sealed");
        assert!(
            !kept.contains(&successor),
            "[{label}] sealed, not in the clear"
        );

        // Used: wiped in the same statement as its claim.
        let next = rt(&refresh(&app, &c, &successor, None).await);
        assert_eq!(sealed(&db, &successor), None, "[{label}] wiped once used");
        assert!(sealed(&db, &next).is_some(), "[{label}]");

        // Not before the grace is over (the wiper beats every second)...
        app.clock.advance(29);
        actix_web::rt::time::sleep(Duration::from_millis(1_500)).await;
        assert!(
            sealed(&db, &next).is_some(),
            "[{label}] wiped within the grace"
        );
        // ...and then, with the token itself left working.
        app.clock.advance(1);
        assert!(
            wiped(&db, &next).await,
            "[{label}] still sealed after the grace"
        );
        let after = refresh(&app, &c, &next, None).await;
        assert_eq!(after.status, 200, "[{label}] {}", after.raw);
        app.stop().await;
    })
    .await;
}

#[test]
fn the_wipe_takes_only_what_is_past_the_grace() {
    every_backend(|db| {
        let mut c = conn(&db);
        standard(&db);
        let (user_id, client_id) = fixtures::standard_ids(&mut c);
        let now = 10_000_000;
        let row = |hash: &str, issued_at: i64| RefreshToken {
            token_hash: hash.into(),
            family_id: "f".into(),
            parent_hash: Some(format!("{hash}-parent")),
            user_id: user_id.clone(),
            client_id: client_id.clone(),
            scope: "posts:read".into(),
            issued_at,
            expires_at: now + 1_000,
            used_at: None,
            revoked_at: None,
            generation: 0,
            family_expires_at: now + 1_000,
            auth_time: None,
            sid: None,
            amr: None,
        };
        for (hash, issued_at) in [("past", now - 30), ("within", now - 29)] {
            authd::db::refresh_tokens::insert(&mut c, &row(hash, issued_at)).unwrap();
            diesel::sql_query(format!(
                "UPDATE refresh_tokens SET retry_sealed = 'x' WHERE token_hash = '{hash}'"
            ))
            .execute(&mut c)
            .unwrap();
        }
        assert_eq!(authd::janitor::wipe_retries(&mut c, now, 30).unwrap(), 1);
        let left = |c: &mut _, h: &str| refresh_retries::sealed_of(c, h).unwrap();
        assert_eq!(left(&mut c, "past"), None, "[{}]", db.label());
        assert_eq!(
            left(&mut c, "within").as_deref(),
            Some("x"),
            "[{}]",
            db.label()
        );
        // With the grace off, whatever an earlier run left goes at once.
        assert_eq!(authd::janitor::wipe_retries(&mut c, now, 0).unwrap(), 1);
        assert_eq!(left(&mut c, "within"), None, "[{}]", db.label());
    });
}

/// Every byte the database holds: SQLite's files (the WAL too), or every
/// row of every table of PostgreSQL's as text.
fn database_text(db: &TestDb) -> String {
    if let Some(path) = db.sqlite_path() {
        let mut all = Vec::new();
        for suffix in ["", "-wal"] {
            let file = format!("{}{suffix}", path.display());
            if let Ok(bytes) = std::fs::read(&file) {
                all.extend(bytes);
            }
        }
        return String::from_utf8_lossy(&all).into_owned();
    }
    #[derive(diesel::QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let mut c = conn(db);
    let tables: Vec<Text> = diesel::sql_query(
        "SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema()",
    )
    .load(&mut c)
    .unwrap();
    let mut all = String::new();
    for table in tables {
        let rows: Vec<Text> = diesel::sql_query(format!(
            "SELECT coalesce(string_agg(r::text, E'\\n'), '') AS t FROM \"{}\" r",
            table.t
        ))
        .load(&mut c)
        .unwrap();
        all.extend(rows.into_iter().map(|r| r.t));
    }
    all
}

#[actix_web::test]
async fn a_successors_token_is_never_in_the_database() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        let app = spawn(&db, &[]).await;
        let first = rt(&password_grant(&app, &c, &[]).await);
        let successor = rt(&refresh(&app, &c, &first, None).await);
        assert_eq!(rt(&refresh(&app, &c, &first, None).await), successor);
        assert!(sealed(&db, &successor).is_some(), "kept, sealed");
        let text = database_text(&db);
        assert!(
            text.contains(&hash(&successor)),
            "[{}] the dump holds the rows",
            db.label()
        );
        for token in [&first, &successor] {
            assert!(
                !text.contains(token.as_str()),
                "[{}] a refresh token in the clear in the database",
                db.label()
            );
        }
        app.stop().await;
    })
    .await;
}

/// The binary, its grace set by the environment variable: each retry it
/// answers writes one `refresh_token_retried` audit line, with no token
/// in the log.
#[actix_web::test]
async fn the_binary_reads_the_variable_and_audits_each_retry() {
    use crate::support::process::ServerProcess;
    on_every_backend(|db| async move {
        let c = standard(&db);
        let (user_id, _) = fixtures::standard_ids(&mut conn(&db));
        let mut cmd = ServerProcess::command(&db, &[]);
        cmd.env("AUTHD_REFRESH_RETRY_GRACE", "30");
        let server = ServerProcess::spawn(cmd);
        let http = reqwest::Client::new();
        let token = |form: Vec<(&'static str, String)>| {
            let req = http
                .post(server.url("/oauth/token"))
                .basic_auth(&c.id, c.secret.as_deref())
                .form(&form);
            async move { fixtures::reply(req.send().await.unwrap()).await }
        };
        let login = token(vec![
            ("grant_type", "password".into()),
            ("username", "alice".into()),
            ("password", "correct horse".into()),
        ])
        .await;
        let first = rt(&login);
        let refresh = |t: &str| {
            token(vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", t.to_string()),
            ])
        };
        let successor = rt(&refresh(&first).await);
        let retried = refresh(&first).await;
        assert_eq!(rt(&retried), successor, "[{}] {}", db.label(), retried.raw);
        let log = server.stop();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("event=refresh_token_retried"))
            .collect();
        assert_eq!(lines.len(), 1, "[{}] {log}", db.label());
        assert!(lines[0].contains("outcome=same_successor"), "{lines:?}");
        assert!(
            lines[0].contains(&format!("user_id=\"{user_id}\"")),
            "{lines:?}"
        );
        assert!(
            lines[0].contains(&format!("client_id=\"{}\"", c.id)),
            "{lines:?}"
        );
        for secret in [&first, &successor, &at(&retried)] {
            assert!(
                !log.contains(secret.as_str()),
                "[{}] a token in the log",
                db.label()
            );
        }
    })
    .await;
}
