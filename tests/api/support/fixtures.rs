//! Data for token tests, created through the library's manage layer (the
//! CLI tests cover the binary), and small HTTP helpers.

use authd::db::{self, AnyConnection};
use authd::manage::clients::NewClient;
use authd::manage::{clients, roles, users};
use authd::password::Passwords;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::support::helpers::{TestApp, TestDb, CHEAP_ARGON2};

/// A direct connection to the test database.
pub fn conn(db: &TestDb) -> AnyConnection {
    let url = db::DatabaseUrl::parse(db.url()).unwrap();
    let mut conn = db::connect(&url).unwrap();
    db::migrate(&mut conn).unwrap();
    conn
}

/// Creates a role.
pub fn role(db: &TestDb, name: &str, scopes: &str) {
    roles::add(
        &mut conn(db),
        name,
        &[scopes.to_string()],
        authd::clock::Clock::system().now(),
    )
    .unwrap();
}

/// A password hash at [`CHEAP_ARGON2`] cost.
pub fn hash_password(password: &str) -> String {
    Passwords::new(CHEAP_ARGON2, 1, 0)
        .unwrap()
        .hash_blocking(password)
        .unwrap()
}

/// Creates a user with roles; returns their id.
pub fn user(db: &TestDb, name: &str, password: &str, role_names: &[&str]) -> String {
    let hash = hash_password(password);
    let role_names: Vec<String> = role_names.iter().map(|r| r.to_string()).collect();
    users::add(
        &mut conn(db),
        name,
        &hash,
        &role_names,
        authd::clock::Clock::system().now(),
    )
    .unwrap()
    .id
}

/// A registered client.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

/// A client to register, e.g.
/// `ClientSpec::new(&db).grants(&["password"]).scopes("a b").public().create()`.
/// Unless told otherwise: confidential, the CLI's default grants
/// (password refresh_token), no scopes, tokens for the issuer.
pub struct ClientSpec<'a> {
    db: &'a TestDb,
    new: NewClient,
}

impl<'a> ClientSpec<'a> {
    pub fn new(db: &'a TestDb) -> ClientSpec<'a> {
        ClientSpec {
            db,
            new: NewClient {
                name: "test app".into(),
                ..NewClient::default()
            },
        }
    }

    /// The display name (the consent page shows it).
    pub fn name(mut self, name: &str) -> Self {
        self.new.name = name.to_string();
        self
    }

    pub fn grants(mut self, grants: &[&str]) -> Self {
        self.new.grants = grants.iter().map(|g| g.to_string()).collect();
        self
    }

    /// Space-separated.
    pub fn scopes(mut self, scopes: &str) -> Self {
        self.new.scopes = vec![scopes.to_string()];
        self
    }

    /// No secret.
    pub fn public(mut self) -> Self {
        self.new.public = true;
        self
    }

    /// A redirect URI (repeatable).
    pub fn redirect_uri(mut self, uri: &str) -> Self {
        self.new.redirect_uris.push(uri.to_string());
        self
    }

    /// An audience whose access tokens it may introspect (repeatable).
    pub fn introspects(mut self, audience: &str) -> Self {
        self.new.introspects.push(audience.to_string());
        self
    }

    /// The `aud` of its tokens.
    pub fn audience(mut self, audience: &str) -> Self {
        self.new.audience = Some(audience.to_string());
        self
    }

    /// The algorithm of its ID tokens.
    pub fn id_token_alg(mut self, alg: authd::keys::SigningAlg) -> Self {
        self.new.id_token_alg = Some(alg);
        self
    }

    /// Never shows the consent page (`--first-party`).
    pub fn first_party(mut self) -> Self {
        self.new.first_party = true;
        self
    }

    /// A post-logout redirect URI (repeatable).
    pub fn post_logout_redirect_uri(mut self, uri: &str) -> Self {
        self.new.post_logout_redirect_uris.push(uri.to_string());
        self
    }

    /// Where it hears of a session's end (back-channel logout).
    pub fn backchannel_logout_uri(mut self, uri: &str) -> Self {
        self.new.backchannel_logout_uri = Some(uri.to_string());
        self
    }

    /// Registered by this user (as in the console), not by an admin.
    pub fn owner(mut self, user_id: &str) -> Self {
        self.new.owner_id = Some(user_id.to_string());
        self
    }

    /// Registers it.
    pub fn create(self) -> TestClient {
        let created = clients::add(
            &mut conn(self.db),
            &self.new,
            authd::clock::Clock::system().now(),
        )
        .unwrap();
        TestClient {
            id: created.client.client_id,
            secret: created.secret.map(|s| s.expose().to_string()),
        }
    }
}

/// The usual setup: role `writer` (posts:read posts:write), user alice
/// with it, and a confidential client for password + refresh_token with
/// posts:read posts:write posts:delete.
pub fn standard(db: &TestDb) -> TestClient {
    role(db, "writer", "posts:read posts:write");
    user(db, "alice", "correct horse", &["writer"]);
    ClientSpec::new(db)
        .grants(&["password", "refresh_token"])
        .scopes("posts:read posts:write posts:delete")
        .create()
}

/// The ids of [`standard`]'s user (alice) and client.
pub fn standard_ids(c: &mut AnyConnection) -> (String, String) {
    let user = authd::db::users::by_username(c, "alice").unwrap().unwrap();
    let client_id = clients::list(c, None).unwrap()[0].client_id.clone();
    (user.id, client_id)
}

/// A response: status, headers, JSON body (Null when empty).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// Asserts an error response: status and RFC 6749 error code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.error()), (status, code), "{}", self.raw);
    }
}

/// POSTs a form with HTTP Basic client authentication (if `basic`).
pub async fn post(
    app: &TestApp,
    path: &str,
    basic: Option<&TestClient>,
    form: &[(&str, &str)],
) -> Reply {
    let mut req = app.http.post(app.url(path)).form(form);
    if let Some(c) = basic {
        req = req.basic_auth(&c.id, c.secret.as_deref());
    }
    reply(req.send().await.unwrap()).await
}

/// Collects a response.
pub async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let raw = res.text().await.unwrap();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        raw,
    }
}

/// The password grant for `username` with `c`.
pub async fn login_as(app: &TestApp, c: &TestClient, username: &str, password: &str) -> Reply {
    post(
        app,
        "/oauth/token",
        Some(c),
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

/// The password grant for alice with `c`.
pub async fn password_grant(app: &TestApp, c: &TestClient, extra: &[(&str, &str)]) -> Reply {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "correct horse"),
    ];
    form.extend_from_slice(extra);
    post(app, "/oauth/token", Some(c), &form).await
}

/// Verifies a JWT the way an independent resource server would: keys from
/// the JWKS endpoint, standard `jsonwebtoken` validation. Returns header
/// and claims.
pub async fn verify_with_jwks(
    app: &TestApp,
    token: &str,
    audience: &str,
) -> (jsonwebtoken::Header, Value) {
    let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.clone().expect("kid");
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS"));
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut v = Validation::new(header.alg);
    v.set_audience(&[audience]);
    v.set_issuer(&[app.issuer.as_str()]);
    let data =
        jsonwebtoken::decode::<Value>(token, &key, &v).expect("token verifies with the JWKS");
    (header, data.claims)
}
