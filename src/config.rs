//! Every setting: its flag, environment variable and default, validated once
//! at start into [`Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{value_parser, Args};

use crate::db::{Backend, DatabaseUrl};
use crate::keys::SigningAlg;
use crate::password::Cost;
use crate::secret::Secret;

/// Every setting, declared once: clap reads each from its flag or
/// environment variable (`global`: accepted before or after the
/// subcommand, and listed in every `--help`), parses and range-checks it
/// (its errors name the flag), and the groups are the settings the code
/// reads. What no single value can check, [`Settings::validated`] does.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Database: sqlite://PATH, sqlite:PATH, a plain path, or postgres://…
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://authd.db",
        global = true,
        hide_env_values = true,
        value_parser = parse_database_url
    )]
    pub database_url: DatabaseUrl,

    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        env = "AUTHD_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// Serve GET /metrics (Prometheus) on this address, a listener of its
    /// own, to anyone who reaches it, and not on --bind; default: on the
    /// --bind listener, to requests from this host only (loopback, not
    /// forwarded by a proxy).
    #[arg(long, env = "AUTHD_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// Serve the admin HTTP API (/admin/v1) on this address, a listener
    /// of its own, and not on --bind; default: on the --bind listener.
    #[arg(long, env = "AUTHD_ADMIN_BIND", global = true)]
    pub admin_bind: Option<SocketAddr>,

    /// Issuer URL (the `iss` claim and the base of metadata URLs);
    /// default http://<the address actually bound>.
    #[arg(long, env = "AUTHD_ISSUER", global = true, value_parser = check_issuer)]
    pub issuer: Option<String>,

    /// Access-token lifetime in seconds (1 to 86400).
    #[arg(long, env = "AUTHD_ACCESS_TOKEN_TTL", default_value_t = 900, global = true,
          value_parser = value_parser!(i64).range(1..=86_400))]
    pub access_token_ttl: i64,

    /// Refresh-token lifetime in seconds (1 to 31536000).
    #[arg(long, env = "AUTHD_REFRESH_TOKEN_TTL", default_value_t = 1_209_600, global = true,
          value_parser = value_parser!(i64).range(1..=31_536_000))]
    pub refresh_token_ttl: i64,

    /// Seconds resource servers may trust a status list before fetching it
    /// again (1 to 86400): the list's `ttl`, and its `exp` after its `iat`
    /// (docs/interface.md "Token lifecycle").
    #[arg(long, env = "AUTHD_STATUS_LIST_TTL", default_value_t = 60, global = true,
          value_parser = value_parser!(i64).range(1..=86_400))]
    pub status_list_ttl: i64,

    /// Absolute lifetime of a refresh-token family in seconds, counted from
    /// the login: rotation never extends a family past it.
    #[arg(long, env = "AUTHD_REFRESH_MAX_LIFETIME", default_value_t = 2_592_000, global = true,
          value_parser = value_parser!(i64).range(1..=315_360_000))]
    pub refresh_max_lifetime: i64,

    /// Seconds after a refresh token's rotation during which its client
    /// may present it again and get the same successor (and a new access
    /// token) instead of reuse detection, while that successor is unused
    /// (0 = off, the default; at most 3600). See SECURITY.md.
    #[arg(long, env = "AUTHD_REFRESH_RETRY_GRACE", default_value_t = 0, global = true,
          value_parser = value_parser!(i64).range(0..=3600))]
    pub refresh_retry_grace: i64,

    /// Brute-force defences.
    #[command(flatten)]
    pub login: LoginLimits,

    /// Browser session lifetimes.
    #[command(flatten)]
    pub sessions: SessionLimits,

    /// Signing algorithm for new keys.
    #[arg(
        long,
        env = "AUTHD_SIGNING_ALG",
        default_value = "ES256",
        global = true,
        value_enum
    )]
    pub signing_alg: SigningAlg,

    /// JWKS caching and automatic key rotation.
    #[command(flatten)]
    pub key_schedule: KeySchedule,

    /// Argon2id cost.
    #[command(flatten)]
    pub argon2: Argon2Cost,

    /// Password hashes computed at once (0 = number of cores).
    #[arg(
        long,
        env = "AUTHD_PASSWORD_CONCURRENCY",
        default_value_t = 0,
        global = true
    )]
    pub password_concurrency: usize,

    /// Password checks that may wait for a hashing slot; beyond it a login
    /// is answered 503 at once.
    #[arg(
        long,
        env = "AUTHD_PASSWORD_QUEUE",
        default_value_t = 32,
        global = true
    )]
    pub password_queue: usize,

    /// Seconds a client record may be served from memory (0 = off, the
    /// default; at most 300). A secret rotated or a client removed by
    /// another process (the CLI, another instance) takes effect here
    /// within this time; through this server's console, at once.
    #[arg(long, env = "AUTHD_CLIENT_CACHE_TTL", default_value = "0", global = true,
          value_parser = value_parser!(u64).range(0..=300).map(Duration::from_secs))]
    pub client_cache_ttl: Duration,

    /// Database connections in the pool (1 to 1000).
    #[arg(long, env = "AUTHD_DB_POOL_SIZE", default_value_t = 10, global = true,
          value_parser = value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// Seconds a request may wait for a database connection before it is
    /// answered 503 (1 to 60); while the database is known to be
    /// unreachable, requests are answered at once instead.
    #[arg(long, env = "AUTHD_DB_TIMEOUT", default_value = "2", global = true,
          value_parser = value_parser!(u64).range(1..=60).map(Duration::from_secs))]
    pub db_timeout: Duration,

    /// HTTP worker threads (0 = number of cores).
    #[arg(long, env = "AUTHD_WORKERS", default_value_t = 0, global = true)]
    pub workers: usize,

    /// On SIGTERM, seconds to let requests in flight finish before the
    /// server stops anyway (0 to 3600); it accepts no new connection
    /// meanwhile.
    #[arg(long, env = "AUTHD_SHUTDOWN_TIMEOUT", default_value = "10", global = true,
          value_parser = value_parser!(u64).range(0..=3600).map(Duration::from_secs))]
    pub shutdown_timeout: Duration,

    /// Key file holding the key that seals private signing keys in the
    /// database (created on first start, mode 0600); default: next to a
    /// SQLite database (`authd.db.key`), else `authd.key`.
    #[arg(
        long = "key-file",
        value_name = "KEY_FILE",
        env = "AUTHD_KEY_FILE",
        global = true
    )]
    key_file_given: Option<PathBuf>,

    /// The key-encryption key itself (base64 of 32 bytes), instead of a key
    /// file; prefer the environment variable to the flag.
    #[arg(
        long,
        env = "AUTHD_KEY_ENCRYPTION_KEY",
        global = true,
        hide_env_values = true,
        value_parser = parse_kek
    )]
    pub key_encryption_key: Option<Secret>,

    /// Self-service sign-up at /register.
    #[command(flatten)]
    pub registration: Registration,

    /// How many client apps one user may have in the developer console
    /// (/console); creating one more is refused with a message. Clients
    /// made with `authd client add` are not counted.
    #[arg(long, env = "AUTHD_CONSOLE_MAX_CLIENTS", default_value_t = 25, global = true,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub console_max_clients: u32,

    /// Log format and trace export.
    #[command(flatten)]
    pub telemetry: crate::telemetry::TelemetrySettings,
    /// Turn passkeys (WebAuthn) off. They are on when the issuer URL
    /// suits WebAuthn (https on a domain name, or http://localhost); an
    /// --issuer that does not is refused at start unless this is set.
    #[arg(long, env = "AUTHD_NO_PASSKEYS", global = true)]
    pub no_passkeys: bool,

    /// Print exactly one JSON document on stdout (admin commands).
    #[arg(long, global = true)]
    pub json: bool,
}

