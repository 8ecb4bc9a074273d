//! Test helpers: a fresh database per test on every backend, the real server
//! on port 0, and the real binary for CLI tests.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use authd::app::Application;
use authd::cli::Cli;
use authd::clock::Clock;
use authd::config::Settings;
use authd::password::Cost;
use clap::{CommandFactory, FromArgMatches};
use diesel::{Connection, PgConnection, RunQueryDsl};

/// A database made for one test; dropped (PostgreSQL) or deleted with its
/// folder (SQLite) afterwards.
pub struct TestDb {
    url: String,
    label: &'static str,
    admin_url: Option<String>,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new SQLite file in a temporary folder.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("authd.db");
        TestDb {
            url: format!("sqlite://{}", path.display()),
            label: "sqlite",
            admin_url: None,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    /// A new PostgreSQL database on the server `admin_url` points to.
    pub fn postgres(admin_url: &str) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = format!("authd_test_{}", authd::secret::random_id());
        let mut conn = PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("AUTHD_TEST_POSTGRES_URL does not answer: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create test database");
        let mut url = url::Url::parse(admin_url).expect("AUTHD_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        TestDb {
            url: url.to_string(),
            label: "postgres",
            admin_url: Some(admin_url.to_string()),
            pg_name: Some(name),
            _dir: Some(dir),
        }
    }

    /// The server a PostgreSQL database was made on.
    pub fn admin_url(&self) -> Option<&str> {
        self.admin_url.as_deref()
    }

    /// The URL to give authd.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// "sqlite" or "postgres", for assertion messages.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The SQLite file, if this is SQLite.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        (self.label == "sqlite").then(|| self.dir().join("authd.db"))
    }

    /// This test's own folder.
    pub fn dir(&self) -> &std::path::Path {
        self._dir
            .as_ref()
            .expect("every TestDb has a folder")
            .path()
    }

    /// The key file sealing this database's signing keys (the SQLite
    /// default location; PostgreSQL's is set explicitly, away from the
    /// working directory).
    pub fn key_file(&self) -> std::path::PathBuf {
        self.dir().join("authd.db.key")
    }

    /// Makes authd (and the fixtures) connect as `user` from now on.
    pub fn connect_as(&mut self, user: &str) {
        let mut url = url::Url::parse(&self.url).expect("a PostgreSQL URL");
        url.set_username(user).expect("a URL with a host");
        self.url = url.to_string();
    }

    /// Drops a PostgreSQL database now (the server then cannot reach it).
    pub fn drop_now(&mut self) {
        if let (Some(admin), Some(name)) = (&self.admin_url, self.pg_name.take()) {
            if let Ok(mut conn) = PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// How to run what was skipped.
const POSTGRES_HINT: &str =
    "set AUTHD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server to test against, from AUTHD_TEST_POSTGRES_URL.
/// Under CI=true it is required.
fn postgres_admin_url() -> Option<String> {
    match std::env::var("AUTHD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but AUTHD_TEST_POSTGRES_URL is not set: PostgreSQL tests must run")
        }
        _ => None,
    }
}

/// Tells the developer on stderr, past libtest's capture (which only
/// takes print! and eprint!), so that a skip never looks like a pass.
fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// [`on_every_backend`] for a test that does not wait on anything.
pub fn every_backend(test: impl Fn(TestDb)) {
    for db in backends() {
        test(db);
    }
}

/// Runs `test` once on each backend [`backends`] gives, each with a fresh
/// database of its own: the tests' one way of covering SQLite and
/// PostgreSQL, instead of a loop written out in each.
pub async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    gather_on_every_backend(test).await;
}

/// [`on_every_backend`] for a test that collects what each backend
/// found and judges it all at the end: each run's result, in order.
pub async fn gather_on_every_backend<T, F, Fut>(test: F) -> Vec<T>
where
    F: Fn(TestDb) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut found = Vec::new();
    for db in backends() {
        found.push(test(db).await);
    }
    found
}

/// One fresh database per backend under test: SQLite always, PostgreSQL when
/// AUTHD_TEST_POSTGRES_URL is set (saying once when it is not). Under
/// CI=true PostgreSQL is required.
fn backends() -> Vec<TestDb> {
    static SKIPPED: std::sync::Once = std::sync::Once::new();
    authd::resource::install_crypto_provider();
    let mut dbs = vec![TestDb::sqlite()];
    match postgres_admin_url() {
        Some(url) => dbs.push(TestDb::postgres(&url)),
        None => SKIPPED.call_once(|| {
            say(&format!(
                "PostgreSQL tests skipped: {POSTGRES_HINT} to run them"
            ))
        }),
    }
    dbs
}

