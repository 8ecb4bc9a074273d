//! Every error of the token endpoint's table (docs/interface.md "Token endpoint"), on every backend: a
//! table of requests and the answer each must get.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::fixtures::{self, reply, standard, user, ClientSpec, Reply, TestClient};
use crate::support::helpers::{gather_on_every_backend, TestApp};

/// How a form request authenticates its client, besides its form fields.
enum Auth {
    None,
    Basic(TestClient),
    /// A raw `Authorization` header.
    Header(String),
}

/// What a case sends to /oauth/token.
enum Request {
    /// A form-encoded POST.
    Form(Auth, Vec<(&'static str, String)>),
    /// A POST with a JSON body.
    Json(Value),
    /// A POST of these bytes, labelled form-urlencoded.
    RawForm(Auth, Vec<u8>),
    Get,
}

const INVALID_CLIENT_HEADERS: &[(&str, &str)] = &[
    ("www-authenticate", r#"Basic realm="authd""#),
    ("cache-control", "no-store"),
];
const NO_STORE: &[(&str, &str)] = &[("cache-control", "no-store")];

struct Case {
    name: &'static str,
    request: Request,
    status: u16,
    /// The RFC 6749 error code; `None` when the answer has none to check.
    error: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    /// An earlier case whose body this one's must equal byte for byte.
    same_body_as: Option<&'static str>,
}

impl Case {
    fn new(name: &'static str, request: Request) -> Case {
        Case {
            name,
            request,
            status: 0,
            error: None,
            headers: &[],
            same_body_as: None,
        }
    }

    fn answers(mut self, status: u16) -> Case {
        self.status = status;
        self
    }

    fn fails(mut self, status: u16, error: &'static str) -> Case {
        self.status = status;
        self.error = Some(error);
        self
    }

    fn invalid_client(self) -> Case {
        self.fails(401, "invalid_client")
            .headers(INVALID_CLIENT_HEADERS)
    }

    fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Case {
        self.headers = headers;
        self
    }

    fn same_body_as(mut self, earlier: &'static str) -> Case {
        self.same_body_as = Some(earlier);
        self
    }
}

fn form(auth: Auth, fields: &[(&'static str, &str)]) -> Request {
    let fields = fields.iter().map(|(k, v)| (*k, v.to_string())).collect();
    Request::Form(auth, fields)
}

fn basic(c: &TestClient) -> Auth {
    Auth::Basic(c.clone())
}

/// A password grant for `username`.
fn login(auth: Auth, username: &str, password: &str) -> Request {
    form(
        auth,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
}

/// `Basic base64(raw)`: credentials exactly as given, not encoded.
fn basic_header(raw: &[u8]) -> Auth {
    Auth::Header(format!("Basic {}", STANDARD.encode(raw)))
}

/// The clients of the table.
struct Clients {
    /// The standard client: password + refresh_token, alice may use
    /// posts:read posts:write.
    c: TestClient,
    /// A public password client.
    public: TestClient,
    /// A confidential client_credentials client.
    service: TestClient,
    /// A confidential authorization_code client.
    web: TestClient,
}

/// A request from `client_id` without its secret, for `grant_type` with
/// otherwise complete parameters.
fn without_secret(client_id: &str, grant_type: &'static str) -> Request {
    let mut fields = vec![("grant_type", grant_type), ("client_id", client_id)];
    fields.extend_from_slice(grant_params(grant_type));
    form(Auth::None, &fields)
}

/// Complete parameters for each grant.
fn grant_params(grant_type: &str) -> &'static [(&'static str, &'static str)] {
    match grant_type {
        "password" => &[("username", "alice"), ("password", "correct horse")],
        "refresh_token" => &[("refresh_token", "some-refresh-token")],
        "authorization_code" => &[
            ("code", "some-code"),
            ("redirect_uri", "https://app.example/cb"),
            (
                "code_verifier",
                "some-verifier-some-verifier-some-verifier-1234",
            ),
        ],
        _ => &[],
    }
}

/// dora is a disabled user with alice's roles.
fn cases(clients: &Clients) -> Vec<Case> {
    let Clients {
        c,
        public,
        service,
        web,
    } = clients;
    let secret = c.secret.clone().unwrap_or_default();
    let with_secret = |id: &str, secret: &str| {
        Auth::Basic(TestClient {
            id: id.into(),
            secret: Some(secret.into()),
        })
    };
    let scoped = |scope: &str| {
        form(
            basic(c),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct horse"),
                ("scope", scope),
            ],
        )
    };
    let long_user = "u".repeat(10_000);
    vec![
        // invalid_client: wrong secret, unknown client, no authentication,
        // a confidential client without its secret, a malformed header.
        Case::new(
            "wrong secret",
            login(with_secret(&c.id, "wrong"), "alice", "correct horse"),
        )
        .invalid_client(),
        Case::new(
            "unknown client",
            login(with_secret("nope", "x"), "alice", "correct horse"),
        )
        .invalid_client(),
        Case::new(
            "no client authentication",
            form(Auth::None, &[("grant_type", "client_credentials")]),
        )
        .invalid_client(),
        Case::new(
            "confidential client without its secret",
            form(
                Auth::None,
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "correct horse"),
                    ("client_id", &c.id),
                ],
            ),
        )
        .invalid_client(),
        Case::new(
            "Basic header that is not base64",
            form(
                Auth::Header("Basic !!!not-base64".into()),
                &[("grant_type", "client_credentials")],
            ),
        )
        .invalid_client(),
        // A confidential client that sends no secret, whatever the grant
        // (docs/interface.md "Strict decoding").
        Case::new(
            "confidential client without its secret: refresh_token",
            without_secret(&c.id, "refresh_token"),
        )
        .invalid_client(),
        Case::new(
            "confidential client without its secret: client_credentials",
            without_secret(&service.id, "client_credentials"),
        )
        .invalid_client(),
        Case::new(
            "confidential client without its secret: authorization_code",
            without_secret(&web.id, "authorization_code"),
        )
        .invalid_client(),
        Case::new(
            "confidential client with an empty client_secret",
            form(
                Auth::None,
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "correct horse"),
                    ("client_id", &c.id),
                    ("client_secret", ""),
                ],
            ),
        )
        .invalid_client(),
        // Basic credentials decode as a whole (RFC 6749 §2.3.1): what
        // follows an `&` is part of the secret, so this one is wrong.
        Case::new(
            "Basic secret followed by &anything",
            login(
                with_secret(&c.id, &format!("{secret}&anything")),
                "alice",
                "correct horse",
            ),
        )
        .invalid_client(),
        Case::new(
            "Basic credentials not UTF-8 once percent-decoded",
            login(
                basic_header(format!("{}:pass%FEword", c.id).as_bytes()),
                "alice",
                "correct horse",
            ),
        )
        .fails(400, "invalid_request"),
        Case::new(
            "password not UTF-8 once percent-decoded",
            Request::RawForm(
                basic(c),
                b"grant_type=password&username=alice&password=pass%FEword".to_vec(),
            ),
        )
        .fails(400, "invalid_request"),
        // invalid_grant: wrong password, unknown user, disabled user — the
        // same bytes for all three, and the right password works (so each
        // failure is for the one thing changed).
        Case::new(
            "the right password",
            login(basic(c), "alice", "correct horse"),
        )
        .answers(200),
        Case::new("wrong password", login(basic(c), "alice", "wrong horse"))
            .fails(400, "invalid_grant")
            .headers(NO_STORE),
        Case::new("unknown user", login(basic(c), "nobody", "correct horse"))
            .fails(400, "invalid_grant")
            .headers(NO_STORE)
            .same_body_as("wrong password"),
        Case::new("disabled user", login(basic(c), "dora", "correct horse"))
            .fails(400, "invalid_grant")
            .headers(NO_STORE)
            .same_body_as("wrong password"),
        Case::new(
            "unknown grant_type",
            form(basic(c), &[("grant_type", "implicit")]),
        )
        .fails(400, "unsupported_grant_type"),
        // unauthorized_client: a grant the client is not registered for;
        // client_credentials from a public client.
        Case::new(
            "grant the client is not registered for",
            form(basic(c), &[("grant_type", "client_credentials")]),
        )
        .fails(400, "unauthorized_client"),
        Case::new("authorization_code, not registered for it", {
            let mut fields = vec![("grant_type", "authorization_code")];
            fields.extend_from_slice(grant_params("authorization_code"));
            form(basic(c), &fields)
        })
        .fails(400, "unauthorized_client"),
        // An unknown code, from an authenticated client.
        Case::new("authorization_code, unknown code", {
            let mut fields = vec![("grant_type", "authorization_code")];
            fields.extend_from_slice(grant_params("authorization_code"));
            form(basic(web), &fields)
        })
        .fails(400, "invalid_grant"),
        Case::new(
            "client_credentials from a public client",
            form(
                Auth::None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &public.id),
                ],
            ),
        )
        .fails(400, "unauthorized_client"),
        // invalid_scope: outside the client's scopes; none left after the
        // user's roles; malformed.
        Case::new("scope outside the client's", scoped("admin")).fails(400, "invalid_scope"),
        Case::new(
            "scope none of the user's roles grant",
            scoped("posts:delete"),
        )
        .fails(400, "invalid_scope"),
        Case::new("malformed scope", scoped("bad\"scope")).fails(400, "invalid_scope"),
        // invalid_request: missing parameter, repeated parameter, no
        // grant_type, a JSON body, a body that is not UTF-8, a huge body.
        Case::new(
            "missing password",
            form(
                basic(c),
                &[("grant_type", "password"), ("username", "alice")],
            ),
        )
        .fails(400, "invalid_request"),
        Case::new(
            "repeated username",
            form(
                basic(c),
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("username", "bob"),
                    ("password", "x"),
                ],
            ),
        )
        .fails(400, "invalid_request"),
        Case::new("no grant_type", form(basic(c), &[("username", "alice")]))
            .fails(400, "invalid_request"),
        Case::new(
            "JSON body",
            Request::Json(json!({"grant_type": "password"})),
        )
        .fails(400, "invalid_request")
        .headers(&[("cache-control", "no-store"), ("pragma", "no-cache")]),
        Case::new(
            "body that is not UTF-8",
            Request::RawForm(Auth::None, vec![0xff, 0xfe, b'=', 0x80]),
        )
        .fails(400, "invalid_request"),
        // 40 KB: over the body limit.
        Case::new(
            "20,000 empty fields",
            Request::RawForm(Auth::None, "a=".repeat(20_000).into_bytes()),
        )
        .fails(413, "invalid_request"),
        // Input that a database could choke on is still a 4xx, never a 500.
        Case::new("NUL in a username", login(basic(c), "al\0ice", "x"))
            .fails(400, "invalid_request"),
        Case::new(
            "NUL in a client id",
            login(with_secret("a\0b", "s"), "alice", "correct horse"),
        )
        .invalid_client(),
        Case::new("10,000-byte username", login(basic(c), &long_user, "x"))
            .fails(400, "invalid_grant"),
        Case::new("GET", Request::Get)
            .answers(405)
            .headers(&[("allow", "POST")]),
    ]
}

