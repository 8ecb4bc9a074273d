//! Prometheus metrics: the counters that the login and token paths move,
//! per-request counts and latencies, and values read from the hasher and
//! the pool when scraped. `GET /metrics` serves them in the text format.
//!
//! Every series this server can expose (all names start with `authd_`):
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `http_requests_total` | counter | `endpoint`, `grant_type`, `status` |
//! | `http_request_duration_seconds` | histogram | `endpoint`, `grant_type`, `status` |
//! | `tokens_issued_total` | counter | `grant_type` |
//! | `refresh_token_reuse_total` | counter | |
//! | `username_lockouts_total` | counter | |
//! | `login_rejections_total` | counter | `reason`: `address_limited` (429), `busy` (503) |
//! | `password_hashes_running` | gauge | |
//! | `password_queue_waiting` | gauge | |
//! | `db_connections_in_use` | gauge | |
//! | `db_connections_idle` | gauge | |
//! | `db_connection_timeouts_total` | counter | |
//! | `db_writer_writes_total` | counter | | (SQLite's writer, PostgreSQL's rotation thread)
//! | `db_writer_batch_size` | histogram | |
//! | `db_writer_commit_seconds_total` | counter | |
//! | `db_writer_failed_batches_total` | counter | |
//!
//! Metrics belong to one [`crate::app::Application`], not to the process:
//! tests run several servers in one process, each with its own counts.

pub mod endpoint;
pub mod http;
mod pulled;
mod writer;

use std::sync::Arc;

use prometheus::{IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

use crate::db::Db;
use crate::grant_type::GrantType;
use crate::password::Passwords;

pub use http::{label_grant, track};

/// The prefix of every metric name.
const NAMESPACE: &str = "authd";

/// Why a metric could not be set up (a wrong name or a clash; a bug).
pub type MetricsError = prometheus::Error;

/// The counters and the registry that exposes them; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http: http::HttpMetrics,
    /// Indexed like [`GrantType::ALL`].
    tokens_issued: [IntCounter; 4],
    refresh_reuse: IntCounter,
    lockouts: IntCounter,
    address_limited: IntCounter,
    busy: IntCounter,
}

/// A counter without labels, registered.
fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, MetricsError> {
    let c = IntCounter::with_opts(Opts::new(name, help).namespace(NAMESPACE))?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

/// A counter with labels, registered.
fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, MetricsError> {
    let c = IntCounterVec::new(Opts::new(name, help).namespace(NAMESPACE), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl Metrics {
    /// Registers every metric; the hasher's and the pool's are read from
    /// `passwords` and `db` at each scrape.
    pub fn new(passwords: &Passwords, db: &Db) -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let http = http::HttpMetrics::register(&registry)?;
        let issued = counter_vec(
            &registry,
            "tokens_issued_total",
            "Token responses issued, by grant type.",
            &["grant_type"],
        )?;
        // Every known series exists from the start at 0, so that a rate
        // over the first token of a kind is not lost.
        let [a, b, c, d] =
            GrantType::ALL.map(|g| issued.get_metric_with_label_values(&[g.as_str()]));
        let rejections = counter_vec(
            &registry,
            "login_rejections_total",
            "Logins refused before hashing: address_limited (429), busy (503, queue full).",
            &["reason"],
        )?;
        let inner = Inner {
            tokens_issued: [a?, b?, c?, d?],
            refresh_reuse: counter(
                &registry,
                "refresh_token_reuse_total",
                "Refresh tokens presented again after rotation (their family was revoked).",
            )?,
            lockouts: counter(
                &registry,
                "username_lockouts_total",
                "Usernames locked after too many failed password checks.",
            )?,
            address_limited: rejections.get_metric_with_label_values(&["address_limited"])?,
            busy: rejections.get_metric_with_label_values(&["busy"])?,
            http,
            registry,
        };
        pulled::register(&inner.registry, passwords, db)?;
        writer::register(&inner.registry, db)?;
        Ok(Metrics {
            inner: Arc::new(inner),
        })
    }

    /// A token response was issued through `grant`.
    pub fn token_issued(&self, grant: GrantType) {
        let i = GrantType::ALL.iter().position(|g| *g == grant);
        if let Some(c) = i.and_then(|i| self.inner.tokens_issued.get(i)) {
            c.inc();
        }
    }

    /// A rotated refresh token was presented again.
    pub fn refresh_reused(&self) {
        self.inner.refresh_reuse.inc();
    }

    /// A failed login locked its username.
    pub fn username_locked(&self) {
        self.inner.lockouts.inc();
    }

    /// A login was refused by the per-address limit (429).
    pub fn address_limited(&self) {
        self.inner.address_limited.inc();
    }

    /// A login was refused because the hashing queue was full (503).
    pub fn busy(&self) {
        self.inner.busy.inc();
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> Result<String, MetricsError> {
        TextEncoder::new().encode_to_string(&self.inner.registry.gather())
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}
