//! The redirect URI rule end to end, on every backend: what the CLI and
//! the console let anyone register (https, http on loopback, a private-use
//! scheme; no `javascript:`, `data:`, `file:`, fragment or userinfo), that
//! a URI stored under an older rule is never redirected to, and that a
//! user-registered client's errors before sign-in stay on authd's page
//! (RFC 9700 §4.11.2) while an admin's client's are redirected as before.

use diesel::prelude::*;

use crate::support::browser::{csrf_token, login_path, Browser};
use crate::support::code_flow::{
    assert_not_redirected, assert_redirected_error, decide, logged_in, pkce, request,
    request_without, setup, REDIRECT,
};
use crate::support::fixtures::{conn, user, ClientSpec};
use crate::support::helpers::{authd_fails, authd_json, every_backend, on_every_backend, TestApp};

/// URIs nobody may register, and what the refusal says.
const REFUSED: &[(&str, &str)] = &[
    (
        "javascript:alert(document.domain)",
        "use https, http on a loopback address",
    ),
    (
        "JavaScript:alert(1)//https://app.example/cb",
        "is refused: use https",
    ),
    (
        "data:text/html,<script>alert(1)</script>",
        "is refused: use https",
    ),
    ("file:///etc/passwd", "is refused: use https"),
    ("vbscript:msgbox(1)", "is refused: use https"),
    (
        "http://evil.example/cb",
        "http is only for a loopback address",
    ),
    (
        "myapp:/cb",
        "a private-use scheme like com.example.app:/callback",
    ),
    (
        "https://app.example@evil.example/cb",
        "must not contain a user name or password",
    ),
    (
        "https://user:pw@app.example/cb",
        "must not contain a user name or password",
    ),
    ("https://app.example/cb#x", "must not contain a fragment"),
    (
        "https://evil.example\\@app.example/cb",
        "must not contain spaces, control characters or backslashes",
    ),
];

/// URIs anyone may register.
const ACCEPTED: &[&str] = &[
    "https://app.example/cb",
    "http://127.0.0.1:9999/callback",
    "http://[::1]:8080/cb",
    "http://localhost:3000/cb",
    "com.example.app:/oauth2redirect",
];

#[test]
fn the_cli_registers_only_redirect_uris_the_rule_accepts() {
    every_backend(|db| {
        let label = db.label();
        for (uri, says) in REFUSED {
            let err = authd_fails(
                &db,
                &[
                    "client",
                    "add",
                    "app",
                    "--grant",
                    "authorization_code",
                    "--redirect-uri",
                    "https://app.example/ok",
                    "--redirect-uri",
                    uri,
                ],
                None,
            );
            assert!(err.contains(says), "[{label}] {uri}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "[{label}] one line: {err}");
        }
        let listed = authd_json(&db, &["client", "list"], None);
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(0),
            "[{label}] {listed}"
        );

        let mut args = vec!["client", "add", "app", "--grant", "authorization_code"];
        for uri in ACCEPTED {
            args.extend(["--redirect-uri", uri]);
        }
        let added = authd_json(&db, &args, None);
        let id = added["client_id"].as_str().expect("a client_id");
        let stored = authd::manage::clients::get(&mut conn(&db), id, None).unwrap();
        assert_eq!(stored.redirect_uris, ACCEPTED, "[{label}]");
    });
}