async fn send(app: &TestApp, request: &Request) -> Reply {
    let url = app.url("/oauth/token");
    let authenticated = |req: reqwest::RequestBuilder, auth: &Auth| match auth {
        Auth::None => req,
        Auth::Basic(c) => req.basic_auth(&c.id, c.secret.as_deref()),
        Auth::Header(value) => req.header("authorization", value),
    };
    let req = match request {
        Request::Form(auth, fields) => authenticated(app.http.post(&url).form(fields), auth),
        Request::Json(body) => app.http.post(&url).json(body),
        Request::RawForm(auth, bytes) => authenticated(
            app.http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(bytes.clone()),
            auth,
        ),
        Request::Get => app.http.get(&url),
    };
    reply(req.send().await.unwrap()).await
}

/// What is wrong with `r` as the answer to `case`.
fn problems(case: &Case, r: &Reply, earlier: &HashMap<&str, String>) -> Vec<String> {
    let mut found = Vec::new();
    if r.status != case.status {
        found.push(format!("status {}, expected {}", r.status, case.status));
    }
    if let Some(error) = case.error {
        if r.error() != error {
            found.push(format!("error {:?}, expected {error:?}", r.error()));
        }
        if !r.body["error_description"].is_string() {
            found.push("no error_description".into());
        }
    }
    for (name, value) in case.headers {
        if r.header(name) != Some(value) {
            found.push(format!("{name}: {:?}, expected {value:?}", r.header(name)));
        }
    }
    if let Some(other) = case.same_body_as {
        match earlier.get(other) {
            Some(body) if *body == r.raw => {}
            Some(body) => found.push(format!("body differs from {other:?}'s: {body}")),
            None => found.push(format!("no earlier case {other:?}")),
        }
    }
    found
}

