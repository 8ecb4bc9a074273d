//! CORS (the Fetch standard's "CORS protocol", fetch.spec.whatwg.org)
//! for the endpoints a single-page app calls from the browser: the
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
//! The allowed origins come from [`crate::db::cors_origins`], read only
//! for requests that carry an `Origin` header: requests without one
//! (servers, CLIs, the benchmarks) never cost a query.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};

use crate::state::AppState;

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

/// Middleware answering CORS on one resource whose methods are `methods`
/// (as `Access-Control-Allow-Methods` lists them, e.g. `"POST"`).
///
/// A preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`, Fetch "HTTP requests") from an
/// allowed origin is answered here, 204, without reaching the handler;
/// from any other origin it goes on to the resource, which does not allow
/// `OPTIONS`. An actual request from an allowed origin gets `Access-Control-Allow-Origin`
/// set to that origin (never `*`) and no `Access-Control-Allow-Credentials`:
/// these endpoints take credentials in `Authorization` or the body, never
/// from cookies. Every response carries `Vary: Origin`, since whether it
/// has CORS headers depends on that header (Fetch "CORS protocol and HTTP
/// caches"; the metadata and JWKS are publicly cacheable).
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
        (Some(origin), Some(state)) => match state.cors.allows(&state.db, origin).await {
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
