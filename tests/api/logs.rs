//! Logs and traces (docs/interface.md "Administration", Logs): JSON lines
//! with the request id on every line about a request, the id in every
//! response, audit events as structured fields, no secret in any line,
//! and spans exported over OTLP/HTTP.

use serde_json::Value;

use crate::support::fixtures::{reply, standard, ClientSpec, Reply};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};
use crate::support::otlp::Collector;
use crate::support::process::ServerProcess;

const PASSWORD: &str = "correct horse";

async fn token(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
    request_id: Option<&str>,
) -> Reply {
    let mut req = http.post(url).basic_auth(id, Some(secret)).form(form);
    if let Some(rid) = request_id {
        req = req.header("X-Request-Id", rid);
    }
    reply(req.send().await.expect("request")).await
}

/// Every line of `log`, each one JSON object.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn with_id<'a>(lines: &'a [Value], id: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["request_id"] == id).collect()
}

fn generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[actix_web::test]
async fn json_lines_carry_the_request_id_and_audit_fields_and_no_secret() {
    on_every_backend(|db| async move {
        let label = db.label();
        // From 127.0.0.1, a trusted proxy here: its ids are kept.
        let server = ServerProcess::start_logging(
            &db,
            &["--log-format", "json", "--trusted-proxy", "127.0.0.1"],
            "debug",
        );
        let client = standard(&db);
        let secret = client.secret.clone().expect("confidential");
        let http = reqwest::Client::new();
        let url = server.url("/oauth/token");
        let login = [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
        ];
        let r = token(
            &http,
            &url,
            &client.id,
            &secret,
            &login,
            Some("proxy-req-1"),
        )
        .await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);
        assert_eq!(r.header("x-request-id"), Some("proxy-req-1"), "[{label}]");
        let access = r.body["access_token"].as_str().unwrap().to_string();
        let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
        // No id sent: a new one, returned.
        let form = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
        let r = token(&http, &url, &client.id, &secret, &form, None).await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);
        let refreshed = r.header("x-request-id").expect("an id").to_string();
        assert!(generated(&refreshed), "[{label}] {refreshed}");
        let access2 = r.body["access_token"].as_str().unwrap().to_string();
        let refresh2 = r.body["refresh_token"].as_str().unwrap().to_string();
        // A malformed id from the proxy is replaced; errors and 404s
        // carry an id too.
        let r = token(&http, &url, &client.id, "wrong", &login, Some("a b")).await;
        assert_eq!(r.status, 401, "[{label}] {}", r.raw);
        assert!(generated(r.header("x-request-id").unwrap()), "[{label}]");
        let missing = http
            .get(server.url("/nowhere?code=abc"))
            .header("X-Request-Id", "proxy-404")
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(missing.headers()["x-request-id"], "proxy-404");

        let log = server.stop();
        let lines = json_lines(&log);
        for line in &lines {
            for key in ["timestamp", "level", "target", "message"] {
                assert!(line.get(key).is_some(), "[{label}] no {key}: {line}");
            }
        }
        // The login: its access line and its audit event, both with the
        // proxy's id; the audit event's values as fields.
        let login_lines = with_id(&lines, "proxy-req-1");
        let access_line = login_lines
            .iter()
            .find(|l| l["target"] == "authd::access")
            .unwrap_or_else(|| panic!("[{label}] no access line: {log}"));
        assert_eq!(access_line["path"], "/oauth/token");
        assert_eq!(access_line["method"], "POST");
        assert_eq!(access_line["status"], 200);
        let audit = login_lines
            .iter()
            .find(|l| l["target"] == "authd::audit" && l["event"] == "login")
            .unwrap_or_else(|| panic!("[{label}] no login event: {log}"));
        assert_eq!(audit["outcome"], "success", "[{label}] {audit}");
        assert_eq!(audit["username"], "alice");
        assert_eq!(audit["client_id"], client.id.as_str());
        assert_eq!(audit["grant_type"], "password");
        assert_eq!(audit["remote"], "127.0.0.1");
        assert!(audit["user_id"].as_str().is_some_and(|u| !u.is_empty()));
        // The refresh's lines under the id it was given.
        assert!(
            with_id(&lines, &refreshed)
                .iter()
                .any(|l| l["target"] == "authd::access" && l["status"] == 200),
            "[{label}] {log}"
        );
        // The 404 under the proxy's id, its query string nowhere.
        assert!(
            with_id(&lines, "proxy-404")
                .iter()
                .any(|l| l["path"] == "/nowhere" && l["status"] == 404),
            "[{label}] {log}"
        );
        assert!(!log.contains("code=abc"), "[{label}] query logged");
        // At debug level, no secret of the run.
        for secret in [PASSWORD, &secret, &access, &refresh, &access2, &refresh2] {
            assert!(!log.contains(secret), "[{label}] a secret is logged: {log}");
        }
    })
    .await;
}

#[actix_web::test]
async fn a_clients_own_request_id_is_not_taken() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    for path in ["/healthz", "/nowhere", "/.well-known/openid-configuration"] {
        let res = app
            .http
            .get(app.url(path))
            .header("X-Request-Id", "chosen-by-client")
            .send()
            .await
            .unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap();
        assert!(generated(id), "{path}: {id}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn spans_are_exported_over_otlp_with_the_client_id() {
    let db = TestDb::sqlite();
    let collector = Collector::start();
    let server = ServerProcess::start(
        &db,
        &[
            "--otlp-endpoint",
            &collector.endpoint(),
            "--trusted-proxy",
            "127.0.0.1",
        ],
    );
    let client = ClientSpec::new(&db)
        .grants(&["client_credentials"])
        .scopes("posts:read")
        .create();
    let secret = client.secret.clone().unwrap();
    let http = reqwest::Client::new();
    let form = [("grant_type", "client_credentials")];
    let url = server.url("/oauth/token");
    let r = token(&http, &url, &client.id, &secret, &form, Some("otlp-req-1")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    // SIGTERM: the spans still buffered are sent before the exit.
    let log = server.stop();
    let spans = collector.spans();
    let grant = spans
        .iter()
        .find(|s| s["name"] == "grant")
        .unwrap_or_else(|| panic!("no grant span in {spans:?}\n{log}"));
    assert_eq!(attribute(grant, "client_id"), Some(client.id.as_str()));
    assert_eq!(attribute(grant, "grant_type"), Some("client_credentials"));
    let request = spans
        .iter()
        .find(|s| s["name"] == "request" && attribute(s, "request_id") == Some("otlp-req-1"))
        .unwrap_or_else(|| panic!("no request span in {spans:?}"));
    assert_eq!(attribute(request, "path"), Some("/oauth/token"));
    // The grant is the request's child, in one trace.
    assert_eq!(grant["traceId"], request["traceId"]);
    assert_eq!(grant["parentSpanId"], request["spanId"]);
    assert!(!serde_json::to_string(&spans).unwrap().contains(&secret));
}

/// A span's string attribute.
fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}
