//! Logs and traces (docs/interface.md "Administration", Logs): one
//! `tracing` subscriber for the whole process, fed by `tracing` events and
//! spans and, through the `tracing-log` bridge, by every `log` call of
//! authd and its dependencies, so that each line written while a request
//! is served carries its span's fields (`request_id` first of all).
//!
//! `RUST_LOG` filters the lines as it always has (default `info`); authd's
//! own spans are kept whatever it says, so that a line let through always
//! says which request it is about. With `--otlp-endpoint`, authd's spans
//! are also exported over OTLP/HTTP ([`otlp`]).

mod json;
mod otlp;
pub mod request_id;
mod text;

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Layer};

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, its spans' fields in front.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`,
    /// `message`, the event's fields and its spans' (`request_id`...).
    Json,
}

/// The logging settings, part of [`crate::config::Settings`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct TelemetrySettings {
    /// Log line format on stderr: text (default) or json (one JSON object
    /// per line, with the request's request_id on every line about it).
    #[arg(
        long = "log-format",
        value_name = "LOG_FORMAT",
        env = "AUTHD_LOG_FORMAT",
        default_value = "text",
        global = true,
        value_enum
    )]
    pub log_format: LogFormat,

    /// Export spans (requests, grants) over OTLP/HTTP with JSON bodies to
    /// this collector base URL (http:// or https://; authd posts to
    /// <URL>/v1/traces). Default: no export.
    #[arg(long = "otlp-endpoint", value_name = "OTLP_ENDPOINT", env = "AUTHD_OTLP_ENDPOINT",
          global = true, value_parser = otlp::check_endpoint)]
    pub otlp_endpoint: Option<String>,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("--otlp-endpoint (AUTHD_OTLP_ENDPOINT): {0}")]
    Otlp(String),
    /// A subscriber was already installed (a bug).
    #[error("cannot install the log subscriber: {0}")]
    Install(String),
}

/// The installed subscriber's resources: [`Telemetry::shutdown`] exports
/// the spans not yet sent.
#[must_use = "dropping it loses the spans not yet exported"]
pub struct Telemetry {
    otlp: Option<otlp::Exporter>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops the exporter (blocking, at
    /// most a few seconds). Call it once the server has stopped.
    pub fn shutdown(self) {
        if let Some(otlp) = self.otlp {
            otlp.shutdown();
        }
    }
}

/// The target prefix of authd's own spans and events.
const OWN_TARGET: &str = "authd";

/// Installs the process's subscriber: the log lines on stderr in
/// `settings.log_format`, filtered by `RUST_LOG` (default `info`), and
/// the OTLP export when asked for. Once per process.
pub fn init(settings: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    let env = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    // authd's spans whatever RUST_LOG says: they cost nothing unless an
    // event inside is written, and then it must carry its request_id.
    let own_spans = filter_fn(|meta| meta.is_span() && meta.target().starts_with(OWN_TARGET));
    let lines = env.or(own_spans);
    let ansi = std::io::stderr().is_terminal();
    let stderr = match settings.log_format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .event_format(text::Text::default())
            .with_filter(lines)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .fmt_fields(json::JsonFields)
            .event_format(json::JsonLine)
            .with_filter(lines)
            .boxed(),
    };
    let exporter = settings
        .otlp_endpoint
        .as_deref()
        .map(otlp::Exporter::start)
        .transpose()?;
    // Only authd's spans and events are exported: the exporter's own HTTP
    // client logs too, and exporting that would feed itself.
    let traces = exporter.as_ref().map(|e| {
        e.layer()
            .with_filter(Targets::new().with_target(OWN_TARGET, LevelFilter::INFO))
    });
    tracing_subscriber::registry()
        .with(stderr)
        .with(traces)
        .try_init()
        .map_err(|e| TelemetryError::Install(e.to_string()))?;
    Ok(Telemetry { otlp: exporter })
}
