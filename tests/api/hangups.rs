//! Clients that hang up mid-request: what the server has learned by then
//! still counts. A refresh token presented again revokes its family
//! (RFC 9700 §4.14.2) even when the one presenting it does not wait for
//! the answer.

use std::io::Write;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

use crate::refresh::refresh;
use crate::rotation_batch::wait_for_lock_waits;
use crate::support::fixtures::{password_grant, standard, Reply, TestClient};
use crate::support::helpers::{postgres_only, TestApp, TestDb};

/// A used token presented by a client that gives up while the server's
/// read waits (here for a lock on the table): the family is revoked all
/// the same, and its live token no longer works.
#[actix_web::test]
async fn a_reused_token_revokes_its_family_though_its_client_hangs_up() {
    let Some(db) = postgres_only("a_reused_token_revokes_its_family_though_its_client_hangs_up")
    else {
        return;
    };
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    let login = password_grant(&app, &c, &[]).await;
    let first = login.body["refresh_token"].as_str().unwrap().to_string();
    let refreshed = refresh(&app, &c, &first, None).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.raw);
    let live = refreshed.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();

    let mut holder = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query("LOCK TABLE refresh_tokens IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .unwrap();
    // The thief replays the used token and hangs up while the server
    // reads.
    let thief = present_and_wait(&app, &c, &first);
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    wait_for_lock_waits(&mut watcher, 1).await;
    hang_up(thief).await;
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    while revoked(&mut watcher) == 0 {
        assert!(Instant::now() < deadline, "the family was never revoked");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let after = refresh(&app, &c, &live, None).await;
    after.assert_error(400, "invalid_grant");
    app.stop().await;
}

/// Refresh tokens marked revoked.
fn revoked<C>(conn: &mut C) -> i64
where
    C: diesel::Connection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Count>,
{
    diesel::sql_query("SELECT count(*) AS n FROM refresh_tokens WHERE revoked_at IS NOT NULL")
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Presents `token` on a raw connection without reading the answer.
fn present_and_wait(app: &TestApp, c: &TestClient, token: &str) -> std::net::TcpStream {
    let mut client = std::net::TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", token)
        .append_pair("client_id", &c.id)
        .append_pair("client_secret", c.secret.as_deref().unwrap())
        .finish();
    write!(
        client,
        "POST /oauth/token HTTP/1.1\r\nHost: authd\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    client
}

/// Closes the connection, with time for the server to see it close.
async fn hang_up(client: std::net::TcpStream) {
    client.shutdown(std::net::Shutdown::Both).unwrap();
    drop(client);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
}

/// Resets the connection (RST, not FIN: a half-closed connection is
/// still served), with time for the server to see it go.
async fn reset(client: std::net::TcpStream) {
    client.set_nonblocking(true).unwrap();
    let client = tokio::net::TcpStream::from_std(client).unwrap();
    client.set_zero_linger().unwrap();
    drop(client);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
}

/// On SQLite the refresh is one job of the single writer, which another
/// connection's write transaction holds up here (the writer waits for
/// the lock). A token's first use, then its refresh, on a fresh database.
async fn sqlite_with_a_rotated_token() -> (TestDb, TestApp, TestClient, String, String) {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let c = standard(&db);
    let login = password_grant(&app, &c, &[]).await;
    let first = login.body["refresh_token"].as_str().unwrap().to_string();
    let refreshed: Reply = refresh(&app, &c, &first, None).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.raw);
    let live = refreshed.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    (db, app, c, first, live)
}

/// Holds SQLite's write lock until the connection commits.
fn hold_the_write_lock(db: &TestDb) -> SqliteConnection {
    let mut holder =
        SqliteConnection::establish(db.sqlite_path().unwrap().to_str().unwrap()).unwrap();
    diesel::sql_query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .unwrap();
    holder
}

/// SQLite: a used token presented by a client that hangs up while the
/// writer waits still revokes its family.
#[actix_web::test]
async fn sqlite_a_reused_token_revokes_its_family_though_its_client_hangs_up() {
    let (db, app, c, first, live) = sqlite_with_a_rotated_token().await;
    let mut holder = hold_the_write_lock(&db);
    let thief = present_and_wait(&app, &c, &first);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    hang_up(thief).await;
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    while revoked(&mut holder) == 0 {
        assert!(Instant::now() < deadline, "the family was never revoked");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let after = refresh(&app, &c, &live, None).await;
    after.assert_error(400, "invalid_grant");
    app.stop().await;
}

/// SQLite: a live token whose client resets the connection before the
/// writer gets to it is left unclaimed, so the client's retry works (claimed, its
/// successor would be lost and the retry would count as reuse).
#[actix_web::test]
async fn sqlite_a_live_token_whose_client_hangs_up_before_the_write_stays_usable() {
    let (db, app, c, _first, live) = sqlite_with_a_rotated_token().await;
    let mut holder = hold_the_write_lock(&db);
    let gone = present_and_wait(&app, &c, &live);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    reset(gone).await;
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    // Time for the writer to take the job up.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;

    let retry = refresh(&app, &c, &live, None).await;
    assert_eq!(retry.status, 200, "{}", retry.raw);
    assert_eq!(revoked(&mut holder), 0);
    app.stop().await;
}
