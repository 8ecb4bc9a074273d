//! `GET /metrics`: the text exposition. With `--metrics-bind` it is served
//! only on a listener of its own, to whoever reaches that address, so that
//! it can stay off the network that reaches the token endpoint. Without
//! it, the main listener serves it to this host alone: a request whose
//! peer is not a loopback address, or that a proxy forwarded, finds no
//! such path (404). The counts tell an outsider how busy the server is and
//! how logins fare, which is nobody else's business.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::guard::{Guard, GuardContext};
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

/// Headers by which a reverse proxy names the client it forwards for. A
/// proxy on this host connects from loopback: a request carrying one of
/// these came from elsewhere, whatever its peer address says.
const FORWARDING: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Matches only requests from this host: a loopback peer, not forwarded.
struct ThisHostOnly;

impl Guard for ThisHostOnly {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        let head = ctx.head();
        // Canonical first: on a dual-stack listener an IPv4 client is
        // `::ffff:127.0.0.1`, which is not `is_loopback` as an IPv6 address.
        let loopback = head
            .peer_addr
            .is_some_and(|a| a.ip().to_canonical().is_loopback());
        loopback && !FORWARDING.iter().any(|h| head.headers().contains_key(*h))
    }
}

/// Mounts `GET /metrics` on the main listener, for this host alone: from
/// anywhere else the route does not match, and the answer is the same 404
/// as for any unknown path.
pub fn mount_local(cfg: &mut web::ServiceConfig, metrics: &Metrics) {
    cfg.app_data(web::Data::new(metrics.clone()))
        .route(PATH, web::get().guard(ThisHostOnly).to(scrape));
}

/// Mounts `GET /metrics` serving `metrics` to every peer (the metrics'
/// own listener, whose address the operator chose).
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn allowed(req: TestRequest) -> bool {
        let req = req.to_srv_request();
        ThisHostOnly.check(&req.guard_ctx())
    }

    #[test]
    fn only_this_host_unforwarded() {
        let at = |a: &str| TestRequest::get().uri(PATH).peer_addr(a.parse().unwrap());
        assert!(allowed(at("127.0.0.1:5000")));
        assert!(allowed(at("[::1]:5000")));
        assert!(allowed(at("[::ffff:127.0.0.1]:5000")));
        assert!(!allowed(at("[::ffff:192.0.2.7]:5000")));
        assert!(!allowed(at("192.0.2.7:5000")));
        assert!(!allowed(at("[2001:db8::1]:5000")));
        assert!(!allowed(TestRequest::get().uri(PATH)));
        for h in FORWARDING {
            assert!(!allowed(
                at("127.0.0.1:5000").insert_header((h, "192.0.2.7"))
            ));
        }
    }
}
