//! Every request's id and span (docs/interface.md "Administration",
//! Logs): the id is the incoming `X-Request-Id` when a trusted proxy
//! (`--trusted-proxy`) sent a well-formed one, else a new random one; it
//! is returned in the response's `X-Request-Id`, errors and 404s
//! included. The request is served inside a `request` span holding the
//! id, the method and the path (never the query string: it can carry
//! codes and state), so every line logged meanwhile carries them; the
//! access line (`client "METHOD path" status bytes time`) is written in
//! it too, once the response is ready.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use tracing::Instrument;

use crate::login::{client_ip, from_trusted_proxy};
use crate::state::AppState;

/// The header, in and out.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id kept.
const MAX_LEN: usize = 128;

/// The log target of the access lines.
pub const ACCESS_TARGET: &str = "authd::access";

/// Paths without an access line: probes hit them every few seconds.
const QUIET: &[&str] = &["/healthz"];

/// Whether an incoming id may be kept: 1 to [`MAX_LEN`] ASCII letters,
/// digits, `-`, `_`, `.` and `:` (UUIDs, hex, base64url, vendor ids),
/// nothing that could break a log line or a header.
pub fn well_formed(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The id of `req`: a trusted proxy's well-formed `X-Request-Id`, else a
/// new one (128 random bits, hex). A client's own header is ignored, as
/// its `X-Forwarded-For` is: ids it chose could pose as another request's.
pub fn request_id(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> String {
    if from_trusted_proxy(req, trusted_proxies) {
        let given = req.headers().get(&HEADER).and_then(|v| v.to_str().ok());
        if let Some(id) = given.filter(|id| well_formed(id)) {
            return id.to_string();
        }
    }
    crate::secret::random_id()
}

/// The middleware (outside every other but the metrics').
pub async fn middleware<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let proxies = state
        .as_deref()
        .map_or(&[][..], |s| s.logins.trusted_proxies());
    let id = request_id(req.request(), proxies);
    let remote = client_ip(req.request(), proxies);
    // Owned copies: the request itself must not be shared while the
    // router works on it.
    let (method, path) = (req.method().clone(), req.path().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %path,
        status = tracing::field::Empty,
    );
    let started = Instant::now();
    let value = HeaderValue::from_str(&id).ok();
    let (out, status, size) = match next.call(req).instrument(span.clone()).await {
        Ok(mut res) => {
            if let Some(value) = value {
                res.headers_mut().insert(HEADER, value);
            }
            let size = res.response().body().size();
            let status = res.status();
            (Ok(res), status, size)
        }
        // An error from a middleware below: answered further out, with
        // the id all the same.
        Err(error) => {
            let status = error.as_response_error().status_code();
            let out = match value {
                Some(id) => Err(WithId { error, id }.into()),
                None => Err(error),
            };
            (out, status, BodySize::Stream)
        }
    };
    span.record("status", status.as_u16());
    if !QUIET.contains(&path.as_str()) {
        let size = match size {
            BodySize::Sized(n) => n.to_string(),
            BodySize::None => "0".into(),
            BodySize::Stream => "-".into(),
        };
        let remote = remote.map_or("-".into(), |ip| ip.to_string());
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = status.as_u16();
        span.in_scope(|| {
            tracing::info!(
                target: ACCESS_TARGET,
                "{remote} \"{method} {path}\" {status} {size} {ms:.3}ms"
            )
        });
    }
    out
}

/// An error answered with the request's id.
#[derive(Debug)]
struct WithId {
    error: actix_web::Error,
    id: HeaderValue,
}

impl std::fmt::Display for WithId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for WithId {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = self.error.error_response();
        res.headers_mut().insert(HEADER, self.id.clone());
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_a_trusted_proxys_well_formed_id_is_kept() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let from = |peer: &str, id: &str| {
            TestRequest::default()
                .peer_addr(format!("{peer}:4000").parse().unwrap())
                .insert_header(("X-Request-Id", id))
                .to_http_request()
        };
        let req = from("10.0.0.1", "abc-123_x.y:z");
        assert_eq!(request_id(&req, &[proxy]), "abc-123_x.y:z");
        // The same header from a client that is no trusted proxy.
        let other = request_id(&from("192.0.2.7", "abc-123"), &[proxy]);
        assert_ne!(other, "abc-123");
        assert!(well_formed(&other) && other.len() == 32, "{other}");
        // Malformed ones from the proxy are replaced.
        for bad in ["", "a b", "a\"b", "é", &"a".repeat(MAX_LEN + 1)] {
            let id = request_id(&from("10.0.0.1", bad), &[proxy]);
            assert_ne!(id, bad);
            assert!(well_formed(&id), "{id}");
        }
        assert!(well_formed(&"a".repeat(MAX_LEN)));
        // Two new ids differ.
        let req = from("192.0.2.7", "x");
        assert_ne!(request_id(&req, &[]), request_id(&req, &[]));
    }
}
