//! Hostile bytes against the real server, on every backend: oversized and
//! mislabelled bodies, absurd `Authorization` headers, control characters,
//! NUL, invalid UTF-8 and overlong values in every parameter of every
//! grant, at /oauth/token, /oauth/revoke and /oauth/introspect. Each must
//! get a clear 4xx in the RFC 6749 §5.2 shape: never a 500, never a
//! dropped connection.

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;

use crate::support::fixtures::{reply, standard, Reply, TestClient};
use crate::support::helpers::{gather_on_every_backend, TestApp};

const FORM: &[u8] = b"application/x-www-form-urlencoded";
/// Form::read's limit (16 KiB).
const LIMIT: usize = 16 * 1024;

/// One parameter value, written into the body as it stands (`Raw`, which
/// may hold bytes no encoder would produce) or percent-encoded.
#[derive(Clone)]
enum Value {
    Raw(Vec<u8>),
    Text(String),
}

impl Value {
    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    fn raw(b: &[u8]) -> Value {
        Value::Raw(b.to_vec())
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Value::Raw(b) => b.clone(),
            Value::Text(s) => url::form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .into_bytes(),
        }
    }
}

/// A form body from name/value pairs.
fn body(fields: &[(&str, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(&value.bytes());
    }
    out
}

/// One hostile request.
struct Case {
    name: String,
    method: Method,
    content_type: Option<Vec<u8>>,
    /// Each sent as its own `Authorization` header.
    authorization: Vec<Vec<u8>>,
    body: Vec<u8>,
    expect: Expect,
}

/// The answer a case must get; every error must be in the RFC shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Exactly this status.
    Status(u16),
    /// Any 4xx.
    ClientError,
    /// A 4xx, or the endpoint's normal 200: for a revocation or an
    /// introspection by an authenticated client that is well-formed but for
    /// the token it names, which RFC 7009 §2.2 and RFC 7662 §2.2 answer as
    /// for any unknown token.
    ClientErrorOr200,
}

impl Case {
    fn form(name: impl Into<String>, body: Vec<u8>) -> Case {
        Case {
            name: name.into(),
            method: Method::POST,
            content_type: Some(FORM.to_vec()),
            authorization: Vec::new(),
            body,
            expect: Expect::ClientError,
        }
    }

    fn content_type(mut self, value: Option<&[u8]>) -> Case {
        self.content_type = value.map(<[u8]>::to_vec);
        self
    }

    fn authorization(mut self, value: &[u8]) -> Case {
        self.authorization.push(value.to_vec());
        self
    }

    fn status(mut self, status: u16) -> Case {
        self.expect = Expect::Status(status);
        self
    }

    /// At revoke and introspect, see [`Expect::ClientErrorOr200`].
    fn or_ok_at(mut self, path: &str) -> Case {
        if path != "/oauth/token" {
            self.expect = Expect::ClientErrorOr200;
        }
        self
    }
}

fn basic(id: &str, secret: &str) -> Vec<u8> {
    use base64::Engine;
    let raw = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
    .into_bytes()
}

fn basic_of(c: &TestClient) -> Vec<u8> {
    basic(&c.id, c.secret.as_deref().unwrap_or(""))
}

/// Values no parameter should take quietly.
fn hostile_values() -> Vec<(&'static str, Value)> {
    vec![
        (
            "control characters",
            Value::text("a\u{1}\u{2}\u{7f}\t\r\n\u{1b}[0mb"),
        ),
        (
            "raw control characters",
            Value::raw(b"a\x01\x02\x7f\t\r\n\x1b[0mb"),
        ),
        ("overlong value", Value::Text("x".repeat(12 * 1024))),
        ("percent-encoded NUL", Value::raw(b"a%00b")),
        ("percent-encoded invalid UTF-8", Value::raw(b"%FF%FE%C3")),
        ("raw invalid UTF-8", Value::raw(b"a\xff\xfeb")),
        ("bidi override and BOM", Value::text("\u{202e}\u{feff}é")),
        ("lone percent", Value::raw(b"%")),
    ]
}

/// The parameters of each grant, with values that would otherwise pass
/// parsing; the client authenticates in the body (client_secret_post), so
/// that its id and secret are parameters too.
fn grants(c: &TestClient) -> Vec<(&'static str, Vec<(&'static str, Value)>)> {
    let client = |mut fields: Vec<(&'static str, Value)>| {
        fields.push(("client_id", Value::text(&c.id)));
        fields.push((
            "client_secret",
            Value::text(c.secret.as_deref().unwrap_or("")),
        ));
        fields
    };
    vec![
        (
            "password",
            client(vec![
                ("grant_type", Value::text("password")),
                ("username", Value::text("alice")),
                ("password", Value::text("wrong horse")),
                ("scope", Value::text("posts:read")),
            ]),
        ),
        (
            "refresh_token",
            client(vec![
                ("grant_type", Value::text("refresh_token")),
                ("refresh_token", Value::text("not-a-refresh-token")),
                ("scope", Value::text("posts:read")),
            ]),
        ),
        (
            "client_credentials",
            client(vec![
                ("grant_type", Value::text("client_credentials")),
                ("scope", Value::text("posts:read")),
            ]),
        ),
        (
            "authorization_code",
            client(vec![
                ("grant_type", Value::text("authorization_code")),
                ("code", Value::text("not-a-code")),
                ("redirect_uri", Value::text("https://app.example/cb")),
                ("code_verifier", Value::text(&"v".repeat(43))),
            ]),
        ),
    ]
}

