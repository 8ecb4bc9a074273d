//! authd and the posts example over HTTP: 401 versus 403 (RFC 6750 §3),
//! every kind of bad token, key rotation, and the verifier's JWKS cache.

use std::time::{Duration, Instant};

use actix_web::{web, App, HttpServer};
use authd::resource::Verifier;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

use crate::support::fixtures::{self, conn, post, role, user, ClientSpec, Reply, TestClient};
use crate::support::helpers::{authd_json, on_every_backend, TestApp, TestDb};

#[path = "../../examples/posts_api.rs"]
#[allow(dead_code)]
mod posts_api;

pub(crate) const AUD: &str = "https://posts.example";

pub(crate) struct PostsApp {
    pub(crate) base: String,
    pub(crate) handle: actix_web::dev::ServerHandle,
}

impl PostsApp {
    pub(crate) async fn spawn(issuer: &str, refetch: Duration) -> PostsApp {
        let verifier = Verifier::builder(issuer, AUD)
            .refetch_interval(refetch)
            .build()
            .unwrap();
        PostsApp::serve(verifier).await
    }

    /// The posts example behind `verifier`.
    pub(crate) async fn serve(verifier: Verifier) -> PostsApp {
        let verifier = web::Data::new(verifier);
        let store = web::Data::new(posts_api::Store::default());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(verifier.clone())
                .app_data(store.clone())
                .configure(posts_api::routes)
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let base = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        PostsApp { base, handle }
    }
}

pub(crate) async fn call(
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let client = reqwest::Client::new();
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    fixtures::reply(req.send().await.unwrap()).await
}

/// Role writer (read, write), role moderator (+ delete), two users, and a
/// client for the posts audience.
pub(crate) fn setup(db: &TestDb) -> TestClient {
    role(db, "writer", "posts:read posts:write");
    role(db, "moderator", "posts:delete");
    user(db, "alice", "correct horse", &["writer"]);
    user(db, "mod", "correct horse", &["writer", "moderator"]);
    ClientSpec::new(db)
        .grants(&["password", "refresh_token"])
        .scopes("posts:read posts:write posts:delete")
        .audience(AUD)
        .create()
}

pub(crate) async fn login(app: &TestApp, c: &TestClient, username: &str) -> String {
    let r = post(
        app,
        "/oauth/token",
        Some(c),
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", "correct horse"),
        ],
    )
    .await;
    r.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_string()
}

/// The active signing key from the database, to forge tokens the posts
/// API must still refuse.
pub(crate) fn active_key(db: &TestDb) -> (String, authd::keys::SigningAlg, EncodingKey) {
    let row = authd::db::signing_keys::active(&mut conn(db))
        .unwrap()
        .unwrap();
    let alg: authd::keys::SigningAlg = row.alg.parse().unwrap();
    let vault = authd::keys::KeyVault::from_file(&db.key_file(), false).unwrap();
    let pem = vault.open(&row.kid, &row.private_key_sealed).unwrap();
    (
        row.kid.clone(),
        alg,
        authd::keys::encoding_key(alg, &pem).unwrap(),
    )
}

pub(crate) fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

pub(crate) fn good_claims(issuer: &str) -> Value {
    let now = authd::clock::Clock::system().now();
    json!({"iss": issuer, "sub": "u1", "aud": AUD, "exp": now + 300, "iat": now,
           "jti": "j1", "client_id": "c1", "scope": "posts:read posts:write posts:delete"})
}

pub(crate) fn assert_401(r: &Reply, what: &str, with_error: bool) {
    assert_eq!(r.status, 401, "{what}: {}", r.raw);
    let challenge = r
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: no challenge"));
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{AUD}\"")),
        "{what}: {challenge}"
    );
    if with_error {
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert!(
            challenge.contains("error_description=\""),
            "{what}: {challenge}"
        );
        assert_eq!(r.body["error"], "invalid_token", "{what}");
    } else {
        assert!(!challenge.contains("error="), "{what}: {challenge}");
    }
}

