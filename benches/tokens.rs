//! The token path's pieces, one at a time, so that a regression shows in
//! review: signing an access token, authenticating a client, and a refresh
//! rotation at the storage layer (claim + successor), one at a time and
//! sixteen at a time (what the SQLite writer's group commit and the
//! PostgreSQL rotation lanes do). SQLite in a temporary folder,
//! synchronous=FULL as the server runs it; PostgreSQL too when
//! `AUTHD_BENCH_POSTGRES_URL` names a server (a scratch database is made
//! on it and dropped).
//!
//!     cargo bench --bench tokens
//!     AUTHD_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench tokens -- rotation

use std::hint::black_box;

use authd::clock::Clock;
use authd::db::refresh_batch::{rotate_many, Rotation};
use authd::db::refresh_tokens::{self, Claim, RefreshToken};
use authd::db::{self, AnyConnection, DatabaseUrl};
use authd::keys::{self, KeySnapshot, KeyVault, SigningAlg};
use authd::manage::clients::{self, NewClient};
use authd::oauth::access_token::AccessClaims;
use authd::oauth::client_auth::{ClientAuth, DbRegistrar};
use authd::secret::{random_id, Secret};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn open(dir: &std::path::Path) -> AnyConnection {
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.join("bench.db").display())).expect("url");
    let mut conn = db::connect(&url).expect("connect");
    db::migrate(&mut conn).expect("migrate");
    conn
}

fn sign(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open(dir.path());
    let vault = KeyVault::from_base64(Secret::generate().expose()).expect("vault");
    let now = Clock::system().now();
    for alg in [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Rs256] {
        keys::rotate(&mut conn, &vault, alg, now).expect("key");
        let snapshot = KeySnapshot::load(&mut conn, &vault, now, 900).expect("snapshot");
        let claims = AccessClaims {
            iss: "https://issuer.example".into(),
            sub: "user-1".into(),
            aud: "https://api.example".into(),
            exp: now + 900,
            iat: now,
            jti: random_id(),
            client_id: "client-1".into(),
            scope: "posts:read posts:write".into(),
            generation: Some(0),
            status: None,
        };
        c.bench_function(&format!("sign/{alg}"), |b| {
            b.iter(|| snapshot.sign(black_box(&claims)).expect("signed"))
        });
    }
}

fn client_auth(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open(dir.path());
    let created = clients::add(
        &mut conn,
        &NewClient {
            name: "bench".into(),
            grants: vec!["client_credentials".into()],
            scopes: vec!["posts:read".into()],
            ..NewClient::default()
        },
        Clock::system().now(),
    )
    .expect("client");
    let auth = ClientAuth::Basic {
        client_id: created.client.client_id.clone(),
        secret: created.secret.expect("confidential"),
    };
    c.bench_function("client_auth/basic (SQLite lookup + SHA-256)", |b| {
        b.iter(|| {
            DbRegistrar::new(&mut conn)
                .authenticate(black_box(&auth))
                .expect("authenticated")
        })
    });
}

/// A live token row of `family` for `user`/`client`.
fn row(user: &str, client: &str, family: &str, now: i64) -> (Secret, RefreshToken) {
    let token = Secret::generate();
    let row = RefreshToken {
        token_hash: token.hash(),
        family_id: family.into(),
        parent_hash: None,
        user_id: user.into(),
        client_id: client.into(),
        scope: "posts:read".into(),
        issued_at: now,
        expires_at: now + 3600,
        used_at: None,
        revoked_at: None,
        generation: 0,
        family_expires_at: now + 86_400,
        auth_time: None,
        sid: None,
        amr: None,
    };
    (token, row)
}

fn rotation(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    rotation_on(c, "rotation (SQLite, synchronous=FULL)", open(dir.path()));
    // PostgreSQL too when a server is named: a scratch database on it.
    if let Ok(admin) = std::env::var("AUTHD_BENCH_POSTGRES_URL") {
        let name = format!("authd_bench_{}", random_id().to_lowercase());
        let mut server = db::connect(&DatabaseUrl::parse(&admin).expect("url")).expect("connect");
        let sql = |conn: &mut AnyConnection, q: String| {
            diesel::RunQueryDsl::execute(diesel::sql_query(q), conn).expect("sql")
        };
        sql(&mut server, format!("CREATE DATABASE {name}"));
        let mut url = admin.clone();
        if let Some(slash) = url.rfind('/') {
            url.truncate(slash);
        }
        let url = DatabaseUrl::parse(&format!("{url}/{name}")).expect("url");
        let mut conn = db::connect(&url).expect("connect");
        db::migrate(&mut conn).expect("migrate");
        authd::db::refresh_batch::dedicate(&mut conn).expect("generic plan");
        rotation_on(c, "rotation (PostgreSQL, one statement)", conn);
        sql(&mut server, format!("DROP DATABASE {name} WITH (FORCE)"));
    }
}

/// Rotations of fresh tokens with [`rotate_many`], one and sixteen at a
/// time: on SQLite in one transaction, on PostgreSQL in one statement.
fn rotation_on(c: &mut Criterion, name: &str, mut conn: AnyConnection) {
    let now = Clock::system().now();
    let client = clients::add(
        &mut conn,
        &NewClient {
            name: "bench".into(),
            grants: vec!["password".into(), "refresh_token".into()],
            scopes: vec!["posts:read".into()],
            ..NewClient::default()
        },
        now,
    )
    .expect("client")
    .client
    .client_id;
    let user = authd::manage::users::add(&mut conn, "bench", "x", &[], now)
        .expect("user")
        .id;
    // A table the size of a server's in use, with its statistics, so that
    // the plans are the ones a server gets.
    db::write_tx(&mut conn, |conn| {
        for _ in 0..20_000 {
            let (_, stored) = row(&user, &client, &random_id(), now);
            refresh_tokens::insert(conn, &stored)?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .expect("stored");
    diesel::RunQueryDsl::execute(diesel::sql_query("ANALYZE"), &mut conn).expect("analyze");
    // Setup and timed routine both need the connection.
    let conn = std::cell::RefCell::new(conn);
    let mut group = c.benchmark_group(name);
    for batch in [1usize, 16] {
        group.bench_function(format!("{batch} at a time"), |b| {
            b.iter_batched(
                || {
                    // Fresh live tokens to claim, stored outside the timing.
                    (0..batch)
                        .map(|_| {
                            let (_, old) = row(&user, &client, &random_id(), now);
                            refresh_tokens::insert(&mut conn.borrow_mut(), &old).expect("insert");
                            let (_, successor) = row(&user, &client, &old.family_id, now);
                            Rotation {
                                hash: old.token_hash,
                                successor,
                                sealed: None,
                                now,
                            }
                        })
                        .collect::<Vec<_>>()
                },
                |rotations| {
                    let claims = rotate_many(&mut conn.borrow_mut(), &rotations).expect("rotated");
                    assert!(claims.iter().all(|c| *c == Some(Claim::Claimed)));
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, sign, client_auth, rotation);
criterion_main!(benches);
