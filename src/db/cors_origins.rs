//! The origins CORS allows (`crate::oauth::cors`, docs/interface.md
//! "OpenID Connect", CORS): those of the redirect URIs registered for
//! some client, read from the database and kept briefly.
//!
//! A reading serves until it is older than [`ORIGINS_TTL`] or a client
//! changed through this server since ([`ClientCache::forget`] bumps the
//! epoch it follows, as it does for the client cache's own records). A
//! change made by the CLI or another instance, which cannot tell this
//! server, takes effect here within [`ORIGINS_TTL`].

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use url::Url;

use crate::db::client_cache::{ClientCache, Epoch};
use crate::db::{clients, Db, DbError};

/// How long a reading of the allowed origins serves: the longest a client
/// removed by the CLI (another process, which cannot tell this server)
/// keeps its origin here.
pub const ORIGINS_TTL: Duration = Duration::from_secs(3);

/// The allowed origins, read from the database at most every
/// [`ORIGINS_TTL`]; cheap to clone.
#[derive(Clone)]
pub struct Origins {
    clients: ClientCache,
    current: Arc<RwLock<Option<Reading>>>,
    /// Held by the one request that reads the database when the reading
    /// is stale, so that a burst of requests makes one query.
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

struct Reading {
    origins: Arc<HashSet<String>>,
    until: Instant,
    /// The client cache's epoch when the reading began: a change through
    /// this server since makes it stale.
    epoch: Epoch,
}

impl Origins {
    /// Origins that follow the changes `clients` is told of.
    pub fn new(clients: ClientCache) -> Origins {
        Origins {
            clients,
            current: Arc::default(),
            refreshing: Arc::default(),
        }
    }

    /// The current reading, if it is still good.
    fn fresh(&self) -> Option<Arc<HashSet<String>>> {
        let current = self.current.read().ok()?;
        let reading = current.as_ref()?;
        (reading.until > Instant::now() && reading.epoch == self.clients.epoch())
            .then(|| reading.origins.clone())
    }

    /// Whether `origin` (an `Origin` header's value) is allowed; `Err`
    /// when the database could not say (then no CORS is answered).
    pub async fn allows(&self, db: &Db, origin: &str) -> Result<bool, DbError> {
        if let Some(origins) = self.fresh() {
            return Ok(origins.contains(origin));
        }
        let _turn = self.refreshing.lock().await;
        // Another request may have read while this one waited.
        if let Some(origins) = self.fresh() {
            return Ok(origins.contains(origin));
        }
        let epoch = self.clients.epoch();
        let origins = db
            .read(|conn| clients::all_redirect_uris(conn).map_err(DbError::from))
            .await?;
        let origins: Arc<HashSet<String>> = Arc::new(
            origins
                .iter()
                .flat_map(|uris| uris.split_whitespace())
                .filter_map(web_origin)
                .collect(),
        );
        let allowed = origins.contains(origin);
        if let Ok(mut current) = self.current.write() {
            *current = Some(Reading {
                origins,
                until: Instant::now() + ORIGINS_TTL,
                epoch,
            });
        }
        Ok(allowed)
    }
}

/// The serialized origin (`scheme://host[:port]`, the default port left
/// out, as a browser sends it in `Origin`) of a registered redirect URI;
/// `None` for one that has no web origin (a private-use scheme's URI has
/// an opaque origin, which a browser sends as `null`, never to be
/// allowed).
fn web_origin(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::web_origin;

    #[test]
    fn a_redirect_uri_gives_its_serialized_origin() {
        let cases = [
            ("https://app.example/cb", Some("https://app.example")),
            (
                "https://App.Example:443/cb?x=1",
                Some("https://app.example"),
            ),
            (
                "https://app.example:8443/cb",
                Some("https://app.example:8443"),
            ),
            ("http://127.0.0.1:9000/cb", Some("http://127.0.0.1:9000")),
            ("http://[::1]/cb", Some("http://[::1]")),
            ("com.example.app:/cb", None),
            ("not a uri", None),
        ];
        for (uri, origin) in cases {
            assert_eq!(web_origin(uri).as_deref(), origin, "{uri}");
        }
    }
}
