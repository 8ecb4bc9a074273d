//! The database writer's metrics, read from its counters at each scrape:
//! how many writes each transaction carried (the group commit at work)
//! and how long commits took. On SQLite that is the single writer; on
//! PostgreSQL, which takes concurrent writers, the refresh rotation thread,
//! whose statements each carry every rotation queued.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Bucket, Histogram, Metric, MetricFamily, MetricType};
use prometheus::Registry;

use super::pulled::{name, PullingCounter};
use super::MetricsError;
use crate::db::Db;
use crate::db::BATCH_BUCKETS;

/// Registers the writer's series when `db` has a writer or a rotation thread.
pub(super) fn register(registry: &Registry, db: &Db) -> Result<(), MetricsError> {
    if db.writer_stats().is_none() {
        return Ok(());
    }
    type Read = fn(&crate::db::BatchStats) -> f64;
    let counters: [(&str, &str, Read); 3] = [
        (
            "db_writer_writes_total",
            "Writes run by the SQLite writer, or rotations by the PostgreSQL rotation thread.",
            |s| s.writes.load(Ordering::Relaxed) as f64,
        ),
        (
            "db_writer_commit_seconds_total",
            "Time spent committing batches (on PostgreSQL, running rotation statements); divide by batches for the mean.",
            |s| s.commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
        ),
        (
            "db_writer_failed_batches_total",
            "Write transactions that failed as a whole (each write in them answered 503).",
            |s| s.failed.load(Ordering::Relaxed) as f64,
        ),
    ];
    for (short, help, read) in counters {
        let d = db.clone();
        let counter = PullingCounter::new(
            name(short),
            help,
            Box::new(move || d.writer_stats().map_or(0.0, read)),
        )?;
        registry.register(Box::new(counter))?;
    }
    registry.register(Box::new(BatchSizes {
        desc: Desc::new(
            name("db_writer_batch_size"),
            "Writes per SQLite write transaction, or rotations per PostgreSQL rotation statement."
                .into(),
            Vec::new(),
            HashMap::new(),
        )?,
        db: db.clone(),
    }))
}

/// The batch-size histogram, from the writer's bucket counts.
struct BatchSizes {
    desc: Desc,
    db: Db,
}

impl Collector for BatchSizes {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Some(stats) = self.db.writer_stats() else {
            return Vec::new();
        };
        let mut histogram = Histogram::default();
        let mut cumulative = 0;
        let buckets = BATCH_BUCKETS
            .iter()
            .zip(&stats.batch_sizes)
            .map(|(bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                let mut bucket = Bucket::default();
                bucket.set_upper_bound(*bound as f64);
                bucket.set_cumulative_count(cumulative);
                bucket
            })
            .collect();
        histogram.set_bucket(buckets);
        histogram.set_sample_count(stats.batches.load(Ordering::Relaxed));
        histogram.set_sample_sum(stats.writes.load(Ordering::Relaxed) as f64);
        let mut metric = Metric::default();
        metric.set_histogram(histogram);
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::HISTOGRAM);
        family.set_metric(vec![metric]);
        vec![family]
    }
}