#[actix_web::test]
async fn the_console_registers_only_redirect_uris_the_rule_accepts() {
    on_every_backend(|db| async move {
        let label = db.label();
        crate::support::fixtures::role(&db, "writer", "posts:read posts:write");
        let mallory = user(&db, "mallory", "correct horse", &["writer"]);
        let app = TestApp::spawn(&db).await;
        let browser = logged_in(&app, "mallory").await;
        let page = browser.get("/console").await;
        let token = csrf_token(&page.raw).expect("the console has a csrf_token");
        let form = |uri: &'static str| {
            vec![
                ("name", "app"),
                ("grant", "authorization_code"),
                ("scope", "posts:read"),
                ("redirect_uri", uri),
                ("csrf_token", token.as_str()),
            ]
        };
        for (uri, says) in REFUSED {
            let r = browser.post("/console/clients", &form(uri)).await;
            assert_eq!(r.status, 400, "[{label}] {uri}: {}", r.raw);
            assert!(r.raw.contains(says), "[{label}] {uri}: {}", r.raw);
            assert!(r.header("location").is_none(), "[{label}] {uri}");
        }
        let owned = |db| authd::manage::clients::list(&mut conn(db), Some(&mallory)).unwrap();
        assert!(owned(&db).is_empty(), "[{label}] nothing created");
        for uri in ACCEPTED {
            let r = browser.post("/console/clients", &form(uri)).await;
            assert_eq!(r.status, 303, "[{label}] {uri}: {}", r.raw);
        }
        assert_eq!(owned(&db).len(), ACCEPTED.len(), "[{label}]");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_users_own_client_shows_errors_before_sign_in_on_authds_page() {
    on_every_backend(|db| async move {
        let label = db.label();
        let admins = setup(&db);
        let mallory = user(&db, "mallory", "correct horse", &["writer"]);
        let theirs = ClientSpec::new(&db)
            .grants(&["authorization_code"])
            .scopes("posts:read posts:write")
            .redirect_uri(REDIRECT)
            .owner(&mallory)
            .create();
        let no_code_grant = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("posts:read")
            .redirect_uri(REDIRECT)
            .owner(&mallory)
            .create();
        let app = TestApp::spawn(&db).await;
        let ch = pkce().challenge;
        let query = |client: &str, drop: &str, extra: &[(&str, &str)]| {
            request_without(client, &ch, drop, extra)
        };
        let refusals = [
            (
                query(&theirs.id, "", &[("scope", "admin")]),
                "invalid_scope",
            ),
            (
                query(&theirs.id, "response_type", &[("response_type", "token")]),
                "unsupported_response_type",
            ),
            (query(&theirs.id, "response_type", &[]), "invalid_request"),
            (query(&theirs.id, "code_challenge", &[]), "invalid_request"),
            (
                query(
                    &theirs.id,
                    "code_challenge_method",
                    &[("code_challenge_method", "plain")],
                ),
                "invalid_request",
            ),
            (
                query(
                    &theirs.id,
                    "",
                    &[("scope", "posts:read"), ("scope", "posts:write")],
                ),
                "invalid_request",
            ),
            (query(&no_code_grant.id, "", &[]), "unauthorized_client"),
        ];
        // Not signed in: authd's page, never the client's redirect URI;
        // also for the consent form's POST without a session.
        let anonymous = Browser::new(&app);
        for (path, error) in &refusals {
            let r = anonymous.get(path).await;
            assert_not_redirected(&r, &format!("({error})"));
            assert!(!r.raw.contains("app.example"), "[{label}] {}", r.raw);
            let r = anonymous.post(path, &[("decision", "allow")]).await;
            assert_not_redirected(&r, &format!("({error})"));
        }
        // A request without a fault still leads to the login page.
        let fine = request(&theirs.id, &ch, &[]);
        let r = anonymous.get(&fine).await;
        assert_eq!(r.status, 303, "[{label}] {}", r.raw);
        assert_eq!(r.header("location"), Some(login_path(Some(&fine)).as_str()));

        // Signed in, a request is still no answer of the user's: authd's
        // page again, or a signed-in visitor would be sent to the app's
        // URI without seeing anything.
        let alice = logged_in(&app, "alice").await;
        for (path, error) in &refusals {
            let r = alice.get(path).await;
            assert_not_redirected(&r, &format!("({error})"));
        }
        // The answer to the consent form goes back to the app.
        let denied = decide(&alice, &fine, "deny").await;
        assert_redirected_error(&denied, "access_denied");
        // An administrator's client: redirected before sign-in too.
        let admins_outside = request(&admins.id, &ch, &[("scope", "admin")]);
        assert_redirected_error(&anonymous.get(&admins_outside).await, "invalid_scope");
        let token = query(&admins.id, "response_type", &[("response_type", "token")]);
        assert_redirected_error(&anonymous.get(&token).await, "unsupported_response_type");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_stored_redirect_uri_that_the_rule_refuses_is_never_redirected_to() {
    on_every_backend(|db| async move {
        let label = db.label();
        let c = setup(&db);
        // Registered before the rule existed: written past it, straight
        // into the table.
        let old = [
            "javascript:alert(document.domain)//",
            "http://evil.example/cb",
            "data:text/html,hello",
        ];
        let stored = format!("{} {REDIRECT}", old.join(" "));
        {
            use authd::db::schema::clients::dsl;
            diesel::update(dsl::clients.find(&c.id))
                .set(dsl::redirect_uris.eq(&stored))
                .execute(&mut conn(&db))
                .unwrap();
        }
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        let anonymous = Browser::new(&app);
        let ch = pkce().challenge;
        let with = |redirect: &str, scope: &str| {
            request_without(
                &c.id,
                &ch,
                "redirect_uri",
                &[("redirect_uri", redirect), ("scope", scope)],
            )
        };
        for uri in old {
            // An error (anonymous or not), or the consent page whose
            // answer would go there: authd's page instead.
            for b in [&anonymous, &alice] {
                let r = b.get(&with(uri, "admin")).await;
                assert_not_redirected(&r, "no longer accepted");
                let r = b.get(&with(uri, "posts:read")).await;
                assert_not_redirected(&r, "no longer accepted");
            }
        }
        // The URI the rule accepts still works.
        let r = anonymous.get(&with(REDIRECT, "admin")).await;
        assert_redirected_error(&r, "invalid_scope");
        let r = alice.get(&with(REDIRECT, "posts:read")).await;
        assert_eq!(r.status, 200, "[{label}] the consent page: {}", r.raw);

        // Nothing was lost: the admin still sees every stored URI.
        let listed = authd_json(&db, &["client", "list"], None);
        let uris: Vec<&str> = listed[0]["redirect_uris"]
            .as_array()
            .map(|a| a.iter().filter_map(|u| u.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(uris, [&old[..], &[REDIRECT]].concat(), "[{label}] {listed}");
        app.stop().await;
    })
    .await;
}
