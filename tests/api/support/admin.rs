//! Calling the admin API (docs/interface.md "Administration"): a token
//! with `authd:admin` from a client_credentials client, and JSON requests.

use serde_json::Value;

use crate::support::fixtures::{post, reply, ClientSpec, Reply, TestClient};
use crate::support::helpers::{TestApp, TestDb};

/// A confidential client_credentials client with `scope`.
pub fn service_client(db: &TestDb, scope: &str) -> TestClient {
    ClientSpec::new(db)
        .grants(&["client_credentials"])
        .scopes(scope)
        .create()
}

/// A client_credentials access token of `c`.
pub async fn client_token(app: &TestApp, c: &TestClient) -> String {
    let r = post(
        app,
        "/oauth/token",
        Some(c),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// An access token with `authd:admin`, of a client made for it.
pub async fn admin_token(app: &TestApp, db: &TestDb) -> String {
    client_token(app, &service_client(db, "authd:admin")).await
}

/// `METHOD base PATH` with `token` (if any) and a JSON body (if any).
pub async fn call_at(
    app: &TestApp,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut req = app.http.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    reply(req.send().await.expect("request")).await
}

/// [`call_at`] on the main listener.
pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    call_at(app, &app.base, method, path, token, body).await
}

/// The CLI's message for a refusal: stderr without `error: ` and the
/// line break, to compare with an `error_description`.
pub fn cli_message(stderr: &str) -> String {
    stderr
        .trim_end()
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("an error line: {stderr}"))
        .to_string()
}
