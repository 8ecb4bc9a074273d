//! CORS (the Fetch standard's "CORS protocol", fetch.spec.whatwg.org
//! §3.2) for the endpoints a single-page app calls from the browser: the
//! token, UserInfo and revocation endpoints, the JWKS and the discovery
//! documents (docs/interface.md "OpenID Connect", CORS). An origin is
//! allowed when it is the origin of a redirect URI registered for some
//! client, and no other is: an app that can receive a code at a URI of
//! that origin may also exchange it from there.
//!
//! Routes opt in with [`allow`]; every other endpoint (the pages, the
//! authorization endpoint, introspection) never answers CORS, so a page of
//! another origin can neither read them nor preflight them.
//!
//! The allowed origins are read from the database when a request carries
//! an `Origin` header and the last reading is older than [`ORIGINS_TTL`]
//! or a client changed through this server since ([`ClientCache::forget`]
//! bumps the epoch this follows); requests without `Origin` (servers,
//! CLIs, the benchmarks) never trigger a reading. A change made by the CLI
//! or another instance takes effect here within [`ORIGINS_TTL`].

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};
use url::Url;

use crate::db::client_cache::{ClientCache, Epoch};
use crate::db::{clients, DbError};
use crate::state::AppState;

/// How long a reading of the allowed origins serves: the longest a client
/// removed by the CLI (another process, which cannot tell this server)
/// keeps its origin here.
pub const ORIGINS_TTL: Duration = Duration::from_secs(3);

/// How long a browser may keep a preflight's answer
/// (`Access-Control-Max-Age`, in seconds): short, so that a removed
/// client's origin stops being preflighted soon after it stops being
/// allowed.
const MAX_AGE: &str = "600";

/// The request headers a page may send (`Access-Control-Allow-Headers`):
/// `Authorization` for client authentication and Bearer tokens,
/// `Content-Type` for a form body (`application/x-www-form-urlencoded` is
/// a CORS-safelisted value, but JSON-sending libraries set others), and
/// `DPoP` for the proofs of RFC 9449 that the contract's token lifecycle
/// adds.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, DPoP";

/// The response headers a page may read besides the safelisted ones
/// (`Access-Control-Expose-Headers`): UserInfo's and the token endpoint's
/// errors are told in `WWW-Authenticate` (RFC 6750 §3).
const EXPOSE_HEADERS: &str = "WWW-Authenticate";

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
    pub async fn allows(&self, state: &AppState, origin: &str) -> Result<bool, DbError> {
        if let Some(origins) = self.fresh() {
            return Ok(origins.contains(origin));
        }
        let _turn = self.refreshing.lock().await;
        // Another request may have read while this one waited.
        if let Some(origins) = self.fresh() {
            return Ok(origins.contains(origin));
        }
        let epoch = self.clients.epoch();
        let origins = state
            .db
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

/// Middleware answering CORS on one resource whose methods are `methods`
/// (as `Access-Control-Allow-Methods` lists them, e.g. `"POST"`).
///
/// A preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`, Fetch §3.2.2) from an allowed origin
/// is answered here, 204, without reaching the handler; from any other
/// origin it goes on to the resource, which does not allow `OPTIONS`. An
/// actual request from an allowed origin gets `Access-Control-Allow-Origin`
/// set to that origin (never `*`) and no `Access-Control-Allow-Credentials`:
/// these endpoints take credentials in `Authorization` or the body, never
/// from cookies. Every response carries `Vary: Origin`, since whether it
/// has CORS headers depends on that header (Fetch §3.2.5 "CORS protocol
/// and HTTP caches"; the metadata and JWKS are publicly cacheable).
pub async fn allow(
    methods: &'static str,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allowed = match (&origin, req.app_data::<web::Data<AppState>>()) {
        (Some(origin), Some(state)) => match state.cors.allows(state, origin).await {
            Ok(allowed) => allowed,
            Err(e) => {
                // No answer is the safe one: the page cannot read.
                log::warn!("CORS: cannot read the allowed origins: {e}");
                false
            }
        },
        _ => false,
    };
    let origin = origin
        .filter(|_| allowed)
        .and_then(|o| HeaderValue::from_str(&o).ok());

    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (true, Some(origin)) = (preflight, &origin) {
        let response = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, methods))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
            .insert_header((header::VARY, "Origin"))
            .finish();
        return Ok(req.into_response(response));
    }

    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    // Appended: a handler's own `Vary` stays.
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    Ok(res)
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
