//! A resource server protected by authd: an in-memory posts API.
//!
//!     cargo run --example posts_api -- --issuer http://127.0.0.1:8080 \
//!         --audience http://127.0.0.1:8080 --bind 127.0.0.1:9000
//!
//! `GET /posts` needs `posts:read`, `POST /posts` needs `posts:write`,
//! `DELETE /posts/{id}` needs `posts:delete`. The scope is checked before
//! anything else, so a caller without `posts:delete` learns nothing about
//! which posts exist (403, never 404).
//!
//! Token checks come from the `authd-resource` crate alone: that, not
//! `authd`, is what a resource server depends on.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{error, web, App, HttpResponse, HttpServer};
use authd_resource::{Scoped, Verifier};
use clap::Parser;
use serde::{Deserialize, Serialize};

authd_resource::require_scope!(pub PostsRead, "posts:read");
authd_resource::require_scope!(pub PostsWrite, "posts:write");
authd_resource::require_scope!(pub PostsDelete, "posts:delete");

/// A stored post.
#[derive(Debug, Clone, Serialize)]
pub struct Post {
    id: u64,
    title: String,
    body: String,
    /// The `sub` of the token that created it.
    author: String,
}

/// The body of `POST /posts`.
#[derive(Debug, Deserialize)]
pub struct NewPost {
    title: String,
    body: String,
}

/// The posts, in memory.
#[derive(Default)]
pub struct Store {
    posts: Mutex<(u64, BTreeMap<u64, Post>)>,
}

impl Store {
    fn with<T>(&self, f: impl FnOnce(&mut (u64, BTreeMap<u64, Post>)) -> T) -> T {
        match self.posts.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }
}

async fn list(_token: Scoped<PostsRead>, store: web::Data<Store>) -> HttpResponse {
    let posts: Vec<Post> = store.with(|(_, posts)| posts.values().cloned().collect());
    HttpResponse::Ok().json(posts)
}

async fn create(
    token: Scoped<PostsWrite>,
    store: web::Data<Store>,
    new: web::Json<NewPost>,
) -> HttpResponse {
    let new = new.into_inner();
    if new.title.trim().is_empty() {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({"error": "invalid_request", "error_description": "title must not be empty"}));
    }
    let post = store.with(|(next, posts)| {
        *next += 1;
        let post = Post {
            id: *next,
            title: new.title,
            body: new.body,
            author: token.claims().sub.clone(),
        };
        posts.insert(post.id, post.clone());
        post
    });
    HttpResponse::Created()
        .insert_header(("location", format!("/posts/{}", post.id)))
        .json(post)
}

async fn delete(
    _token: Scoped<PostsDelete>,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> HttpResponse {
    // The extractor above has already checked the scope: 403 comes first.
    let removed = id
        .parse::<u64>()
        .ok()
        .and_then(|id| store.with(|(_, posts)| posts.remove(&id)));
    match removed {
        Some(_) => HttpResponse::NoContent().finish(),
        None => HttpResponse::NotFound()
            .json(serde_json::json!({"error": "not_found", "error_description": "no such post"})),
    }
}

/// The routes, for `App::configure`; needs `web::Data<Store>` and a
/// `web::Data<Verifier>`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(|e, _| {
        let body = serde_json::json!({"error": "invalid_request", "error_description": e.to_string()});
        error::InternalError::from_response(e, HttpResponse::BadRequest().json(body)).into()
    }))
    .route("/posts", web::get().to(list))
    .route("/posts", web::post().to(create))
    .route("/posts/{id}", web::delete().to(delete));
}

#[derive(Parser)]
#[command(about = "An example resource server protected by authd")]
struct Args {
    /// authd's issuer URL (its `iss`); the JWKS is fetched from it.
    #[arg(long)]
    issuer: String,
    /// This API's identifier, the `aud` its tokens must carry.
    #[arg(long)]
    audience: String,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    bind: String,
    /// Least seconds between JWKS refetches caused by unknown key ids.
    #[arg(long, default_value_t = 5)]
    refetch_interval: u64,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let _logs = authd::telemetry::init(&Default::default()).expect("no other logger");
    let args = Args::parse();
    let verifier = Verifier::builder(&args.issuer, &args.audience)
        .refetch_interval(Duration::from_secs(args.refetch_interval))
        .build()
        .map_err(std::io::Error::other)?;
    let verifier = web::Data::new(verifier);
    let store = web::Data::new(Store::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .app_data(store.clone())
            .configure(routes)
    })
    .bind(&args.bind)?;
    for addr in server.addrs() {
        log::info!(
            "posts_api listening on http://{addr} (issuer {})",
            args.issuer
        );
    }
    server.run().await
}
