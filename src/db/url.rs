//! Database URL parsing: the backend comes from the scheme, never a guess.

use std::fmt;

use super::DbError;

/// The two supported backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a file on disk.
    Sqlite,
    /// PostgreSQL, a server.
    Postgres,
}

/// A validated database URL in the form its driver expects.
#[derive(Clone)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What the driver receives.
    raw: String,
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, a plain path (SQLite), and
    /// `postgres://…` / `postgresql://…`. Any other scheme is an error.
    pub fn parse(input: &str) -> Result<DatabaseUrl, DbError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(DbError::BadUrl("the database URL is empty".into()));
        }
        if input.starts_with("postgres://") || input.starts_with("postgresql://") {
            return Ok(DatabaseUrl {
                backend: Backend::Postgres,
                raw: input.to_string(),
            });
        }
        let path = if let Some(rest) = input.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = input.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = input.split_once("://") {
            return Err(DbError::BadUrl(format!(
                "unsupported database URL scheme '{scheme}://' (use sqlite://PATH or postgres://…)"
            )));
        } else {
            input
        };
        if path.is_empty() {
            return Err(DbError::BadUrl(
                "the SQLite URL names no file (use sqlite://PATH)".into(),
            ));
        }
        // Hand SQLite a plain file name: the `file:` URI form would treat
        // `?` and `#` in a path as URI syntax.
        Ok(DatabaseUrl {
            backend: Backend::Sqlite,
            raw: path.to_string(),
        })
    }

    /// Which backend this URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The string the driver receives.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// For PostgreSQL, the URL a thread's own connection uses: libpq's
    /// `connect_timeout` set to `timeout` (whole seconds, at least 2, as
    /// libpq takes it), and TCP keepalives every few seconds once idle for
    /// 10 s, so that a peer gone silent fails the connection in about 20 s
    /// instead of the OS's hours. A setting the URL makes itself stays.
    /// SQLite's URL is unchanged.
    pub fn for_own_thread(&self, timeout: std::time::Duration) -> DatabaseUrl {
        if self.backend != Backend::Postgres {
            return self.clone();
        }
        let connect = timeout.as_secs().max(2).to_string();
        let mut raw = self.raw.clone();
        for (key, value) in [
            ("connect_timeout", connect.as_str()),
            ("keepalives_idle", "10"),
            ("keepalives_interval", "5"),
            ("keepalives_count", "2"),
        ] {
            if raw.contains(&format!("{key}=")) {
                continue;
            }
            let separator = if raw.contains('?') { '&' } else { '?' };
            raw = format!("{raw}{separator}{key}={value}");
        }
        DatabaseUrl {
            backend: self.backend,
            raw,
        }
    }

    /// The URL with any password replaced by `***`, for messages and logs.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.raw),
            Backend::Postgres => match url::Url::parse(&self.raw) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    // A password may also travel as a query parameter.
                    let pairs: Vec<(String, String)> = u
                        .query_pairs()
                        .map(|(k, v)| {
                            let v = if k.eq_ignore_ascii_case("password") {
                                "***".to_string()
                            } else {
                                v.into_owned()
                            };
                            (k.into_owned(), v)
                        })
                        .collect();
                    if !pairs.is_empty() {
                        u.query_pairs_mut().clear().extend_pairs(pairs);
                    }
                    u.to_string()
                }
                Err(_) => "postgres://(unparseable URL)".to_string(),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threads_url_gets_timeouts_unless_set() {
        let t = std::time::Duration::from_secs(1);
        let with = |u: &str| DatabaseUrl::parse(u).unwrap().for_own_thread(t);
        let added = "connect_timeout=2&keepalives_idle=10&keepalives_interval=5&keepalives_count=2";
        assert_eq!(
            with("postgres://h/db").as_str(),
            format!("postgres://h/db?{added}")
        );
        assert_eq!(
            with("postgres://h/db?sslmode=disable").as_str(),
            format!("postgres://h/db?sslmode=disable&{added}")
        );
        assert_eq!(
            with("postgres://h/db?connect_timeout=9&keepalives_idle=60").as_str(),
            "postgres://h/db?connect_timeout=9&keepalives_idle=60\
             &keepalives_interval=5&keepalives_count=2"
        );
        assert_eq!(with("sqlite://a.db").as_str(), "a.db");
    }

    #[test]
    fn sqlite_forms() {
        for (input, path) in [
            ("sqlite://authd.db", "authd.db"),
            ("sqlite:///var/lib/a.db", "/var/lib/a.db"),
            ("sqlite:x.db", "x.db"),
            ("plain.db", "plain.db"),
        ] {
            let u = DatabaseUrl::parse(input).unwrap();
            assert_eq!(u.backend(), Backend::Sqlite);
            assert_eq!(u.as_str(), path);
        }
    }

    #[test]
    fn postgres_forms() {
        for input in ["postgres://u@h/db", "postgresql://u@h:5/db"] {
            assert_eq!(
                DatabaseUrl::parse(input).unwrap().backend(),
                Backend::Postgres
            );
        }
    }

    #[test]
    fn unknown_scheme_is_an_error() {
        let err = DatabaseUrl::parse("mysql://root@localhost/x").unwrap_err();
        assert!(err.to_string().contains("mysql://"));
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn redaction_hides_passwords() {
        let u =
            DatabaseUrl::parse("postgres://bob:hunter2@db/x?password=p2&sslmode=require").unwrap();
        let shown = u.redacted();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("p2&"), "{shown}");
        assert!(shown.contains("sslmode=require"));
        assert!(!format!("{u:?}").contains("hunter2"));
    }
}