/// Every parameter of `fields` in turn replaced by every hostile value;
/// those named in `harmless` may also get the endpoint's normal answer.
fn each_parameter(prefix: &str, fields: &[(&'static str, Value)], harmless: &[&str]) -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, (param, _)) in fields.iter().enumerate() {
        for (what, value) in hostile_values() {
            let mut hostile = fields.to_vec();
            hostile[i].1 = value;
            let mut case = Case::form(format!("{prefix}: {what} in {param}"), body(&hostile));
            if harmless.contains(param) {
                case.expect = Expect::ClientErrorOr200;
            }
            cases.push(case);
        }
    }
    cases
}

/// The cases for one endpoint; `base` is a well-formed body for it that
/// authenticates nobody (no client_id, no secret).
fn cases(path: &str, c: &TestClient) -> Vec<Case> {
    let base: Vec<(&'static str, Value)> = if path == "/oauth/token" {
        vec![
            ("grant_type", Value::text("password")),
            ("username", Value::text("alice")),
            ("password", Value::text("wrong horse")),
        ]
    } else {
        vec![("token", Value::text("not-a-token"))]
    };
    let authed = {
        let mut f = base.clone();
        f.push(("client_id", Value::text(&c.id)));
        f.push((
            "client_secret",
            Value::text(c.secret.as_deref().unwrap_or("")),
        ));
        body(&f)
    };
    let plain = body(&base);
    let padded = |len: usize| {
        let mut b = authed.clone();
        b.extend_from_slice(b"&pad=");
        b.resize(len, b'x');
        b
    };

    let mut cases = vec![
        // Size.
        Case::form("a body of 16 KiB + 1", padded(LIMIT + 1)).status(413),
        Case::form("a body of 1 MiB", padded(1024 * 1024)).status(413),
        Case::form("a body of exactly 16 KiB", padded(LIMIT)).or_ok_at(path),
        // 10,000 of even the shortest parameter exceed the limit.
        Case::form(
            "10,000 repeated parameters",
            [&authed[..], &b"&scope=a".repeat(10_000)].concat(),
        )
        .status(413),
        Case::form(
            "5,000 repeated parameters (under the limit)",
            [&b"a&".repeat(5_000)[..], &authed[..]].concat(),
        )
        .status(400),
        Case::form("a body of only &&&&", b"&&&&".to_vec()),
        Case::form("an empty body", Vec::new()),
        Case::form("a body of only =", b"=".to_vec()),
        Case::form("percent-encoded NUL as a name", [&authed[..], b"&%00=x"].concat()),
        Case::form("raw NUL bytes", [&authed[..], b"&a=\0\0"].concat()),
        Case::form("raw invalid UTF-8", [&authed[..], b"&a=\xc3\x28"].concat()),
        // Form values and names are decoded strictly (docs/interface.md "Strict decoding").
        Case::form("invalid UTF-8 in a name", [&authed[..], b"&%FF=x"].concat()).status(400),
        Case::form("a truncated escape", [&authed[..], b"&a=%E2%82"].concat()).status(400),
        // Content types.
        Case::form("no content type", authed.clone()).content_type(None),
        Case::form("text/plain", authed.clone()).content_type(Some(b"text/plain")),
        Case::form(
            "multipart",
            b"--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n--x--\r\n"
                .to_vec(),
        )
        .content_type(Some(b"multipart/form-data; boundary=x")),
        Case::form("JSON", br#"{"grant_type":"password","username":"alice"}"#.to_vec())
            .content_type(Some(b"application/json")),
        Case::form("an empty content type", authed.clone()).content_type(Some(b"")),
        Case::form("a non-ASCII content type", authed.clone())
            .content_type(Some(b"application/x-www-form-urlencoded\xff")),
        Case::form("a form type with junk parameters", b"&&&&".to_vec())
            .content_type(Some(b"application/x-www-form-urlencoded; charset=\"\xc3\xa9;;;")),
        // Authorization headers.
        Case::form("an empty Authorization", plain.clone()).authorization(b""),
        Case::form("Basic alone", plain.clone()).authorization(b"Basic"),
        Case::form("Basic and a space", plain.clone()).authorization(b"Basic "),
        Case::form("10 KiB of base64", plain.clone())
            .authorization(format!("Basic {}", "QUFB".repeat(2560)).as_bytes()),
        Case::form("10 KiB of valid credentials", plain.clone())
            .authorization(&basic(&"i".repeat(5000), &"s".repeat(2500))),
        Case::form("non-ASCII bytes in Authorization", plain.clone())
            .authorization(b"Basic \xc3\xa9\xff\xfe"),
        Case::form("Bearer x", plain.clone()).authorization(b"Bearer x"),
        Case::form("Basic with a NUL id", plain.clone()).authorization(&basic("a%00b", "s")),
        Case::form("Basic with invalid UTF-8", plain.clone())
            .authorization(&basic("%FF%FE", "%C3")),
        Case::form("Basic without a colon", plain.clone()).authorization(b"Basic YWJj"),
        Case::form("Basic with an empty id", plain.clone()).authorization(&basic("", "s")),
        Case::form("Basic and client_secret_post", authed.clone()).authorization(&basic_of(c)),
        Case::form("two Authorization headers", plain.clone())
            .authorization(&basic_of(c))
            .authorization(&basic("other", "x")),
        Case::form("the same Authorization twice", plain.clone())
            .authorization(&basic_of(c))
            .authorization(&basic_of(c)),
        // Method.
        Case {
            method: Method::PUT,
            ..Case::form("PUT", authed.clone())
        },
    ];
    if path == "/oauth/token" {
        for (grant, fields) in grants(c) {
            cases.extend(each_parameter(grant, &fields, &[]));
        }
    } else {
        let mut fields = base.clone();
        fields.push(("token_type_hint", Value::text("refresh_token")));
        fields.push(("client_id", Value::text(&c.id)));
        fields.push((
            "client_secret",
            Value::text(c.secret.as_deref().unwrap_or("")),
        ));
        cases.extend(each_parameter(
            "form",
            &fields,
            &["token", "token_type_hint"],
        ));
    }
    cases
}

async fn send(app: &TestApp, path: &str, case: &Case) -> Result<Reply, String> {
    let mut req = app
        .http
        .request(case.method.clone(), app.url(path))
        .body(case.body.clone());
    if let Some(ct) = &case.content_type {
        let value = HeaderValue::from_bytes(ct).map_err(|e| format!("bad test header: {e}"))?;
        req = req.header(CONTENT_TYPE, value);
    }
    for a in &case.authorization {
        let value = HeaderValue::from_bytes(a).map_err(|e| format!("bad test header: {e}"))?;
        req = req.header(AUTHORIZATION, value);
    }
    let res = req.send().await.map_err(|e| format!("no answer: {e}"))?;
    Ok(reply(res).await)
}

/// What is wrong with `r` as `path`'s answer to `case`.
fn problems(path: &str, case: &Case, r: &Reply) -> Vec<String> {
    let mut found = Vec::new();
    if r.status == 200 && case.expect == Expect::ClientErrorOr200 {
        if path == "/oauth/introspect" && r.body != serde_json::json!({"active": false}) {
            found.push("an introspection of garbage is not {\"active\":false}".into());
        }
        return found;
    }
    match case.expect {
        Expect::Status(s) if r.status != s => {
            found.push(format!("status {}, expected {s}", r.status))
        }
        Expect::ClientError | Expect::ClientErrorOr200 if !(400..=499).contains(&r.status) => {
            found.push(format!("status {}, expected a 4xx", r.status))
        }
        _ => {}
    }
    if r.body["error"].as_str().is_none_or(str::is_empty) {
        found.push("no error code".into());
    }
    match r.body["error_description"].as_str() {
        None => found.push("no error_description".into()),
        // RFC 6749 §5.2's character set, and short: no echo of the request.
        Some(d)
            if !d
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)) =>
        {
            found.push("error_description outside RFC 6749's character set".into())
        }
        Some(d) if d.len() > 256 => found.push(format!("error_description of {} bytes", d.len())),
        Some(_) => {}
    }
    found
}