/// A fresh PostgreSQL database for a test that only makes sense there, or
/// `None` after saying on stderr that `test` was skipped.
pub fn postgres_only(test: &str) -> Option<TestDb> {
    authd::resource::install_crypto_provider();
    match postgres_admin_url() {
        Some(url) => Some(TestDb::postgres(&url)),
        None => {
            say(&format!(
                "PostgreSQL-only test {test} skipped: {POSTGRES_HINT} to run it"
            ));
            None
        }
    }
}

/// Argon2 parameters for every test: tests measure behaviour, not cost.
pub const CHEAP_ARGON2: Cost = Cost {
    m_kib: 64,
    t: 1,
    p: 1,
};

/// [`CHEAP_ARGON2`] as (flag, environment variable, value).
fn cheap_argon2() -> [(&'static str, &'static str, String); 3] {
    let c = CHEAP_ARGON2;
    [
        ("--argon2-memory-kib", "AUTHD_ARGON2_MEMORY_KIB", c.m_kib),
        ("--argon2-iterations", "AUTHD_ARGON2_ITERATIONS", c.t),
        ("--argon2-parallelism", "AUTHD_ARGON2_PARALLELISM", c.p),
    ]
    .map(|(flag, var, v)| (flag, var, v.to_string()))
}

/// [`CHEAP_ARGON2`] as command-line flags.
pub fn cheap_argon2_args() -> Vec<String> {
    cheap_argon2()
        .into_iter()
        .flat_map(|(flag, _, v)| [flag.to_string(), v])
        .collect()
}

/// [`CHEAP_ARGON2`] as environment variables.
pub fn cheap_argon2_env() -> Vec<(&'static str, String)> {
    cheap_argon2()
        .into_iter()
        .map(|(_, var, v)| (var, v))
        .collect()
}

/// Settings as the binary would parse them, with [`CHEAP_ARGON2`] and a
/// free port.
pub fn settings(db: &TestDb, extra: &[&str]) -> Settings {
    settings_bound(db, "127.0.0.1:0", extra)
}

/// [`settings`] listening on `bind`.
pub fn settings_bound(db: &TestDb, bind: &str, extra: &[&str]) -> Settings {
    let key_file = db.key_file().display().to_string();
    let argon2 = cheap_argon2_args();
    let mut argv = vec![
        "authd",
        "--key-file",
        key_file.as_str(),
        "--database-url",
        db.url(),
        "--bind",
        bind,
    ];
    argv.extend(argon2.iter().map(String::as_str));
    argv.extend_from_slice(extra);
    // Only argv counts: clap's `env` lookups are switched off rather than
    // the variables removed, since changing the process environment races
    // other test threads (and C code such as libpq reading it).
    let matches = Cli::command()
        .mut_args(|arg| arg.env(None))
        .try_get_matches_from(argv)
        .expect("test arguments parse");
    let cli = Cli::from_arg_matches(&matches).expect("test arguments parse");
    cli.global.validated().expect("test settings are valid")
}

/// Whether a variable could change how authd behaves: its settings, and
/// the harness's own AUTHD_TEST_* variables, which are not the binary's.
fn is_ambient_setting(name: &OsStr) -> bool {
    name == "DATABASE_URL" || name.as_encoded_bytes().starts_with(b"AUTHD_")
}

/// `program` without any AUTHD_* variable or DATABASE_URL in its
/// environment (PATH and the rest are kept), so that a developer's
/// exported settings cannot change what a test sees.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if is_ambient_setting(&name) {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The real `authd` binary, with a clean environment (see [`command`]).
pub fn authd_command() -> Command {
    command(env!("CARGO_BIN_EXE_authd"))
}

/// A running server.
pub struct TestApp {
    /// Base URL, e.g. http://127.0.0.1:PORT
    pub base: String,
    /// The issuer in force.
    pub issuer: String,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// The server's clock: a manual one moves only when the test says.
    pub clock: Clock,
    /// The server's password hasher (its counters).
    pub passwords: authd::password::Passwords,
    /// Base URL of the metrics' own listener (`--metrics-bind`), if any.
    pub metrics_base: Option<String>,
    /// Base URL of the admin API's own listener (`--admin-bind`), if any.
    pub admin_base: Option<String>,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    /// Starts the real server against `db`.
    pub async fn spawn(db: &TestDb) -> TestApp {
        TestApp::spawn_with(db, &[]).await
    }

    /// Starts the real server with extra command-line settings.
    pub async fn spawn_with(db: &TestDb, extra: &[&str]) -> TestApp {
        TestApp::spawn_clocked(db, extra, Clock::system()).await
    }

    /// Starts the real server on `clock` (e.g. `Clock::manual_from_now()`,
    /// so that expiry is reached by moving the clock, not by sleeping).
    pub async fn spawn_clocked(db: &TestDb, extra: &[&str], clock: Clock) -> TestApp {
        TestApp::spawn_settings(db, settings(db, extra), clock, "127.0.0.1").await
    }