fn parse_database_url(s: &str) -> Result<DatabaseUrl, String> {
    DatabaseUrl::parse(s).map_err(|e| e.to_string())
}

/// Only wraps: checked in [`Settings::validated`], because clap's error
/// would echo the rejected value, a secret.
fn parse_kek(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

/// The longest `--session-idle`: a session row unused for this long is
/// dead under any setting, so the janitor may delete it without knowing
/// the one in force.
pub const MAX_SESSION_IDLE: i64 = 86_400;

/// Self-service sign-up (`/register`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct Registration {
    /// Let anyone create an account at /register (self-service sign-up;
    /// AUTHD_ALLOW_REGISTRATION=true). Off by default: /register is 404.
    #[arg(
        long = "allow-registration",
        env = "AUTHD_ALLOW_REGISTRATION",
        global = true
    )]
    pub enabled: bool,

    /// Roles every self-registered user gets (space-separated role names;
    /// default: none, so such users get no scopes until an admin grants
    /// them a role).
    #[arg(long = "registration-roles", value_name = "REGISTRATION_ROLES", env = "AUTHD_REGISTRATION_ROLES", global = true,
          value_delimiter = ' ', num_args = 0..)]
    pub roles: Vec<String>,
}

/// How long verifiers may cache the JWKS, and how often keys rotate by
/// themselves (docs/interface.md "Token lifecycle", Keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct KeySchedule {
    /// Seconds verifiers may cache the JWKS: its Cache-Control max-age (0
    /// to 86400). An automatic rotation stages the next key at least this
    /// long before it signs.
    #[arg(long = "jwks-max-age", value_name = "JWKS_MAX_AGE", env = "AUTHD_JWKS_MAX_AGE", default_value_t = 300,
          global = true, value_parser = value_parser!(i64).range(0..=86_400))]
    pub jwks_max_age: i64,

    /// Seconds between automatic rotations of the signing keys (0 = off,
    /// the default); the instances sharing the database agree on each one
    /// through it.
    #[arg(long = "key-rotation-interval", value_name = "KEY_ROTATION_INTERVAL", env = "AUTHD_KEY_ROTATION_INTERVAL",
          default_value_t = 0, global = true, value_parser = value_parser!(i64).range(0..=315_360_000))]
    pub rotation_interval: i64,
}