#[actix_web::test]
async fn hostile_requests_get_clear_client_errors() {
    let runs = gather_on_every_backend(|db| async move {
        let (mut sent, mut failures) = (0, Vec::new());
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        for path in ["/oauth/token", "/oauth/revoke", "/oauth/introspect"] {
            for case in cases(path, &c) {
                sent += 1;
                let answer = send(&app, path, &case).await;
                let found = match &answer {
                    Ok(r) => problems(path, &case, r),
                    Err(e) => vec![e.clone()],
                };
                if !found.is_empty() {
                    let raw = answer.map(|r| r.raw).unwrap_or_default();
                    let shown: String = raw.chars().take(300).collect();
                    failures.push(format!(
                        "[{}] {path} {}: {}\n    body: {shown}",
                        db.label(),
                        case.name,
                        found.join("; "),
                    ));
                }
            }
        }
        // Still serving after all of that.
        assert_eq!(app.status("/healthz").await, 200, "[{}]", db.label());
        app.stop().await;
        (sent, failures)
    })
    .await;
    let sent: usize = runs.iter().map(|(sent, _)| sent).sum();
    let failures: Vec<String> = runs.into_iter().flat_map(|(_, f)| f).collect();
    assert!(sent > 0);
    assert!(
        failures.is_empty(),
        "{} of {sent} hostile requests got an unclear answer:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
