//! Values read from the hasher and the pool at each scrape, rather than
//! kept up to date on every change: they already count for themselves,
//! and a scrape is rare next to a request.

use std::collections::HashMap;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Metric, MetricFamily, MetricType};
use prometheus::{PullingGauge, Registry};

use super::{MetricsError, NAMESPACE};
use crate::db::Db;
use crate::password::Passwords;

pub(super) fn name(short: &str) -> String {
    format!("{NAMESPACE}_{short}")
}

fn gauge(
    registry: &Registry,
    short: &str,
    help: &str,
    value: impl Fn() -> f64 + Send + Sync + 'static,
) -> Result<(), MetricsError> {
    let g = PullingGauge::new(name(short), help, Box::new(value))?;
    registry.register(Box::new(g))
}

/// Registers the hasher's and the pool's gauges and the pool's timeout
/// count.
pub(super) fn register(
    registry: &Registry,
    passwords: &Passwords,
    db: &Db,
) -> Result<(), MetricsError> {
    let p = passwords.clone();
    gauge(
        registry,
        "password_hashes_running",
        "Hashing slots in use: password hashes running now.",
        move || p.running() as f64,
    )?;
    let p = passwords.clone();
    gauge(
        registry,
        "password_queue_waiting",
        "Password checks waiting for a hashing slot.",
        move || p.waiting() as f64,
    )?;
    let d = db.clone();
    gauge(
        registry,
        "db_connections_in_use",
        "Connection threads' database connections running work now.",
        move || f64::from(d.pool_use().in_use),
    )?;
    let d = db.clone();
    gauge(
        registry,
        "db_connections_idle",
        "Connection threads' database connections open and waiting for work now.",
        move || f64::from(d.pool_use().idle),
    )?;
    let d = db.clone();
    let timeouts = PullingCounter::new(
        name("db_connection_timeouts_total"),
        "Waits for a database connection that ended without one (answered 503).",
        Box::new(move || d.timeouts() as f64),
    )?;
    registry.register(Box::new(timeouts))
}

/// A counter whose value a function reports at each scrape: the
/// counterpart of [`PullingGauge`], which the crate has only for gauges.
pub(super) struct PullingCounter {
    desc: Desc,
    value: Box<dyn Fn() -> f64 + Send + Sync>,
}

impl PullingCounter {
    /// A counter named `name` whose value `value` reports.
    pub(super) fn new(
        name: String,
        help: &str,
        value: Box<dyn Fn() -> f64 + Send + Sync>,
    ) -> Result<PullingCounter, MetricsError> {
        Ok(PullingCounter {
            desc: Desc::new(name, help.into(), Vec::new(), HashMap::new())?,
            value,
        })
    }
}

impl Collector for PullingCounter {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut counter = Counter::default();
        counter.set_value((self.value)());
        let mut metric = Metric::default();
        metric.set_counter(counter);
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::COUNTER);
        family.set_metric(vec![metric]);
        vec![family]
    }
}
