//! `GET /metrics`: Prometheus text that parses line by line, counters that
//! move with the requests made, and the metrics' own listener.

use std::collections::HashMap;

use crate::support::fixtures::{
    login_as, password_grant, post, standard, ClientSpec, Reply, TestClient,
};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};

/// One sample line: name, labels, value.
#[derive(Debug)]
pub(crate) struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Reads `name="value"` pairs up to the closing brace; returns them and
/// the rest of the line.
fn labels(mut rest: &str, line: &str) -> (Vec<(String, String)>, String) {
    let mut out = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (out, after.to_string());
        }
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label without =\": {line}"));
        assert!(is_name(name), "bad label name {name:?}: {line}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("bad escape {other:?}: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        out.push((name.to_string(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Parses the text format (version 0.0.4), asserting every line's shape:
/// `# HELP name text`, `# TYPE name type`, or `name{labels} value`, each
/// sample of a family whose TYPE came first.
fn parse(text: &str) -> Vec<Sample> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
            let name = name.unwrap_or_else(|| panic!("comment without a name: {line}"));
            assert!(is_name(name), "bad metric name: {line}");
            match kind {
                Some("HELP") => assert!(rest.is_some_and(|h| !h.is_empty()), "{line}"),
                Some("TYPE") => {
                    let t = rest.unwrap_or("");
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                        "bad type: {line}"
                    );
                    types.insert(name.to_string(), t.to_string());
                }
                _ => panic!("unknown comment: {line}"),
            }
            continue;
        }
        let end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("sample without a value: {line}"));
        let name = &line[..end];
        assert!(is_name(name), "bad metric name: {line}");
        let (labels, rest) = match line[end..].strip_prefix('{') {
            Some(inner) => labels(inner, line),
            None => (Vec::new(), line[end..].to_string()),
        };
        let value = rest
            .strip_prefix(' ')
            .and_then(|v| v.split(' ').next())
            .unwrap_or_else(|| panic!("no space before the value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value {value:?}: {line}"));
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {line}");
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    samples
}

/// The value of the sample with exactly these labels.
/// The labels of a `/healthz` 200 and of a request no route matched.
const HEALTHZ_OK: [(&str, &str); 3] = [
    ("endpoint", "/healthz"),
    ("grant_type", ""),
    ("status", "2xx"),
];
const UNMATCHED_4XX: [(&str, &str); 3] = [
    ("endpoint", "unmatched"),
    ("grant_type", ""),
    ("status", "4xx"),
];

pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .map(|s| s.value)
}

/// Scrapes `base`/metrics: 200, the text format's content type, parsed.
pub(crate) async fn scrape(app: &TestApp, base: &str) -> Vec<Sample> {
    let res = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse(&res.text().await.unwrap())
}

