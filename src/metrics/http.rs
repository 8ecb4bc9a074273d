//! Per-request count and latency, labelled by the route pattern that
//! matched (never the raw path, so a scan of random URLs cannot grow the
//! label set), the grant type at the token endpoint, and the status class.
//!
//! Cost per request: two clock reads, one lookup of the path in a small
//! per-worker map, an extension lookup, and the atomic updates of a
//! counter and a histogram whose handles were resolved on first use.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

use super::{Metrics, MetricsError, NAMESPACE};
use crate::grant_type::GrantType;

/// Latency buckets (s): a token by client_credentials takes well under a
/// millisecond, a password login tens of milliseconds, a wait for a
/// database connection up to the timeout.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Status classes, indexed by `status / 100 - 1`.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Grant labels: none (not a token request), then [`GrantType::ALL`] in
/// order, then anything else a token request named.
const NO_GRANT: usize = 0;
const OTHER_GRANT: usize = 5;
const GRANTS: usize = 6;

/// The endpoint label of a request that matched no route.
const UNMATCHED: &str = "unmatched";

fn grant_label(i: usize) -> &'static str {
    match i {
        NO_GRANT => "",
        OTHER_GRANT => "other",
        i => GrantType::ALL.get(i - 1).map_or("other", |g| g.as_str()),
    }
}

fn class_index(status: StatusCode) -> usize {
    usize::from(status.as_u16() / 100).clamp(1, CLASSES.len()) - 1
}

/// The two metric families, shared by every worker.
#[derive(Clone)]
pub(super) struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    pub(super) fn register(registry: &prometheus::Registry) -> Result<HttpMetrics, MetricsError> {
        let labels = ["endpoint", "grant_type", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route pattern, grant type (token endpoint) and status class.",
            )
            .namespace(NAMESPACE),
            &labels,
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request (until the response head is ready).",
            )
            .namespace(NAMESPACE)
            .buckets(BUCKETS.to_vec()),
            &labels,
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(HttpMetrics { requests, duration })
    }
}

// The token handler marks its request's grant in the request extensions.
// One zero-sized type per label: inserting it boxes nothing, so marking
// allocates nothing.
struct Marked<const GRANT: usize>;

fn mark(ext: &mut Extensions, grant: usize) {
    match grant {
        1 => {
            ext.insert(Marked::<1>);
        }
        2 => {
            ext.insert(Marked::<2>);
        }
        3 => {
            ext.insert(Marked::<3>);
        }
        4 => {
            ext.insert(Marked::<4>);
        }
        _ => {
            ext.insert(Marked::<OTHER_GRANT>);
        }
    }
}

fn marked(ext: &Extensions) -> Option<usize> {
    [
        ext.contains::<Marked<1>>(),
        ext.contains::<Marked<2>>(),
        ext.contains::<Marked<3>>(),
        ext.contains::<Marked<4>>(),
        ext.contains::<Marked<OTHER_GRANT>>(),
    ]
    .iter()
    .position(|m| *m)
    .map(|i| i + 1)
}

/// Labels a token request with the `grant_type` it named (`None`: absent
/// or unreadable): a known grant type by its name, anything else "other".
pub fn label_grant(req: &HttpRequest, grant_type: Option<&str>) {
    let known = grant_type.and_then(|g| GrantType::ALL.iter().position(|k| k.as_str() == g));
    mark(
        &mut req.extensions_mut(),
        known.map_or(OTHER_GRANT, |i| i + 1),
    );
}

/// A counter and a histogram for one label combination.
struct Series {
    requests: IntCounter,
    duration: Histogram,
}

/// One endpoint's series, each resolved on first use.
struct Endpoint {
    label: Box<str>,
    /// The grant label of a request the handler did not mark: "other" at
    /// the token endpoint (e.g. a GET), none elsewhere.
    unmarked: usize,
    series: [[OnceCell<Option<Series>>; CLASSES.len()]; GRANTS],
}

impl Endpoint {
    fn new(label: &str, unmarked: usize) -> Endpoint {
        Endpoint {
            label: label.into(),
            unmarked,
            series: Default::default(),
        }
    }