/// The Argon2id cost of new password hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct Argon2Cost {
    /// Argon2id memory cost in KiB. The server stores the --argon2-* values
    /// in the database at start; admin commands hash with the stored ones
    /// (their own only fill a database that has none yet).
    #[arg(long = "argon2-memory-kib", value_name = "ARGON2_MEMORY_KIB", env = "AUTHD_ARGON2_MEMORY_KIB", default_value_t = 19456,
          global = true, value_parser = value_parser!(u32).range(8..))]
    pub memory_kib: u32,

    /// Argon2id iterations.
    #[arg(long = "argon2-iterations", value_name = "ARGON2_ITERATIONS", env = "AUTHD_ARGON2_ITERATIONS", default_value_t = 2,
          global = true, value_parser = value_parser!(u32).range(1..))]
    pub iterations: u32,

    /// Argon2id parallelism.
    #[arg(long = "argon2-parallelism", value_name = "ARGON2_PARALLELISM", env = "AUTHD_ARGON2_PARALLELISM", default_value_t = 1,
          global = true, value_parser = value_parser!(u32).range(1..=255))]
    pub parallelism: u32,
}

impl Argon2Cost {
    /// As the hasher takes it.
    pub fn cost(&self) -> Cost {
        Cost {
            m_kib: self.memory_kib,
            t: self.iterations,
            p: self.parallelism,
        }
    }
}

/// What the token issuer needs to know, fixed once the server is bound.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// The `iss` claim and the base of every published URL.
    pub issuer: String,
    /// Access-token lifetime (s).
    pub access_ttl: i64,
    /// Refresh-token idle lifetime (s).
    pub refresh_ttl: i64,
    /// How long resource servers may trust a status list (s): its `ttl`,
    /// and its `exp` after its `iat`.
    pub status_list_ttl: i64,
    /// Refresh-family absolute lifetime (s).
    pub refresh_max_lifetime: i64,
    /// How long a rotated refresh token may be retried (s; 0 = off).
    pub refresh_retry_grace: i64,
    /// A browser session's absolute lifetime (s): with the family's, how
    /// long a sign-in can last, and so how long the clients it signed in
    /// to are remembered for its logout.
    pub session_lifetime: i64,
}

impl IssuerSettings {
    /// Until when a sign-in at `auth_time` may still be alive at `now`:
    /// its browser session, or a refresh family started now.
    pub fn sign_in_end(&self, auth_time: i64, now: i64) -> i64 {
        (auth_time + self.session_lifetime).max(now + self.refresh_max_lifetime)
    }
}

