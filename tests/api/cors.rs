//! CORS (docs/interface.md "OpenID Connect", CORS; the Fetch standard's
//! CORS protocol): the token, UserInfo, revocation, JWKS and discovery
//! endpoints answer it for the origins of registered redirect URIs, and
//! for no other origin; no other endpoint ever does.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::Method;

use crate::console::{console, create, logged_in};
use crate::support::fixtures::{role, user, ClientSpec, TestClient};
use crate::support::helpers::{authd_json, on_every_backend, TestApp, TestDb};

/// The origin of the single-page app's redirect URI.
const SPA: &str = "https://spa.example";

/// The endpoints that answer CORS, each with a method it serves.
const LISTED: [(&str, &str); 6] = [
    ("/oauth/token", "POST"),
    ("/oauth/userinfo", "GET"),
    ("/oauth/revoke", "POST"),
    ("/.well-known/jwks.json", "GET"),
    ("/.well-known/openid-configuration", "GET"),
    ("/.well-known/oauth-authorization-server", "GET"),
];

/// A public code-flow client with a web redirect URI at [`SPA`], a
/// loopback one and a private-use one.
fn spa(db: &TestDb) -> TestClient {
    ClientSpec::new(db)
        .name("spa")
        .grants(&["authorization_code", "refresh_token"])
        .scopes("openid")
        .public()
        .redirect_uri(&format!("{SPA}/callback"))
        .redirect_uri("http://127.0.0.1:9000/cb")
        .redirect_uri("com.example.app:/cb")
        .create()
}

/// A preflight of `method` on `path` from `origin`: status and headers.
async fn preflight(app: &TestApp, path: &str, method: &str, origin: &str) -> (u16, HeaderMap) {
    let res = app
        .http
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.headers().clone())
}

/// The request itself (an empty form for a POST), from `origin`.
async fn actual(app: &TestApp, path: &str, method: &str, origin: &str) -> (u16, HeaderMap) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app
        .http
        .request(method.clone(), app.url(path))
        .header("Origin", origin);
    if method == Method::POST {
        req = req
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("");
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.headers().clone())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether `Vary` (all its values) names `Origin`.
fn varies_by_origin(headers: &HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"))
}

/// No header of the CORS protocol at all.
fn assert_no_cors(headers: &HeaderMap, what: &str) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-credentials",
        "access-control-max-age",
        "access-control-expose-headers",
    ] {
        assert!(headers.get(name).is_none(), "{what}: {name} {headers:?}");
    }
}

/// Neither a preflight of `method` on `path` from `origin` nor the
/// request itself gets a CORS header; the request's headers.
async fn assert_refused(
    app: &TestApp,
    path: &str,
    method: &str,
    origin: &str,
    label: &str,
) -> HeaderMap {
    let what = format!("[{label}] {origin} preflight {method} {path}");
    let (status, h) = preflight(app, path, method, origin).await;
    assert_ne!(status, 204, "{what}");
    assert_no_cors(&h, &what);
    let what = format!("[{label}] {origin} {method} {path}");
    let (_, h) = actual(app, path, method, origin).await;
    assert_no_cors(&h, &what);
    h
}

/// A preflight and a request from a registered origin get the CORS
/// headers on each listed endpoint: the origin itself (never `*`), the
/// endpoint's method, `Authorization` and `Content-Type`, a max age,
/// `Vary: Origin`, and never credentials.
#[actix_web::test]
async fn a_registered_origin_gets_cors_on_each_listed_endpoint() {
    on_every_backend(|db| async move {
        spa(&db);
        let app = TestApp::spawn(&db).await;
        let label = db.label();
        for (path, method) in LISTED {
            let what = format!("[{label}] preflight {method} {path}");
            let (status, h) = preflight(&app, path, method, SPA).await;
            assert_eq!(status, 204, "{what}");
            assert_eq!(
                header(&h, "access-control-allow-origin"),
                Some(SPA),
                "{what}"
            );
            let methods = header(&h, "access-control-allow-methods").unwrap_or("");
            assert!(
                methods.split(", ").any(|m| m == method),
                "{what}: {methods}"
            );
            let allowed = header(&h, "access-control-allow-headers")
                .unwrap_or("")
                .to_ascii_lowercase();
            for needed in ["authorization", "content-type"] {
                assert!(
                    allowed.split(", ").any(|a| a == needed),
                    "{what}: {allowed}"
                );
            }
            let max_age = header(&h, "access-control-max-age").unwrap_or("");
            assert!(
                max_age.parse::<u32>().is_ok(),
                "{what}: max age {max_age:?}"
            );
            assert!(varies_by_origin(&h), "{what}: {h:?}");
            assert!(
                h.get("access-control-allow-credentials").is_none(),
                "{what}"
            );

            let what = format!("[{label}] {method} {path}");
            let (_, h) = actual(&app, path, method, SPA).await;
            assert_eq!(
                header(&h, "access-control-allow-origin"),
                Some(SPA),
                "{what}"
            );
            assert!(varies_by_origin(&h), "{what}: {h:?}");
            assert!(
                h.get("access-control-allow-credentials").is_none(),
                "{what}"
            );
        }
        // UserInfo's errors are read from WWW-Authenticate (RFC 6750 §3).
        let (status, h) = actual(&app, "/oauth/userinfo", "GET", SPA).await;
        assert_eq!(status, 401);
        let exposed = header(&h, "access-control-expose-headers").unwrap_or("");
        assert!(
            exposed.eq_ignore_ascii_case("www-authenticate"),
            "{exposed}"
        );
        // The loopback redirect URI's origin, port included, is one too.
        let loopback = "http://127.0.0.1:9000";
        let (_, h) = actual(&app, "/oauth/token", "POST", loopback).await;
        assert_eq!(header(&h, "access-control-allow-origin"), Some(loopback));
        app.stop().await;
    })
    .await;
}

