//! Remembered consent (docs/interface.md "OpenID Connect", "Consent is
//! remembered"): a subset of what a user allowed a client shows no page,
//! a superset does and widens what is remembered, `prompt=consent` always
//! does, `prompt=none` gets a code once consent is remembered, and a
//! `--first-party` client never asks. On every backend.

use crate::support::code_flow::{
    assert_redirected_error, code_for, consent_page, exchange, logged_in, param, pkce, redirected,
    request, REDIRECT,
};
use crate::support::fixtures::{role, user, ClientSpec, Reply, TestClient};
use crate::support::helpers::{authd_json, every_backend, on_every_backend, TestApp, TestDb};

const ALL: &str = "openid posts:read posts:write";

fn setup(db: &TestDb) -> TestClient {
    role(db, "member", ALL);
    user(db, "alice", "correct horse", &["member"]);
    user(db, "bob", "correct horse", &["member"]);
    ClientSpec::new(db)
        .grants(&["authorization_code"])
        .scopes(ALL)
        .redirect_uri(REDIRECT)
        .create()
}

/// A request for `scope`, with `extra` parameters, and its PKCE verifier.
fn asking(c: &TestClient, scope: &str, extra: &[(&str, &str)]) -> (String, String) {
    let p = pkce();
    let mut pairs = vec![("scope", scope)];
    pairs.extend_from_slice(extra);
    (request(&c.id, &p.challenge, &pairs), p.verifier)
}

/// A code straight away, with no page: exchanged, it grants `scope`.
async fn code_at_once(app: &TestApp, c: &TestClient, r: &Reply, verifier: &str, scope: &str) {
    let code = param(&redirected(r), "code");
    let token = exchange(app, c, &code, REDIRECT, verifier).await;
    assert_eq!(token.status, 200, "{}", token.raw);
    assert_eq!(token.body["scope"], scope, "{}", token.raw);
}

#[actix_web::test]
async fn a_subset_of_what_was_allowed_shows_no_page() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        let (path, _) = asking(&c, "openid posts:read", &[]);
        code_for(&alice, &path).await;

        // The same scopes, or fewer: the code at once.
        for scope in ["openid posts:read", "posts:read"] {
            let (path, verifier) = asking(&c, scope, &[]);
            let r = alice.get(&path).await;
            code_at_once(&app, &c, &r, &verifier, scope).await;
        }
        // More: the page, whose allow widens what is remembered.
        let (path, _) = asking(&c, "openid posts:write", &[]);
        consent_page(&alice, &path).await;
        code_for(&alice, &path).await;
        let (path, verifier) = asking(&c, ALL, &[]);
        let r = alice.get(&path).await;
        code_at_once(&app, &c, &r, &verifier, ALL).await;

        // prompt=consent: the page even so.
        let (path, _) = asking(&c, "posts:read", &[("prompt", "consent")]);
        consent_page(&alice, &path).await;

        // Consent is the user's own: bob is asked.
        let bob = logged_in(&app, "bob").await;
        let (path, _) = asking(&c, "posts:read", &[]);
        consent_page(&bob, &path).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn prompt_none_gets_a_code_once_consent_is_remembered() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        let (silent, _) = asking(&c, "openid", &[("prompt", "none")]);
        assert_redirected_error(&alice.get(&silent).await, "consent_required");

        let (path, _) = asking(&c, "openid posts:read", &[]);
        code_for(&alice, &path).await;
        let (silent, verifier) = asking(&c, "openid", &[("prompt", "none")]);
        let r = alice.get(&silent).await;
        code_at_once(&app, &c, &r, &verifier, "openid").await;
        // Beyond what was allowed: still consent_required.
        let (silent, _) = asking(&c, "openid posts:write", &[("prompt", "none")]);
        assert_redirected_error(&alice.get(&silent).await, "consent_required");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_first_party_client_never_asks() {
    on_every_backend(|db| async move {
        role(&db, "member", ALL);
        user(&db, "alice", "correct horse", &["member"]);
        let c = ClientSpec::new(&db)
            .grants(&["authorization_code"])
            .scopes(ALL)
            .redirect_uri(REDIRECT)
            .first_party()
            .create();
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        for prompt in [&[][..], &[("prompt", "none")], &[("prompt", "consent")]] {
            let (path, verifier) = asking(&c, ALL, prompt);
            let r = alice.get(&path).await;
            code_at_once(&app, &c, &r, &verifier, ALL).await;
        }
        app.stop().await;
    })
    .await;
}

#[test]
fn client_add_takes_first_party_and_shows_it() {
    every_backend(|db| {
        let added = authd_json(
            &db,
            &[
                "client",
                "add",
                "portal",
                "--grant",
                "authorization_code",
                "--redirect-uri",
                REDIRECT,
                "--first-party",
            ],
            None,
        );
        assert_eq!(added["first_party"], true, "{added}");
        let id = added["client_id"].as_str().expect("a client_id");
        let shown = authd_json(&db, &["client", "show", id], None);
        assert_eq!(shown["first_party"], true, "{shown}");
        let plain = authd_json(
            &db,
            &[
                "client",
                "add",
                "other",
                "--grant",
                "authorization_code",
                "--redirect-uri",
                REDIRECT,
            ],
            None,
        );
        assert_eq!(plain["first_party"], false, "{plain}");
        let listed = authd_json(&db, &["client", "list"], None);
        let flags: Vec<_> = listed
            .as_array()
            .expect("an array")
            .iter()
            .map(|c| (c["name"].clone(), c["first_party"].clone()))
            .collect();
        assert!(flags.contains(&("portal".into(), true.into())), "{listed}");
        assert!(flags.contains(&("other".into(), false.into())), "{listed}");
    });
}