/// The brute-force defences' settings (SECURITY.md).
#[derive(Debug, Clone, Args)]
pub struct LoginLimits {
    /// Consecutive failed password checks that lock a username.
    #[arg(long = "login-max-failures", value_name = "LOGIN_MAX_FAILURES", env = "AUTHD_LOGIN_MAX_FAILURES", default_value_t = 10,
          global = true, value_parser = value_parser!(i64).range(1..=1000))]
    pub max_failures: i64,

    /// Length of a username's first lock in seconds; each further lock
    /// without a successful login doubles it, up to one hour.
    #[arg(long = "login-lockout", value_name = "LOGIN_LOCKOUT", env = "AUTHD_LOGIN_LOCKOUT", default_value_t = 60,
          global = true, value_parser = value_parser!(i64).range(1..=3600))]
    pub lockout: i64,

    /// Failed logins one client address may make within the failure window
    /// before it gets 429 (0 = no per-address limit).
    #[arg(
        long = "ip-max-failures",
        env = "AUTHD_IP_MAX_FAILURES",
        default_value_t = 50,
        global = true
    )]
    pub ip_max_failures: u32,

    /// The per-address failure window in seconds.
    #[arg(long = "ip-failure-window", value_name = "IP_FAILURE_WINDOW", env = "AUTHD_IP_FAILURE_WINDOW", default_value_t = 300,
          global = true, value_parser = value_parser!(i64).range(1..=86_400))]
    pub ip_window: i64,

    /// Proxies whose X-Forwarded-For is believed (space-separated IPs):
    /// when the peer is one of them, the client address is the right-most
    /// X-Forwarded-For entry that is not itself a trusted proxy. Default:
    /// none, the header is ignored.
    #[arg(long = "trusted-proxy", env = "AUTHD_TRUSTED_PROXIES", global = true,
          value_delimiter = ' ', num_args = 0..)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// How long a browser session lasts (seconds, checked against the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct SessionLimits {
    /// Seconds a browser session (the login form's) may stay unused
    /// before it ends (1 to 86400).
    #[arg(long = "session-idle", value_name = "SESSION_IDLE", env = "AUTHD_SESSION_IDLE", default_value_t = 1800,
          global = true, value_parser = value_parser!(i64).range(1..=MAX_SESSION_IDLE))]
    pub idle: i64,

    /// Seconds a browser session lasts at most, however active, counted
    /// from the login (1 to 31536000).
    #[arg(long = "session-lifetime", value_name = "SESSION_LIFETIME", env = "AUTHD_SESSION_LIFETIME", default_value_t = 43_200,
          global = true, value_parser = value_parser!(i64).range(1..=31_536_000))]
    pub lifetime: i64,
}

/// Settings whose values are valid one by one but not together.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {0}")]
pub struct ConfigError(String);