#[actix_web::test]
async fn every_error_of_the_table() {
    let failures: Vec<String> = gather_on_every_backend(|db| async move {
        let mut failures = Vec::new();
        let app = TestApp::spawn(&db).await;
        let clients = Clients {
            c: standard(&db),
            public: ClientSpec::new(&db)
                .grants(&["password"])
                .scopes("posts:read")
                .public()
                .create(),
            service: ClientSpec::new(&db)
                .grants(&["client_credentials"])
                .create(),
            web: ClientSpec::new(&db)
                .grants(&["authorization_code"])
                .redirect_uri("https://app.example/cb")
                .create(),
        };
        user(&db, "dora", "correct horse", &["writer"]);
        authd::manage::users::set_disabled(
            &mut fixtures::conn(&db),
            "dora",
            true,
            authd::clock::Clock::system().now(),
        )
        .unwrap();

        let mut bodies = HashMap::new();
        for case in cases(&clients) {
            let r = send(&app, &case.request).await;
            let found = problems(&case, &r, &bodies);
            if !found.is_empty() {
                failures.push(format!(
                    "[{}] {}: {}\n    body: {}",
                    db.label(),
                    case.name,
                    found.join("; "),
                    r.raw
                ));
            }
            assert!(
                bodies.insert(case.name, r.raw).is_none(),
                "two cases named {:?}",
                case.name
            );
        }
        app.stop().await;
        failures
    })
    .await
    .concat();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
