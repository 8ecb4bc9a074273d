//! The admin HTTP API under `/admin/v1` (docs/interface.md
//! "Administration"): users, roles, clients and keys, JSON in and out.
//! Handlers parse, call the one service layer (`manage`, which the
//! command line uses too, so that a refusal reads the same word for
//! word), audit with the caller, and render. Callers hold an access token
//! with `authd:admin` (`auth`). With `--admin-bind` the API has a
//! listener of its own ([`server`]) and the main one does not serve it.

mod auth; // the bearer token and its authd:admin scope
mod body; // JSON bodies: the operation's fields, nothing else
mod clients; // /admin/v1/clients
pub mod error; // AdminError and its JSON rendering
mod keys; // /admin/v1/keys
pub mod openapi; // /admin/v1/openapi.json, generated from the handlers
mod roles; // /admin/v1/roles
mod users; // /admin/v1/users

pub use auth::ADMIN_SCOPE;

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{self, from_fn, Next};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde::Serialize;

use crate::db::AnyConnection;
use crate::manage::ManageError;
use crate::state::AppState;
use error::{AdminError, Subject};

/// Where the API is mounted.
pub const PREFIX: &str = "/admin/v1";

/// Registers the API's routes. Every answer is `Cache-Control: no-store`:
/// some carry secrets, and none is worth keeping.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .wrap(from_fn(log_failures))
            .wrap(middleware::DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
            .route("/openapi.json", web::get().to(openapi::document))
            .service(web::resource("/users").get(users::list).post(users::create))
            .service(
                web::resource("/users/{username}")
                    .get(users::show)
                    .patch(users::update)
                    .delete(users::delete),
            )
            .service(web::resource("/roles").get(roles::list).post(roles::create))
            .service(
                web::resource("/roles/{name}")
                    .patch(roles::update)
                    .delete(roles::delete),
            )
            .service(
                web::resource("/clients")
                    .get(clients::list)
                    .post(clients::create),
            )
            .service(
                web::resource("/clients/{client_id}")
                    .get(clients::show)
                    .patch(clients::update)
                    .delete(clients::delete),
            )
            .service(web::resource("/clients/{client_id}/secret").post(clients::rotate_secret))
            .service(web::resource("/keys").get(keys::list)),
    );
}

/// The answer of a read: 200 with what `f` reads, for a caller with
/// `authd:admin`; a refusal about `subject`.
async fn read<T, F>(
    req: &HttpRequest,
    state: &AppState,
    subject: Subject,
    f: F,
) -> Result<HttpResponse, AdminError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ManageError> + Send + 'static,
    T: Serialize + Send + 'static,
{
    auth::admin(req, state).await?;
    let found = state.db.read(f).await.map_err(AdminError::about(subject))?;
    Ok(HttpResponse::Ok().json(found))
}

/// Logs a 5xx answer's cause with the method and path that failed (the
/// response itself carries no detail).
async fn log_failures(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if res.status().is_server_error() {
        if let Some(err) = res
            .response()
            .error()
            .and_then(|e| e.as_error::<AdminError>())
        {
            let (method, path) = (res.request().method(), res.request().path());
            log::error!("{method} {path}: {}", err.chain());
        }
    }
    Ok(res)
}

/// A server for the admin API alone on `listener` (`--admin-bind`), with
/// the main server's state. It ignores signals: whoever runs it stops it
/// with the main server.
pub fn server(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            // %U is the path without its query string, as on the main
            // listener.
            .wrap(
                middleware::Logger::new(r#"%a "%{METHOD}xi %U" %s %b %Dms"#)
                    .custom_request_replace("METHOD", |req| req.method().to_string()),
            )
            .configure(routes)
    })
    .disable_signals()
    .shutdown_timeout(1);
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.listen(listener)?.run())
}