/// Any other origin gets no CORS header, preflight or not, even one that
/// differs from a registered origin only in its scheme or port, or the
/// `null` origin that a private-use scheme's page would send; the
/// responses still say that they vary by origin.
#[actix_web::test]
async fn an_unregistered_origin_gets_no_cors() {
    on_every_backend(|db| async move {
        spa(&db);
        let app = TestApp::spawn(&db).await;
        let label = db.label();
        let others = [
            "https://evil.example",
            "http://spa.example",
            "https://spa.example:8443",
            "https://spa.example.evil.example",
            "http://127.0.0.1:9001",
            "null",
        ];
        for origin in others {
            for (path, method) in LISTED {
                let h = assert_refused(&app, path, method, origin, label).await;
                assert!(varies_by_origin(&h), "[{label}] {origin} {path}: {h:?}");
            }
        }
        app.stop().await;
    })
    .await;
}

/// The endpoints not listed (pages, authorization, introspection, health)
/// never answer CORS, even to a registered origin.
#[actix_web::test]
async fn other_endpoints_never_answer_cors() {
    on_every_backend(|db| async move {
        spa(&db);
        let app = TestApp::spawn(&db).await;
        let label = db.label();
        let others = [
            ("/oauth/introspect", "POST"),
            ("/oauth/authorize", "GET"),
            ("/login", "GET"),
            ("/login", "POST"),
            ("/console", "GET"),
            ("/healthz", "GET"),
        ];
        for (path, method) in others {
            assert_refused(&app, path, method, SPA, label).await;
        }
        app.stop().await;
    })
    .await;
}

/// Whether a request from `origin` to the token endpoint gets CORS.
async fn allowed(app: &TestApp, origin: &str) -> bool {
    let (_, h) = actual(app, "/oauth/token", "POST", origin).await;
    header(&h, "access-control-allow-origin") == Some(origin)
}

/// Waits, a few seconds at most, for `origin` to be `wanted`; whether it
/// came.
async fn turns(app: &TestApp, origin: &str, wanted: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if allowed(app, origin).await == wanted {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The allowed origins follow the clients that another process (the CLI)
/// adds and removes, within the few seconds a reading of them serves.
#[actix_web::test]
async fn origins_follow_clients_added_and_removed() {
    on_every_backend(|db| async move {
        let first = spa(&db);
        let app = TestApp::spawn(&db).await;
        let label = db.label();
        let later = "https://later.example";
        assert!(allowed(&app, SPA).await, "[{label}]");
        assert!(!allowed(&app, later).await, "[{label}]");

        ClientSpec::new(&db)
            .name("later")
            .grants(&["authorization_code"])
            .public()
            .redirect_uri(&format!("{later}/cb"))
            .create();
        assert!(
            turns(&app, later, true).await,
            "[{label}] a new client's origin"
        );

        authd_json(&db, &["client", "remove", &first.id], None);
        assert!(
            turns(&app, SPA, false).await,
            "[{label}] a removed client's origin"
        );
        let (status, h) = preflight(&app, "/oauth/token", "POST", SPA).await;
        assert_ne!(status, 204, "[{label}]");
        assert_no_cors(&h, &format!("[{label}] preflight after removal"));
        assert!(
            allowed(&app, later).await,
            "[{label}] the other client's stays"
        );
        app.stop().await;
    })
    .await;
}

/// A client a user adds or deletes in the console counts at once: the
/// server that made the change does not wait out its reading.
#[actix_web::test]
async fn console_changes_count_at_once() {
    on_every_backend(|db| async move {
        role(&db, "writer", "posts:read");
        user(&db, "alice", "correct horse", &["writer"]);
        let app = TestApp::spawn(&db).await;
        let label = db.label();
        let origin = "https://console-app.example";
        // A reading without it, fresh for the seconds this test takes.
        assert!(!allowed(&app, origin).await, "[{label}]");

        let browser = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&browser).await;
        let redirect = format!("{origin}/cb");
        let form = [
            ("name", "spa"),
            ("grant", "authorization_code"),
            ("scope", "posts:read"),
            ("redirect_uri", redirect.as_str()),
            ("csrf_token", token.as_str()),
        ];
        let page = create(&browser, &form).await;
        assert!(allowed(&app, origin).await, "[{label}] added");

        let r = browser
            .post(&format!("{page}/delete"), &[("csrf_token", &token)])
            .await;
        assert_eq!(r.status, 303, "[{label}] {}", r.raw);
        assert!(!allowed(&app, origin).await, "[{label}] deleted");
        app.stop().await;
    })
    .await;
}