    fn observe(&self, http: &HttpMetrics, ext: &Extensions, status: StatusCode, secs: f64) {
        let grant = marked(ext).unwrap_or(self.unmarked);
        let class = class_index(status);
        let Some(slot) = self.series.get(grant).and_then(|row| row.get(class)) else {
            return;
        };
        let series = slot.get_or_init(|| {
            let values = [&*self.label, grant_label(grant), CLASSES[class]];
            // Fails only on a wrong number of labels, which the
            // constants rule out.
            Some(Series {
                requests: http.requests.get_metric_with_label_values(&values).ok()?,
                duration: http.duration.get_metric_with_label_values(&values).ok()?,
            })
        });
        if let Some(s) = series {
            s.requests.inc();
            s.duration.observe(secs);
        }
    }
}

/// The request metrics of one worker: its own map of endpoints, so that
/// the lookup takes no lock. Cheap to clone (one per request).
#[derive(Clone)]
pub struct Tracker {
    inner: Rc<Routes>,
}

struct Routes {
    http: HttpMetrics,
    grant_endpoint: &'static str,
    /// By route pattern. A request whose path is itself a pattern (every
    /// static route) is found by its path without asking the router.
    by_pattern: RefCell<HashMap<Box<str>, Endpoint>>,
    unmatched: Endpoint,
}

/// Makes a [`Tracker`] for one worker: the middleware of
/// [`Tracker::record`]. `grant_endpoint` is the token endpoint's path,
/// whose requests carry a grant label.
pub fn track(metrics: &Metrics, grant_endpoint: &'static str) -> Tracker {
    Tracker {
        inner: Rc::new(Routes {
            http: metrics.inner.http.clone(),
            grant_endpoint,
            by_pattern: RefCell::new(HashMap::new()),
            unmatched: Endpoint::new(UNMATCHED, NO_GRANT),
        }),
    }
}

impl Tracker {
    /// Middleware (for `from_fn`): times the request and counts it once
    /// answered.
    pub async fn record<B: MessageBody>(
        self,
        req: ServiceRequest,
        next: Next<B>,
    ) -> Result<ServiceResponse<B>, actix_web::Error> {
        let start = Instant::now();
        let out = next.call(req).await;
        let secs = start.elapsed().as_secs_f64();
        let routes = &self.inner;
        match &out {
            Ok(res) => routes.observe(res.request(), res.status(), secs),
            // Handlers' errors arrive as responses; an error here comes
            // from below the router and no request is left to label by.
            Err(e) => routes.unmatched.observe(
                &routes.http,
                &Extensions::new(),
                e.as_response_error().status_code(),
                secs,
            ),
        }
        out
    }
}

impl Routes {
    fn observe(&self, req: &HttpRequest, status: StatusCode, secs: f64) {
        let ext = req.extensions();
        if let Some(e) = self.by_pattern.borrow().get(req.path()) {
            return e.observe(&self.http, &ext, status, secs);
        }
        // First request to this static route on this worker, or a route
        // with parameters: ask the router which pattern matched.
        let Some(pattern) = req.match_pattern() else {
            return self.unmatched.observe(&self.http, &ext, status, secs);
        };
        let mut map = self.by_pattern.borrow_mut();
        let unmarked = if pattern == self.grant_endpoint {
            OTHER_GRANT
        } else {
            NO_GRANT
        };
        map.entry(pattern.as_str().into())
            .or_insert_with(|| Endpoint::new(&pattern, unmarked))
            .observe(&self.http, &ext, status, secs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(CLASSES[class_index(StatusCode::OK)], "2xx");
        assert_eq!(CLASSES[class_index(StatusCode::NOT_FOUND)], "4xx");
        assert_eq!(CLASSES[class_index(StatusCode::SERVICE_UNAVAILABLE)], "5xx");
        assert_eq!(CLASSES[class_index(StatusCode::CONTINUE)], "1xx");
    }

    #[test]
    fn grant_labels_are_the_known_names_or_other() {
        let req = actix_web::test::TestRequest::default().to_http_request();
        for (name, want) in [
            (Some("password"), "password"),
            (Some("refresh_token"), "refresh_token"),
            (Some("client_credentials"), "client_credentials"),
            (Some("authorization_code"), "authorization_code"),
            (Some("urn:x"), "other"),
            (None, "other"),
        ] {
            req.extensions_mut().clear();
            label_grant(&req, name);
            let got = marked(&req.extensions()).map(grant_label);
            assert_eq!(got, Some(want), "{name:?}");
        }
        req.extensions_mut().clear();
        assert_eq!(marked(&req.extensions()), None);
    }
}
