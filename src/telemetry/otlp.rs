//! Span export over OTLP/HTTP with JSON bodies (`--otlp-endpoint`): a
//! batch of spans is posted to `<endpoint>/v1/traces` every few seconds
//! from a thread of the exporter's own, and whatever is left at shutdown
//! is posted then.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

use super::TelemetryError;

/// The longest one export may take (a collector that does not answer
/// must not hold up shutdown for long).
const TIMEOUT: Duration = Duration::from_secs(5);

/// The OTLP/HTTP path of traces, appended to the endpoint as
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is.
const TRACES_PATH: &str = "/v1/traces";

/// Checks `--otlp-endpoint`: an absolute http(s) URL, without credentials
/// (the value is not a secret, and may be logged).
pub(super) fn check_endpoint(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("'{value}' is not a URL: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("'{value}' must be an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not hold credentials".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("'{value}' must not have a query or fragment"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// The running exporter.
pub(super) struct Exporter {
    provider: SdkTracerProvider,
    tracer: Tracer,
}

impl Exporter {
    /// Starts exporting to `endpoint` (checked by [`check_endpoint`]).
    pub(super) fn start(endpoint: &str) -> Result<Exporter, TelemetryError> {
        let failed = |e: String| TelemetryError::Otlp(e);
        // HTTPS through rustls on the provider signing already builds.
        authd_resource::install_crypto_provider();
        let http = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("authd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(http)
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(format!("{endpoint}{TRACES_PATH}"))
            .with_timeout(TIMEOUT)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("authd").build())
            .build();
        let tracer = provider.tracer("authd");
        Ok(Exporter { provider, tracer })
    }

    /// The layer that turns spans into OpenTelemetry spans.
    pub(super) fn layer<S>(&self) -> OpenTelemetryLayer<S, Tracer>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(self.tracer.clone())
    }

    /// Exports what is left and stops.
    pub(super) fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("the OTLP exporter did not shut down cleanly: {e}");
        }
    }
}
