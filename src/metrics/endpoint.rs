//! `GET /metrics`: the text exposition, on the main listener, or only on a
//! listener of its own (`--metrics-bind`) so that it can stay off the
//! network that reaches the token endpoint.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};

use super::Metrics;

/// Where the metrics are served.
pub const PATH: &str = "/metrics";

async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type(prometheus::TEXT_FORMAT)
            .body(text),
        Err(e) => {
            log::error!("rendering the metrics: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Mounts `GET /metrics` serving `metrics`.
pub fn mount(cfg: &mut web::ServiceConfig, metrics: &Metrics) {
    cfg.app_data(web::Data::new(metrics.clone()))
        .route(PATH, web::get().to(scrape));
}

/// A server for `/metrics` alone on `listener`: one worker, since a scrape
/// every few seconds is all it gets. It ignores signals: whoever runs it
/// stops it with the main server.
pub fn server(metrics: Metrics, listener: TcpListener) -> std::io::Result<Server> {
    Ok(
        HttpServer::new(move || App::new().configure(|cfg| mount(cfg, &metrics)))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)?
            .run(),
    )
}