async fn refresh(app: &TestApp, c: &TestClient, token: &str) -> Reply {
    post(
        app,
        "/oauth/token",
        Some(c),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// `authd_http_requests_total` of the token endpoint for one grant and
/// status class.
fn token_requests(samples: &[Sample], grant: &str, status: &str) -> Option<f64> {
    value(
        samples,
        "authd_http_requests_total",
        &[
            ("endpoint", "/oauth/token"),
            ("grant_type", grant),
            ("status", status),
        ],
    )
}

#[actix_web::test]
async fn counters_follow_logins_refreshes_reuse_and_client_credentials() {
    on_every_backend(|db| async move {
        let label = db.label();
        let user_client = standard(&db);
        let service = ClientSpec::new(&db)
            .grants(&["client_credentials"])
            .scopes("posts:read")
            .create();
        let app = TestApp::spawn(&db).await;

        let login = password_grant(&app, &user_client, &[]).await;
        assert_eq!(login.status, 200, "[{label}] {}", login.raw);
        let first = login.body["refresh_token"].as_str().unwrap().to_string();
        let rotated = refresh(&app, &user_client, &first).await;
        assert_eq!(rotated.status, 200, "[{label}] {}", rotated.raw);
        refresh(&app, &user_client, &first)
            .await
            .assert_error(400, "invalid_grant");
        let cc = post(
            &app,
            "/oauth/token",
            Some(&service),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(cc.status, 200, "[{label}] {}", cc.raw);
        post(
            &app,
            "/oauth/token",
            Some(&service),
            &[("grant_type", "urn:x")],
        )
        .await
        .assert_error(400, "unsupported_grant_type");
        assert_eq!(app.status("/healthz").await, 200);
        assert_eq!(app.status("/no/such/path/4711").await, 404);

        let m = scrape(&app, &app.base).await;
        let issued = |g| value(&m, "authd_tokens_issued_total", &[("grant_type", g)]);
        assert_eq!(issued("password"), Some(1.0), "[{label}]");
        assert_eq!(issued("refresh_token"), Some(1.0), "[{label}]");
        assert_eq!(issued("client_credentials"), Some(1.0), "[{label}]");
        assert_eq!(issued("authorization_code"), Some(0.0), "[{label}]");
        assert_eq!(
            value(&m, "authd_refresh_token_reuse_total", &[]),
            Some(1.0),
            "[{label}]"
        );

        // SQLite's writer ran the login's, the rotation's and the reuse's
        // writes (and maybe a session or janitor write); on PostgreSQL the
        // series count the rotation thread's work: the one rotation.
        let writes = value(&m, "authd_db_writer_writes_total", &[]);
        let batches = value(&m, "authd_db_writer_batch_size_count", &[]);
        if label == "sqlite" {
            assert!(writes.is_some_and(|w| w >= 3.0), "[{label}] {writes:?}");
            assert!(batches.is_some_and(|b| b >= 1.0), "[{label}] {batches:?}");
            let summed = value(&m, "authd_db_writer_batch_size_sum", &[]);
            assert_eq!(summed, writes, "[{label}] the histogram sums the writes");
        } else {
            assert_eq!((writes, batches), (Some(1.0), Some(1.0)), "[{label}]");
        }

        assert_eq!(token_requests(&m, "password", "2xx"), Some(1.0));
        assert_eq!(token_requests(&m, "refresh_token", "2xx"), Some(1.0));
        assert_eq!(token_requests(&m, "refresh_token", "4xx"), Some(1.0));
        assert_eq!(token_requests(&m, "client_credentials", "2xx"), Some(1.0));
        assert_eq!(token_requests(&m, "other", "4xx"), Some(1.0));
        let healthz = HEALTHZ_OK;
        assert_eq!(value(&m, "authd_http_requests_total", &healthz), Some(1.0));
        let unmatched = UNMATCHED_4XX;
        assert_eq!(
            value(&m, "authd_http_requests_total", &unmatched),
            Some(1.0)
        );
        assert!(
            m.iter()
                .flat_map(|s| &s.labels)
                .all(|(_, v)| !v.contains("/no/such")),
            "[{label}] a raw path became a label value"
        );
        // The histogram counts the same requests, and every observation
        // falls in the +Inf bucket.
        let timed = [
            ("endpoint", "/oauth/token"),
            ("grant_type", "refresh_token"),
            ("status", "4xx"),
        ];
        assert_eq!(
            value(&m, "authd_http_request_duration_seconds_count", &timed),
            Some(1.0)
        );
        let mut inf = timed.to_vec();
        inf.push(("le", "+Inf"));
        assert_eq!(
            value(&m, "authd_http_request_duration_seconds_bucket", &inf),
            Some(1.0)
        );

        // Read at the scrape: nothing hashing, nothing waiting, the pool
        // open and nothing timed out.
        assert_eq!(value(&m, "authd_password_hashes_running", &[]), Some(0.0));
        assert_eq!(value(&m, "authd_password_queue_waiting", &[]), Some(0.0));
        let idle = value(&m, "authd_db_connections_idle", &[]).unwrap();
        let in_use = value(&m, "authd_db_connections_in_use", &[]).unwrap();
        assert!(
            idle + in_use >= 1.0,
            "[{label}] {idle} idle, {in_use} in use"
        );
        assert_eq!(
            value(&m, "authd_db_connection_timeouts_total", &[]),
            Some(0.0)
        );

        // The scrape itself is counted once answered.
        let again = scrape(&app, &app.base).await;
        let scrapes = [
            ("endpoint", "/metrics"),
            ("grant_type", ""),
            ("status", "2xx"),
        ];
        assert_eq!(
            value(&again, "authd_http_requests_total", &scrapes),
            Some(1.0)
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn lockouts_and_address_limits_are_counted() {
    // Counting is the same on every backend (the lockout rules are tested
    // on each in lockout.rs).
    let db = TestDb::sqlite();
    let c = standard(&db);
    let app = TestApp::spawn_with(
        &db,
        &[
            "--login-max-failures",
            "2",
            "--ip-max-failures",
            "3",
            "--ip-failure-window",
            "60",
        ],
    )
    .await;
    for _ in 0..2 {
        login_as(&app, &c, "alice", "wrong password")
            .await
            .assert_error(400, "invalid_grant");
    }
    login_as(&app, &c, "bob", "wrong password")
        .await
        .assert_error(400, "invalid_grant");
    login_as(&app, &c, "carol", "wrong password")
        .await
        .assert_error(429, "temporarily_unavailable");
    let m = scrape(&app, &app.base).await;
    assert_eq!(value(&m, "authd_username_lockouts_total", &[]), Some(1.0));
    let rejected = |reason| value(&m, "authd_login_rejections_total", &[("reason", reason)]);
    assert_eq!(rejected("address_limited"), Some(1.0));
    assert_eq!(rejected("busy"), Some(0.0));
    assert_eq!(token_requests(&m, "password", "4xx"), Some(4.0));
    app.stop().await;
}

/// Argon2 settings that make one verification take a noticeable while.
const SLOW_HASH: &[&str] = &["--argon2-memory-kib", "8192", "--argon2-iterations", "40"];

#[actix_web::test]
async fn busy_refusals_and_hashing_slots_are_seen() {
    let db = TestDb::sqlite();
    let c = standard(&db);
    let mut args = SLOW_HASH.to_vec();
    args.extend(["--password-concurrency", "1", "--password-queue", "1"]);
    let app = TestApp::spawn_with(&db, &args).await;
    let logins = futures_util::future::join_all(
        (0..6).map(|_| login_as(&app, &c, "alice", "correct horse")),
    );
    // Scrape while the logins run: the one slot is seen taken.
    let watch = async {
        let mut most = 0.0_f64;
        for _ in 0..200 {
            let m = scrape(&app, &app.base).await;
            let running = value(&m, "authd_password_hashes_running", &[]).unwrap();
            most = most.max(running);
            if most >= 1.0 {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        most
    };
    let (replies, most) = futures_util::future::join(logins, watch).await;
    assert_eq!(most, 1.0, "a running hash shows in the gauge");
    let busy = replies.iter().filter(|r| r.status == 503).count();
    assert!(busy > 0, "no 503 for 6 logins on 1 slot + 1 queued");
    let m = scrape(&app, &app.base).await;
    assert_eq!(
        value(&m, "authd_login_rejections_total", &[("reason", "busy")]),
        Some(busy as f64)
    );
    assert_eq!(token_requests(&m, "password", "5xx"), Some(busy as f64));
    app.stop().await;
}

#[actix_web::test]
async fn with_an_address_of_their_own_metrics_leave_the_main_listener() {
    // The listeners do not depend on the backend.
    let db = TestDb::sqlite();
    let app = TestApp::spawn_with(&db, &["--metrics-bind", "127.0.0.1:0"]).await;
    let own = app.metrics_base.clone().expect("a metrics address");
    assert_ne!(own, app.base);
    assert_eq!(app.status("/metrics").await, 404);
    assert_eq!(app.status("/healthz").await, 200);
    let m = scrape(&app, &own).await;
    // The main listener's requests are counted there, 404 included.
    let healthz = HEALTHZ_OK;
    assert_eq!(value(&m, "authd_http_requests_total", &healthz), Some(1.0));
    let unmatched = UNMATCHED_4XX;
    assert_eq!(
        value(&m, "authd_http_requests_total", &unmatched),
        Some(1.0)
    );
    app.stop().await;
    // Stopping the server stops its metrics listener too.
    let mut gone = false;
    for _ in 0..50 {
        if app_unreachable(&own).await {
            gone = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the metrics listener outlived the server");
}

async fn app_unreachable(base: &str) -> bool {
    reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .timeout(std::time::Duration::from_secs(1))
        .send()
        .await
        .is_err()
}

/// The status of `GET base/metrics` carrying `header`.
async fn forwarded_status(base: &str, header: (&str, &str)) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Without `--metrics-bind`, the main listener serves the metrics to this
/// host alone: a request a reverse proxy forwarded (it names another
/// client) finds no such path, while a local scrape still works. With an
/// address of their own, the metrics answer whoever reaches it.
#[actix_web::test]
async fn on_the_main_listener_metrics_are_for_this_host_only() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        for header in [
            ("X-Forwarded-For", "203.0.113.9"),
            ("Forwarded", "for=203.0.113.9"),
            ("X-Real-IP", "203.0.113.9"),
        ] {
            assert_eq!(
                forwarded_status(&app.base, header).await,
                404,
                "[{}] {header:?}",
                db.label()
            );
        }
        assert_eq!(app.status("/metrics").await, 200, "[{}]", db.label());
        assert!(!scrape(&app, &app.base).await.is_empty());
        app.stop().await;

        let app = TestApp::spawn_with(&db, &["--metrics-bind", "127.0.0.1:0"]).await;
        let own = app.metrics_base.clone().expect("a metrics address");
        let header = ("X-Forwarded-For", "203.0.113.9");
        assert_eq!(
            forwarded_status(&own, header).await,
            200,
            "[{}]",
            db.label()
        );
        app.stop().await;
    })
    .await;
}
