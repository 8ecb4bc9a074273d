//! What the request metrics add to one request: a token-endpoint request
//! through an app with the metrics middleware (and the handler marking its
//! grant) versus the same app without. The difference is the per-request
//! cost of the metrics whatever the handler does; README (Performance)
//! sets it beside the CPU time of a real token request.
//!
//!     cargo bench --bench metrics

use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::test::{call_service, init_service, TestRequest};
use actix_web::{web, App, HttpRequest, HttpResponse};
use authd::db::{DatabaseUrl, Db};
use authd::metrics::{label_grant, track, Metrics};
use authd::password::{Cost, Passwords};
use criterion::{criterion_group, criterion_main, Criterion};

const PATH: &str = "/oauth/token";

async fn plain() -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn marking(req: HttpRequest) -> HttpResponse {
    label_grant(&req, Some("client_credentials"));
    HttpResponse::Ok().finish()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("m.db").display()))
        .expect("url");
    let db = Db::open(&url, 1, Duration::from_secs(1)).expect("db");
    let passwords = Passwords::new(Cost::default(), 1, 0).expect("hasher");
    let metrics = Metrics::new(&passwords, &db).expect("metrics");

    let rt = actix_web::rt::System::new();
    let bare = rt.block_on(init_service(App::new().route(PATH, web::post().to(plain))));
    let requests = track(&metrics, PATH);
    let tracked = rt.block_on(init_service(
        App::new()
            .wrap(from_fn(move |req, next| requests.clone().record(req, next)))
            .route(PATH, web::post().to(marking)),
    ));

    let mut group = c.benchmark_group("token request");
    group.bench_function("without metrics", |b| {
        b.iter(|| {
            rt.block_on(call_service(
                &bare,
                TestRequest::post().uri(PATH).to_request(),
            ))
        })
    });
    group.bench_function("with metrics", |b| {
        b.iter(|| {
            rt.block_on(call_service(
                &tracked,
                TestRequest::post().uri(PATH).to_request(),
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