#[actix_web::test]
async fn posts_api_401_403_and_success() {
    on_every_backend(|db| async move {
        let authd = TestApp::spawn(&db).await;
        let c = setup(&db);
        let api = PostsApp::spawn(&authd.issuer, Duration::from_secs(1)).await;
        let url = |p: &str| format!("{}{p}", api.base);
        use reqwest::Method as M;

        // No token at all: 401 without an error attribute.
        assert_401(
            &call(M::GET, url("/posts"), None, None).await,
            "no token",
            false,
        );
        // A token in the query string is not accepted.
        let alice = login(&authd, &c, "alice").await;
        let q = call(
            M::GET,
            url(&format!("/posts?access_token={alice}")),
            None,
            None,
        )
        .await;
        assert_401(&q, "query token", false);

        // Right scope: read, write.
        let r = call(M::GET, url("/posts"), Some(&alice), None).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (200, json!([])),
            "[{}] {}",
            db.label(),
            r.raw
        );
        let r = call(
            M::POST,
            url("/posts"),
            Some(&alice),
            Some(json!({"title": "Hi", "body": "first"})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.raw);
        let id = r.body["id"].as_u64().unwrap();
        assert_eq!(r.body["title"], "Hi");

        // Missing scope: 403 insufficient_scope, checked before the lookup.
        for path in [format!("/posts/{id}"), "/posts/999".to_string()] {
            let r = call(M::DELETE, url(&path), Some(&alice), None).await;
            assert_eq!(r.status, 403, "{}", r.raw);
            assert_eq!(
                r.header("www-authenticate"),
                Some(r#"Bearer error="insufficient_scope", scope="posts:delete""#)
            );
            assert_eq!(r.body["error"], "insufficient_scope");
        }
        // The moderator may delete: 204, then 404.
        let moderator = login(&authd, &c, "mod").await;
        assert_eq!(
            call(
                M::DELETE,
                url(&format!("/posts/{id}")),
                Some(&moderator),
                None
            )
            .await
            .status,
            204
        );
        assert_eq!(
            call(
                M::DELETE,
                url(&format!("/posts/{id}")),
                Some(&moderator),
                None
            )
            .await
            .status,
            404
        );

        // A token narrowed to posts:read cannot write.
        let r = post(
            &authd,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct horse"),
                ("scope", "posts:read"),
            ],
        )
        .await;
        let reader = r.body["access_token"].as_str().unwrap();
        let w = call(
            M::POST,
            url("/posts"),
            Some(reader),
            Some(json!({"title": "x", "body": "y"})),
        )
        .await;
        assert_eq!(w.status, 403);
        assert_eq!(
            w.header("www-authenticate"),
            Some(r#"Bearer error="insufficient_scope", scope="posts:write""#)
        );
        api.handle.stop(false).await;
        authd.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn key_rotation_while_both_run() {
    on_every_backend(|db| async move {
        let authd = TestApp::spawn(&db).await;
        let c = setup(&db);
        let api = PostsApp::spawn(&authd.issuer, Duration::from_secs(1)).await;
        let url = format!("{}/posts", api.base);
        let old = login(&authd, &c, "alice").await;
        assert_eq!(
            call(reqwest::Method::GET, url.clone(), Some(&old), None)
                .await
                .status,
            200
        );

        let new_kid = authd_json(&db, &["keys", "rotate"], None)["kid"]
            .as_str()
            .unwrap()
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let fresh = login(&authd, &c, "alice").await;
            let signed_new = jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref()
                == Some(new_kid.as_str());
            let status = call(reqwest::Method::GET, url.clone(), Some(&fresh), None)
                .await
                .status;
            if signed_new && status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] new key not accepted (status {status})",
                db.label()
            );
            actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        }
        // Old tokens stay valid until they expire.
        assert_eq!(
            call(reqwest::Method::GET, url.clone(), Some(&old), None)
                .await
                .status,
            200
        );
        api.handle.stop(false).await;
        authd.stop().await;
    })
    .await;
}

/// The example binary itself, as its README section runs it.
#[actix_web::test]
async fn the_example_binary_serves_with_its_documented_flags() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::sqlite();
    let authd = TestApp::spawn(&db).await;
    let c = setup(&db);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_authd"))
        .parent()
        .unwrap()
        .join("examples/posts_api");
    if !bin.exists() {
        // `cargo test` builds examples; a filtered run may not have.
        let ok = std::process::Command::new(env!("CARGO"))
            .args(["build", "--example", "posts_api"])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let mut child = std::process::Command::new(&bin)
        .args([
            "--issuer",
            &authd.issuer,
            "--audience",
            AUD,
            "--bind",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut base = None;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if let Some(rest) = line.split("listening on ").nth(1) {
            base = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let base = base.expect("the example logs its address");
    let token = login(&authd, &c, "alice").await;
    let r = call(
        reqwest::Method::GET,
        format!("{base}/posts"),
        Some(&token),
        None,
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.status, 200, "{}", r.raw);
    authd.stop().await;
}

// Code written against `authd` keeps compiling now that the verifier lives
// in its own crate: the macro and the types resolve through the re-export.
authd::require_scope!(ReexportedScope, "posts:read");

#[test]
fn the_scope_macro_works_through_authd() {
    use authd::resource::ScopeRequirement;
    assert_eq!(ReexportedScope::SCOPE, "posts:read");
}
