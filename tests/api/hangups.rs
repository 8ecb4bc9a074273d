//! Clients that hang up mid-request: what the server has learned by then
//! still counts. A refresh token presented again revokes its family
//! (RFC 9700 §4.14.2) even when the one presenting it does not wait for
//! the answer.

use std::io::Write;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::refresh::refresh;
use crate::rotation_batch::wait_for_lock_waits;
use crate::support::fixtures::{password_grant, standard};
use crate::support::helpers::{postgres_only, TestApp};

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
    let mut thief = std::net::TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", &first)
        .append_pair("client_id", &c.id)
        .append_pair("client_secret", c.secret.as_deref().unwrap())
        .finish();
    write!(
        thief,
        "POST /oauth/token HTTP/1.1\r\nHost: authd\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    wait_for_lock_waits(&mut watcher, 1).await;
    thief.shutdown(std::net::Shutdown::Both).unwrap();
    drop(thief);
    // Time for the server to see the connection close.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
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
fn revoked(conn: &mut PgConnection) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let c: Count =
        diesel::sql_query("SELECT count(*) AS n FROM refresh_tokens WHERE revoked_at IS NOT NULL")
            .get_result(conn)
            .unwrap();
    c.n
}
