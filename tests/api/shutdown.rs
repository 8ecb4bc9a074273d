//! A clean stop: on SIGTERM the server stops accepting at once, lets the
//! requests in flight finish within `--shutdown-timeout`, and exits 0.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use authd::password::{Cost, Passwords};

use crate::support::fixtures::{self, ClientSpec, TestClient};
use crate::support::helpers::{on_every_backend, TestDb};
use crate::support::process::ServerProcess;

/// An Argon2 cost whose verification takes the better part of a second or
/// more here: a login against such a hash stays in flight long enough to
/// stop the server under it.
const SLOW_ARGON2: Cost = Cost {
    m_kib: 65_536,
    t: 20,
    p: 1,
};

/// Creates `name` with a [`SLOW_ARGON2`] hash of `password` and a client
/// for the password grant; returns the client and how long one hash took
/// (about what the server will take to verify it).
fn slow_login_setup(db: &TestDb, name: &str, password: &str) -> (TestClient, Duration) {
    fixtures::role(db, "reader", "posts:read");
    let started = Instant::now();
    let hash = Passwords::new(SLOW_ARGON2, 1, 0)
        .unwrap()
        .hash_blocking(password)
        .unwrap();
    let cost = started.elapsed();
    authd::manage::users::add(
        &mut fixtures::conn(db),
        name,
        &hash,
        &["reader".to_string()],
        authd::clock::Clock::system().now(),
    )
    .unwrap();
    let client = ClientSpec::new(db)
        .grants(&["password"])
        .scopes("posts:read")
        .create();
    (client, cost)
}

/// What a login got, and when.
struct Outcome {
    /// 0 when no response came.
    status: u16,
    body: String,
    at: Instant,
}

/// A password grant on a connection of its own (no pool: a kept-alive
/// connection would count as in flight).
async fn login(base: String, c: TestClient, name: &'static str) -> Outcome {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let res = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&c.id, c.secret.as_deref())
        .form(&[
            ("grant_type", "password"),
            ("username", name),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    let (status, body) = match res {
        Ok(res) => {
            let status = res.status().as_u16();
            match res.text().await {
                Ok(body) => (status, body),
                Err(e) => (0, format!("response cut short: {e}")),
            }
        }
        Err(e) => (0, format!("no response: {e}")),
    };
    Outcome {
        status,
        body,
        at: Instant::now(),
    }
}

const PASSWORD: &str = "correct horse";

/// Waits until connecting to `addr` is refused (the listener is closed);
/// the time it was, or `None` after `within`.
async fn wait_until_refused(addr: SocketAddr, within: Duration) -> Option<Instant> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Some(Instant::now())
            }
            _ => actix_web::rt::time::sleep(Duration::from_millis(10)).await,
        }
    }
    None
}

#[actix_web::test]
async fn sigterm_lets_the_request_in_flight_finish_and_refuses_new_ones() {
    on_every_backend(|db| async move {
        let label = db.label();
        let (client, cost) = slow_login_setup(&db, "slowpoke", PASSWORD);
        let mut server = ServerProcess::start(&db, &["--shutdown-timeout", "10"]);
        let in_flight = actix_web::rt::spawn(login(server.base.clone(), client, "slowpoke"));
        // Well inside the hash the server is computing for that login.
        actix_web::rt::time::sleep((cost / 4).max(Duration::from_millis(150))).await;

        let sent = Instant::now();
        server.terminate();
        let refused = wait_until_refused(server.addr, Duration::from_secs(5)).await;
        let done = in_flight.await.unwrap();
        assert_eq!(
            done.status,
            200,
            "[{label}] the login in flight completes: {}\n{}",
            done.body,
            server.log()
        );
        assert!(
            done.at > sent,
            "[{label}] the login was answered before SIGTERM: the test proves nothing"
        );
        let refused = refused.unwrap_or_else(|| panic!("[{label}] still accepting after SIGTERM"));
        assert!(
            refused < done.at,
            "[{label}] new connections are refused while the login is still in flight"
        );
        let status = server.wait_exit(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "[{label}] exit 0 after finishing: {status:?}\n{}",
            server.log()
        );
        // Finishing one login is quick: the worker notices within its
        // one-second shutdown poll, far inside the 10 s bound.
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "[{label}] stopped {:?} after SIGTERM",
            sent.elapsed()
        );
    })
    .await;
}

#[actix_web::test]
async fn sigterm_stops_within_the_shutdown_timeout_whatever_is_in_flight() {
    authd::resource::install_crypto_provider();
    let db = TestDb::sqlite();
    let (client, cost) = slow_login_setup(&db, "slowpoke", PASSWORD);
    // One hash at a time: four logins need four hashes' time, longer than
    // the one-second bound.
    let mut server = ServerProcess::start(
        &db,
        &["--shutdown-timeout", "1", "--password-concurrency", "1"],
    );
    let logins: Vec<_> = (0..4)
        .map(|_| actix_web::rt::spawn(login(server.base.clone(), client.clone(), "slowpoke")))
        .collect();
    actix_web::rt::time::sleep((cost / 4).max(Duration::from_millis(150))).await;

    let sent = Instant::now();
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(10));
    let took = sent.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 at the bound: {status:?}\n{}",
        server.log()
    );
    // The bound, plus actix's one-second shutdown poll and its short delay
    // before stopping the system.
    assert!(
        took < Duration::from_millis(3000),
        "stopped {took:?} after SIGTERM with a 1 s shutdown timeout"
    );
    let mut cut = 0;
    for login in logins {
        let done = login.await.unwrap();
        assert!(
            matches!(done.status, 0 | 200),
            "a login is answered or cut off, nothing else: {} {}",
            done.status,
            done.body
        );
        cut += usize::from(done.status == 0);
    }
    assert!(
        cut > 0 && cost * 4 > took,
        "logins still running at the bound were cut off ({cut} of 4)"
    );
}
