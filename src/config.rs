//! Every setting: its flag, environment variable and default, validated once
//! at start into [`Settings`].

use std::net::SocketAddr;

use clap::Args;

use crate::db::DatabaseUrl;
use crate::keys::SigningAlg;
use crate::password::Cost;

/// Options shared by every command (`global`: accepted before or after the
/// subcommand, and listed in every `--help`).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database: sqlite://PATH, sqlite:PATH, a plain path, or postgres://…
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://authd.db",
        global = true
    )]
    pub database_url: String,

    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        env = "AUTHD_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// Issuer URL (the `iss` claim and the base of metadata URLs);
    /// default http://<the address actually bound>.
    #[arg(long, env = "AUTHD_ISSUER", global = true)]
    pub issuer: Option<String>,

    /// Access-token lifetime in seconds.
    #[arg(
        long,
        env = "AUTHD_ACCESS_TOKEN_TTL",
        default_value_t = 900,
        global = true
    )]
    pub access_token_ttl: i64,

    /// Refresh-token lifetime in seconds.
    #[arg(
        long,
        env = "AUTHD_REFRESH_TOKEN_TTL",
        default_value_t = 1_209_600,
        global = true
    )]
    pub refresh_token_ttl: i64,

    /// Signing algorithm for new keys: ES256, RS256 or EdDSA.
    #[arg(
        long,
        env = "AUTHD_SIGNING_ALG",
        default_value = "ES256",
        global = true
    )]
    pub signing_alg: String,

    /// Argon2id memory cost in KiB.
    #[arg(
        long,
        env = "AUTHD_ARGON2_MEMORY_KIB",
        default_value_t = 19456,
        global = true
    )]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations.
    #[arg(
        long,
        env = "AUTHD_ARGON2_ITERATIONS",
        default_value_t = 2,
        global = true
    )]
    pub argon2_iterations: u32,

    /// Argon2id parallelism.
    #[arg(
        long,
        env = "AUTHD_ARGON2_PARALLELISM",
        default_value_t = 1,
        global = true
    )]
    pub argon2_parallelism: u32,

    /// Password hashes computed at once (0 = number of cores).
    #[arg(
        long,
        env = "AUTHD_PASSWORD_CONCURRENCY",
        default_value_t = 0,
        global = true
    )]
    pub password_concurrency: usize,

    /// Database connections in the pool.
    #[arg(long, env = "AUTHD_DB_POOL_SIZE", default_value_t = 10, global = true)]
    pub db_pool_size: u32,

    /// HTTP worker threads (0 = number of cores).
    #[arg(long, env = "AUTHD_WORKERS", default_value_t = 0, global = true)]
    pub workers: usize,

    /// Key file holding the key that seals private signing keys in the
    /// database (created on first start, mode 0600); default: next to a
    /// SQLite database (`authd.db.key`), else `authd.key`.
    #[arg(long, env = "AUTHD_KEY_FILE", global = true)]
    pub key_file: Option<std::path::PathBuf>,

    /// The key-encryption key itself (base64 of 32 bytes), instead of a key
    /// file; prefer the environment variable to the flag.
    #[arg(
        long,
        env = "AUTHD_KEY_ENCRYPTION_KEY",
        global = true,
        hide_env_values = true
    )]
    pub key_encryption_key: Option<String>,

    /// Print exactly one JSON document on stdout (admin commands).
    #[arg(long, global = true)]
    pub json: bool,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the data lives.
    pub database_url: DatabaseUrl,
    /// Listen address (as given; port 0 allowed).
    pub bind: SocketAddr,
    /// Issuer override; `None` derives it from the bound address.
    pub issuer: Option<String>,
    /// Access-token lifetime (s).
    pub access_token_ttl: i64,
    /// Refresh-token lifetime (s).
    pub refresh_token_ttl: i64,
    /// Algorithm for new signing keys.
    pub signing_alg: SigningAlg,
    /// Argon2id cost.
    pub argon2: Cost,
    /// Concurrent password hashes (0 = cores).
    pub password_concurrency: usize,
    /// Pool size.
    pub db_pool_size: u32,
    /// HTTP workers (0 = cores).
    pub workers: usize,
    /// Where the key-encryption key lives.
    pub key_file: std::path::PathBuf,
    /// The key-encryption key given directly (base64), if any.
    pub key_encryption_key: Option<crate::secret::Secret>,
}

/// A setting with an invalid value; the message names the flag and variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {flag} ({env}): {reason}")]
pub struct ConfigError {
    flag: &'static str,
    env: &'static str,
    reason: String,
}