    /// Starts the real server with the issuer `http://localhost:PORT`, on
    /// a free port of 127.0.0.1 (chosen first: the issuer names it), so
    /// that passkeys (WebAuthn) are on: browsers allow them on
    /// `localhost` without TLS. Its `base` is that issuer.
    pub async fn spawn_on_localhost(db: &TestDb, extra: &[&str], clock: Clock) -> TestApp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let issuer = format!("http://localhost:{port}");
        let mut all = vec!["--issuer", issuer.as_str()];
        all.extend_from_slice(extra);
        let bind = format!("127.0.0.1:{port}");
        let settings = settings_bound(db, &bind, &all);
        TestApp::spawn_settings(db, settings, clock, "localhost").await
    }

    async fn spawn_settings(db: &TestDb, settings: Settings, clock: Clock, host: &str) -> TestApp {
        authd::resource::install_crypto_provider();
        let app = Application::build_with_clock(settings, clock.clone())
            .await
            .unwrap_or_else(|e| panic!("[{}] server starts: {e}", db.label()));
        let base = format!("http://{host}:{}", app.port());
        let issuer = app.issuer().to_string();
        let handle = app.handle();
        let passwords = app.passwords();
        let metrics_base = app.metrics_addr().map(|a| format!("http://{a}"));
        let admin_base = app.admin_addr().map(|a| format!("http://{a}"));
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            base,
            issuer,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            clock,
            passwords,
            metrics_base,
            admin_base,
            handle,
        }
    }

    /// Full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The status of a GET.
    pub async fn status(&self, path: &str) -> u16 {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// GETs a path and parses the JSON answer.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Runs the real `authd` binary against `db` with `args`, feeding `stdin`.
pub fn authd(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    authd_logging(db, args, stdin, "warn")
}

/// [`authd`] with `RUST_LOG=rust_log`: its log is on stderr.
pub fn authd_logging(db: &TestDb, args: &[&str], stdin: Option<&str>, rust_log: &str) -> Output {
    authd_with_env(db, args, stdin, rust_log, &[])
}

/// [`authd_logging`] with more variables in its environment (e.g. where
/// `authd apply` finds a client's secret).
pub fn authd_with_env(
    db: &TestDb,
    args: &[&str],
    stdin: Option<&str>,
    rust_log: &str,
    envs: &[(&str, &str)],
) -> Output {
    let mut child = authd_command()
        .args(args)
        .envs(envs.iter().copied())
        .env("DATABASE_URL", db.url())
        .env("AUTHD_KEY_FILE", db.key_file())
        .envs(cheap_argon2_env())
        .env("RUST_LOG", rust_log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("authd binary runs");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(input) = stdin {
            // The command may fail and exit before it reads its input
            // (e.g. a duplicate user is refused before the password).
            match pipe.write_all(input.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.expect("write stdin"),
            }
        }
    }
    child.wait_with_output().expect("authd finishes")
}

/// Runs `authd ARGS --json`, asserts success, and parses stdout.
pub fn authd_json(db: &TestDb, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = authd(db, &all, stdin);
    assert!(
        out.status.success(),
        "[{}] authd {:?} failed: {}",
        db.label(),
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "[{}] authd {:?} printed no single JSON document ({e}): {}",
            db.label(),
            args,
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `authd ARGS`, asserts failure, and returns stderr.
pub fn authd_fails(db: &TestDb, args: &[&str], stdin: Option<&str>) -> String {
    let out = authd(db, args, stdin);
    assert!(
        !out.status.success(),
        "[{}] authd {:?} should fail but printed {}",
        db.label(),
        args,
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the binary with only `envs` set (no test database settings),
/// asserts that it fails, and returns stderr.
pub fn bare_authd_fails(args: &[&str], envs: &[(&str, &OsStr)]) -> String {
    let mut cmd = authd_command();
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("authd binary runs");
    assert!(!out.status.success(), "authd {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// PostgreSQL: returns once some session of `db` waits for a lock, which
/// the test knows can only be `busy`'s (named `what` in failures); fails
/// if `busy` finishes first, or after 60 s.
pub fn wait_until_blocked<T>(db: &TestDb, busy: &std::thread::JoinHandle<T>, what: &str) {
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let waiting = "SELECT count(*) AS n FROM pg_stat_activity \
        WHERE datname = current_database() AND wait_event_type = 'Lock'";
    // Asked on a connection of its own: in a transaction the view is a
    // snapshot taken once.
    let mut watcher = PgConnection::establish(db.url()).expect("PostgreSQL answers");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let w: Waiting = diesel::sql_query(waiting)
            .get_result(&mut watcher)
            .expect("pg_stat_activity");
        if w.n > 0 {
            return;
        }
        assert!(
            !busy.is_finished(),
            "{what} finished without waiting for the lock"
        );
        assert!(std::time::Instant::now() < deadline, "{what} never waited");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