/// Checks an issuer: an absolute http(s) URL without query or fragment
/// (RFC 8414 §2). Returns it without a trailing slash.
pub fn check_issuer(issuer: &str) -> Result<String, String> {
    let u = url::Url::parse(issuer).map_err(|e| format!("'{issuer}' is not a URL: {e}"))?;
    if u.scheme() != "https" && u.scheme() != "http" {
        return Err(format!("'{issuer}' must be an http or https URL"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!("'{issuer}' must not have a query or fragment"));
    }
    Ok(issuer.trim_end_matches('/').to_string())
}

impl Settings {
    /// Opens the vault for this database's signing keys (blocking).
    pub fn key_vault(
        &self,
        conn: &mut crate::db::AnyConnection,
    ) -> Result<crate::keys::KeyVault, crate::keys::KeyError> {
        crate::keys::open_vault(
            conn,
            self.key_encryption_key.as_ref().map(|s| s.expose()),
            &self.key_file(),
        )
    }

    /// Where the key-encryption key lives: `--key-file`, else next to a
    /// SQLite database, else `authd.key`.
    pub fn key_file(&self) -> PathBuf {
        self.key_file_given
            .clone()
            .unwrap_or_else(|| match self.database_url.backend() {
                Backend::Sqlite => format!("{}.key", self.database_url.as_str()).into(),
                Backend::Postgres => "authd.key".into(),
            })
    }

    /// The issuer settings once the issuer URL is known.
    pub fn issuer_settings(&self, issuer: String) -> IssuerSettings {
        IssuerSettings {
            issuer,
            access_ttl: self.access_token_ttl,
            refresh_ttl: self.refresh_token_ttl,
            status_list_ttl: self.status_list_ttl,
            refresh_max_lifetime: self.refresh_max_lifetime,
            refresh_retry_grace: self.refresh_retry_grace,
            session_lifetime: self.sessions.lifetime,
        }
    }

    /// Checks what clap cannot check one value at a time: the Argon2
    /// parameters together, the key-encryption key (never echoed), and
    /// the registration roles (without repeats).
    pub fn validated(mut self) -> Result<Settings, ConfigError> {
        let cost = self.argon2.cost();
        argon2::Params::new(cost.m_kib, cost.t, cost.p, None).map_err(|e| {
            ConfigError(format!(
                "--argon2-* (AUTHD_ARGON2_*): invalid Argon2 parameters: {e}"
            ))
        })?;
        if let Some(kek) = &self.key_encryption_key {
            crate::keys::KeyVault::from_base64(kek.expose()).map_err(|e| {
                ConfigError(format!(
                    "--key-encryption-key (AUTHD_KEY_ENCRYPTION_KEY): {e}"
                ))
            })?;
        }
        self.registration.roles = registration_roles(&self.registration.roles)?;
        Ok(self)
    }
}

/// The registration roles without repeats (an empty entry from a doubled
/// space is skipped). Each must be a role name: no whitespace or control
/// characters (whether the role exists is checked at each sign-up, since
/// an admin may create it after the server starts).
fn registration_roles(given: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut roles: Vec<String> = Vec::new();
    for role in given.iter().filter(|r| !r.is_empty()) {
        if role.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError(format!(
                "--registration-roles (AUTHD_REGISTRATION_ROLES): '{}' is not a role name \
                 (separate names with single spaces)",
                role.escape_debug()
            )));
        }
        if !roles.contains(role) {
            roles.push(role.clone());
        }
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        g: Settings,
    }

    fn settings(args: &[&str]) -> Result<Settings, String> {
        let mut argv = vec!["t"];
        argv.extend_from_slice(args);
        let parsed = T::try_parse_from(argv).map_err(|e| e.to_string())?;
        parsed.g.validated().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_valid() {
        let s = settings(&["--database-url", "sqlite://x.db"]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.access_token_ttl, 900);
        assert_eq!(s.signing_alg, SigningAlg::Es256);
        assert_eq!(s.db_timeout.as_secs(), 2);
        assert_eq!(s.shutdown_timeout.as_secs(), 10);
        assert_eq!(
            s.sessions,
            SessionLimits {
                idle: 1800,
                lifetime: 43_200
            }
        );
        assert_eq!(s.metrics_bind, None);
        assert_eq!(s.admin_bind, None);
        assert_eq!(s.registration, Registration::default());
        assert_eq!(s.console_max_clients, 25);
        assert_eq!(s.refresh_retry_grace, 0);
        assert_eq!(
            s.key_schedule,
            KeySchedule {
                jwks_max_age: 300,
                rotation_interval: 0
            }
        );
    }

    #[test]
    fn key_schedule_is_read_and_range_checked() {
        let s = settings(&["--jwks-max-age", "30", "--key-rotation-interval", "86400"]).unwrap();
        assert_eq!(s.key_schedule.jwks_max_age, 30);
        assert_eq!(s.key_schedule.rotation_interval, 86_400);
        let e = settings(&["--jwks-max-age", "86401"]).unwrap_err();
        assert!(e.contains("--jwks-max-age"), "{e}");
        assert!(settings(&["--key-rotation-interval", "-1"]).is_err());
    }

    #[test]
    fn registration_is_opt_in_with_its_roles() {
        let s = settings(&[
            "--allow-registration",
            "--registration-roles",
            "reader  writer reader",
        ])
        .unwrap();
        assert!(s.registration.enabled);
        assert_eq!(s.registration.roles, ["reader", "writer"]);
        let e = settings(&["--registration-roles", "a\tb"]).unwrap_err();
        assert!(e.contains("--registration-roles"), "{e}");
    }

    #[test]
    fn errors_name_the_setting() {
        let e = settings(&["--bind", "localhost"]).unwrap_err();
        assert!(e.contains("--bind"), "{e}");
        let e = settings(&["--signing-alg", "HS256"]).unwrap_err();
        assert!(e.contains("--signing-alg") && e.contains("ES256"), "{e}");
        assert!(settings(&["--db-pool-size", "0"]).is_err());
        assert!(settings(&["--refresh-token-ttl", "31536001"]).is_err());
        assert_eq!(
            settings(&["--refresh-retry-grace", "30"])
                .unwrap()
                .refresh_retry_grace,
            30
        );
        assert!(settings(&["--refresh-retry-grace", "-1"]).is_err());
        assert!(settings(&["--refresh-retry-grace", "3601"]).is_err());
        assert!(settings(&["--access-token-ttl", "0"]).is_err());
        assert!(settings(&["--issuer", "ftp://x"]).is_err());
        assert!(settings(&["--issuer", "https://x/?a=b"]).is_err());
        assert!(settings(&["--argon2-memory-kib", "1"]).is_err());
        assert!(settings(&["--db-timeout", "0"]).is_err());
        assert!(settings(&["--shutdown-timeout", "3601"]).is_err());
        assert!(settings(&["--session-idle", "0"]).is_err());
        assert!(settings(&["--session-idle", "86401"]).is_err());
        assert!(settings(&["--session-lifetime", "0"]).is_err());
        let e = settings(&["--metrics-bind", "localhost"]).unwrap_err();
        assert!(e.contains("--metrics-bind"), "{e}");
    }

    #[test]
    fn issuer_loses_trailing_slash() {
        assert_eq!(
            check_issuer("https://id.example.com/").unwrap(),
            "https://id.example.com"
        );
    }
}