fn bad(flag: &'static str, env: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        env,
        reason: reason.into(),
    }
}

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
            &self.key_file,
        )
    }

    /// Validates the raw arguments.
    pub fn from_args(a: &GlobalArgs) -> Result<Settings, ConfigError> {
        let database_url = DatabaseUrl::parse(&a.database_url)
            .map_err(|e| bad("--database-url", "DATABASE_URL", e.to_string()))?;
        let bind: SocketAddr = a.bind.parse().map_err(|_| {
            bad(
                "--bind",
                "AUTHD_BIND",
                format!("'{}' is not HOST:PORT with an IP address", a.bind),
            )
        })?;
        let issuer = a
            .issuer
            .as_deref()
            .map(check_issuer)
            .transpose()
            .map_err(|e| bad("--issuer", "AUTHD_ISSUER", e))?;
        // Bounds keep arithmetic on timestamps far from overflow and catch
        // typos such as a TTL given in milliseconds.
        if !(1..=86_400).contains(&a.access_token_ttl) {
            return Err(bad(
                "--access-token-ttl",
                "AUTHD_ACCESS_TOKEN_TTL",
                "must be between 1 and 86400 seconds",
            ));
        }
        if !(1..=31_536_000).contains(&a.refresh_token_ttl) {
            return Err(bad(
                "--refresh-token-ttl",
                "AUTHD_REFRESH_TOKEN_TTL",
                "must be between 1 and 31536000 seconds",
            ));
        }
        let signing_alg = a
            .signing_alg
            .parse()
            .map_err(|e: String| bad("--signing-alg", "AUTHD_SIGNING_ALG", e))?;
        let argon2 = Cost {
            m_kib: a.argon2_memory_kib,
            t: a.argon2_iterations,
            p: a.argon2_parallelism,
        };
        argon2::Params::new(argon2.m_kib, argon2.t, argon2.p, None).map_err(|e| {
            bad(
                "--argon2-*",
                "AUTHD_ARGON2_*",
                format!("invalid Argon2 parameters: {e}"),
            )
        })?;
        if a.db_pool_size == 0 || a.db_pool_size > 1000 {
            return Err(bad(
                "--db-pool-size",
                "AUTHD_DB_POOL_SIZE",
                "must be between 1 and 1000",
            ));
        }
        let key_file = match &a.key_file {
            Some(path) => path.clone(),
            None => match database_url.backend() {
                crate::db::Backend::Sqlite => format!("{}.key", database_url.as_str()).into(),
                crate::db::Backend::Postgres => "authd.key".into(),
            },
        };
        let key_encryption_key = match a.key_encryption_key.as_deref() {
            None => None,
            Some(k) => {
                crate::keys::KeyVault::from_base64(k).map_err(|e| {
                    bad(
                        "--key-encryption-key",
                        "AUTHD_KEY_ENCRYPTION_KEY",
                        e.to_string(),
                    )
                })?;
                Some(crate::secret::Secret::new(k))
            }
        };
        Ok(Settings {
            key_file,
            key_encryption_key,
            database_url,
            bind,
            issuer,
            access_token_ttl: a.access_token_ttl,
            refresh_token_ttl: a.refresh_token_ttl,
            signing_alg,
            argon2,
            password_concurrency: a.password_concurrency,
            db_pool_size: a.db_pool_size,
            workers: a.workers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        g: GlobalArgs,
    }

    fn settings(args: &[&str]) -> Result<Settings, ConfigError> {
        let mut argv = vec!["t"];
        argv.extend_from_slice(args);
        Settings::from_args(&T::parse_from(argv).g)
    }

    #[test]
    fn defaults_are_valid() {
        let s = settings(&["--database-url", "sqlite://x.db"]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.access_token_ttl, 900);
        assert_eq!(s.signing_alg, SigningAlg::Es256);
    }

    #[test]
    fn errors_name_the_setting() {
        let e = settings(&["--bind", "localhost"]).unwrap_err().to_string();
        assert!(e.contains("--bind") && e.contains("AUTHD_BIND"), "{e}");
        let e = settings(&["--signing-alg", "HS256"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("AUTHD_SIGNING_ALG"), "{e}");
        assert!(settings(&["--access-token-ttl", "0"]).is_err());
        assert!(settings(&["--issuer", "ftp://x"]).is_err());
        assert!(settings(&["--issuer", "https://x/?a=b"]).is_err());
        assert!(settings(&["--argon2-memory-kib", "1"]).is_err());
    }

    #[test]
    fn issuer_loses_trailing_slash() {
        assert_eq!(
            check_issuer("https://id.example.com/").unwrap(),
            "https://id.example.com"
        );
    }
}
