//! `GET /oauth/authorize`: login, consent, the redirect back with a code,
//! and every refusal (redirected with RFC 6749 §4.1.2.1 codes, or an HTML
//! page when the client or redirect URI cannot be trusted), on every
//! backend.

use authd::db::auth_codes;

use crate::support::browser::{login_path, Browser};
use crate::support::code_flow::{
    assert_not_redirected, assert_redirected_error, authorize_path, code_for, consent_page, decide,
    logged_in, pkce, request, request_without, setup, REDIRECT, STATE,
};
use crate::support::fixtures::{conn, user, ClientSpec};
use crate::support::helpers::{on_every_backend, TestApp};

fn stored_codes(db: &crate::support::helpers::TestDb) -> usize {
    use diesel::prelude::*;
    authd::db::schema::auth_codes::table
        .count()
        .get_result::<i64>(&mut conn(db))
        .unwrap() as usize
}

#[actix_web::test]
async fn login_consent_and_a_code_bound_to_the_request() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let p = pkce();
        let path = request(&c.id, &p.challenge, &[("scope", "posts:read posts:write")]);
        let browser = Browser::new(&app);

        // Not logged in: the login page, which comes back here.
        let r = browser.get(&path).await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        assert_eq!(r.header("location"), Some(login_path(Some(&path)).as_str()));
        let r = browser
            .log_in_to(Some(&path), "alice", "correct horse")
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert_eq!(r.header("location"), Some(path.as_str()));

        // The consent page: who asks, for what, in words; a plain form.
        let (page, token) = consent_page(&browser, &path).await;
        let html = &page.raw;
        for needle in [
            "Authorize test app",
            "<strong>alice</strong>",
            "See your posts <code>posts:read</code>",
            "Create and change your posts <code>posts:write</code>",
            "sent back to <strong>https://app.example</strong>",
            r#"<form method="post" action="/oauth/authorize?"#,
            r#"<input type="hidden" name="csrf_token" value=""#,
            r#"<button type="submit" name="decision" value="allow">"#,
            r#"<button type="submit" name="decision" value="deny""#,
        ] {
            assert!(
                html.contains(needle),
                "[{}] no {needle} in {html}",
                db.label()
            );
        }
        assert!(!html.contains("posts:delete"), "not requested: {html}");
        assert!(!html.contains("<script"), "{html}");
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("form-action 'self' https://app.example;"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("cache-control"), Some("no-store"));

        // Allow: back to the client with a code and the state.
        let r = browser
            .post(&path, &[("csrf_token", &token), ("decision", "allow")])
            .await;
        let pairs = crate::support::code_flow::redirected(&r);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let code = crate::support::code_flow::param(&pairs, "code");
        assert_eq!(crate::support::code_flow::param(&pairs, "state"), STATE);
        assert_eq!(code.len(), 43, "256 random bits");

        // Stored by hash only, bound to the request, living 60 s.
        let row = auth_codes::find(&mut conn(&db), &authd::secret::hash_str(&code))
            .unwrap()
            .expect("the code is stored by its hash");
        assert!(auth_codes::find(&mut conn(&db), &code).unwrap().is_none());
        assert_eq!(row.client_id, c.id);
        assert_eq!(row.redirect_uri, REDIRECT);
        assert_eq!(row.scope, "posts:read posts:write");
        assert_eq!(row.code_challenge, p.challenge);
        assert_eq!(row.code_challenge_method, "S256");
        assert_eq!(row.expires_at - row.issued_at, 60);
        assert!(row.used_at.is_none());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn scopes_follow_the_client_and_the_users_roles() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        user(&db, "nobody", "correct horse", &[]);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        let p = pkce();

        // None requested (or an empty scope): the client's scopes,
        // narrowed to alice's roles.
        for extra in [&[][..], &[("scope", "")]] {
            let (page, _) = consent_page(&alice, &request(&c.id, &p.challenge, extra)).await;
            assert!(page.raw.contains("<code>posts:read</code>"), "{}", page.raw);
            assert!(
                page.raw.contains("<code>posts:write</code>"),
                "{}",
                page.raw
            );
            assert!(!page.raw.contains("posts:delete"), "{}", page.raw);
        }
        // Only what her roles grant is left of what was asked.
        let path = request(&c.id, &p.challenge, &[("scope", "posts:read posts:delete")]);
        let (page, _) = consent_page(&alice, &path).await;
        assert!(page.raw.contains("<code>posts:read</code>"), "{}", page.raw);
        assert!(!page.raw.contains("posts:delete"), "{}", page.raw);

        // Outside the client's scopes: invalid_scope, even before login.
        let outside = request(&c.id, &p.challenge, &[("scope", "admin")]);
        assert_redirected_error(&Browser::new(&app).get(&outside).await, "invalid_scope");
        assert_redirected_error(&alice.get(&outside).await, "invalid_scope");
        // Nothing left after the user's roles.
        let nobody = logged_in(&app, "nobody").await;
        let r = nobody.get(&request(&c.id, &p.challenge, &[])).await;
        assert_redirected_error(&r, "invalid_scope");
        assert_eq!(stored_codes(&db), 0, "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn deny_redirects_with_access_denied_and_the_state() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let browser = logged_in(&app, "alice").await;
        let path = request(&c.id, &pkce().challenge, &[]);
        let r = decide(&browser, &path, "deny").await;
        assert_redirected_error(&r, "access_denied");
        assert_eq!(
            stored_codes(&db),
            0,
            "[{}] no code after a deny",
            db.label()
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_consent_form_needs_the_sessions_csrf_token_and_a_decision() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let browser = logged_in(&app, "alice").await;
        let path = request(&c.id, &pkce().challenge, &[]);
        let (_, token) = consent_page(&browser, &path).await;

        // A cross-site post: no token, or another session's.
        let mallory = logged_in(&app, "alice").await;
        let (_, other_token) = consent_page(&mallory, &path).await;
        assert_ne!(token, other_token);
        for form in [
            vec![("decision", "allow")],
            vec![("decision", "allow"), ("csrf_token", "")],
            vec![("decision", "allow"), ("csrf_token", other_token.as_str())],
            vec![("decision", "deny"), ("csrf_token", "x")],
        ] {
            let r = browser.post(&path, &form).await;
            assert_eq!(r.status, 403, "[{}] {form:?}: {}", db.label(), r.raw);
            assert!(r.header("location").is_none(), "{form:?}");
        }
        // The right token but no decision: nothing happens either.
        let r = browser.post(&path, &[("csrf_token", &token)]).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.header("location").is_none());
        assert_eq!(stored_codes(&db), 0, "[{}]", db.label());

        // Without a session, the post leads to the login page.
        let r = Browser::new(&app)
            .post(&path, &[("csrf_token", &token), ("decision", "allow")])
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert_eq!(r.header("location"), Some(login_path(Some(&path)).as_str()));
        assert_eq!(stored_codes(&db), 0);

        // The browser's own token works.
        code_for(&browser, &path).await;
        assert_eq!(stored_codes(&db), 1);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn unknown_clients_and_unregistered_redirect_uris_get_a_page_not_a_redirect() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let browser = logged_in(&app, "alice").await;
        let ch = pkce().challenge;
        let base = |client: &str, redirect: Option<&str>| {
            let mut pairs = vec![
                ("response_type", "code"),
                ("client_id", client),
                ("code_challenge", ch.as_str()),
                ("code_challenge_method", "S256"),
                ("state", STATE),
            ];
            if let Some(r) = redirect {
                pairs.push(("redirect_uri", r));
            }
            authorize_path(&pairs)
        };
        let cases = [
            (
                base("no-such-client", Some(REDIRECT)),
                "No application has this client_id",
            ),
            (
                base(&c.id, Some("https://evil.example/cb")),
                "redirect_uri is not registered",
            ),
            // Only the exact string (RFC 9700 §4.1.3).
            (
                base(&c.id, Some("https://app.example/cb/")),
                "not registered",
            ),
            (
                base(&c.id, Some("https://app.example/cb?x=1")),
                "not registered",
            ),
            (
                base(&c.id, Some("https://APP.example/cb")),
                "not registered",
            ),
            (base(&c.id, None), "has no redirect_uri"),
            (
                authorize_path(&[("response_type", "code"), ("redirect_uri", REDIRECT)]),
                "names no client",
            ),
            (
                format!("{}&client_id={}", base(&c.id, Some(REDIRECT)), c.id),
                "names no client",
            ),
        ];
        for (path, says) in cases {
            for b in [&browser, &Browser::new(&app)] {
                assert_not_redirected(&b.get(&path).await, says);
            }
        }
        assert_eq!(stored_codes(&db), 0, "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn pkce_must_be_s256() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let browser = logged_in(&app, "alice").await;
        let ch = pkce().challenge;
        let without = |drop: &str, extra: &[(&str, &str)]| request_without(&c.id, &ch, drop, extra);
        for path in [
            without("code_challenge_method", &[]),
            without(
                "code_challenge_method",
                &[("code_challenge_method", "plain")],
            ),
            without("code_challenge", &[]),
            without("code_challenge", &[("code_challenge", "too-short")]),
            without("", &[("code_challenge_method", "S256")]),
        ] {
            let r = browser.get(&path).await;
            assert_redirected_error(&r, "invalid_request");
        }
        assert_eq!(stored_codes(&db), 0, "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn other_refusals_are_redirected_with_their_codes() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let no_code_grant = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("posts:read")
            .redirect_uri(REDIRECT)
            .create();
        let app = TestApp::spawn(&db).await;
        let browser = logged_in(&app, "alice").await;
        let ch = pkce().challenge;
        let with_type = |t: Option<&str>| {
            let mut pairs = vec![
                ("client_id", c.id.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_challenge", ch.as_str()),
                ("code_challenge_method", "S256"),
                ("state", STATE),
            ];
            if let Some(t) = t {
                pairs.push(("response_type", t));
            }
            authorize_path(&pairs)
        };
        let r = browser.get(&with_type(Some("token"))).await;
        assert_redirected_error(&r, "unsupported_response_type");
        assert_redirected_error(&browser.get(&with_type(None)).await, "invalid_request");
        let r = browser.get(&request(&no_code_grant.id, &ch, &[])).await;
        assert_redirected_error(&r, "unauthorized_client");
        // A repeated parameter (RFC 6749 §3.1).
        let r = browser
            .get(&request(
                &c.id,
                &ch,
                &[("scope", "posts:read"), ("scope", "posts:write")],
            ))
            .await;
        assert_redirected_error(&r, "invalid_request");
        assert_eq!(stored_codes(&db), 0, "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn next_never_leaves_the_server() {
    let db = crate::support::helpers::TestDb::sqlite();
    let c = setup(&db);
    let app = TestApp::spawn(&db).await;
    let browser = Browser::new(&app);
    for next in [
        "https://evil.example/cb",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let r = browser
            .log_in_to(Some(next), "alice", "correct horse")
            .await;
        assert_eq!(r.status, 303, "{next}: {}", r.raw);
        assert_eq!(r.header("location"), Some("/"), "{next}");
    }
    // An authorization request with another site as redirect_uri sends
    // nobody there, logged in or not.
    let path = request(&c.id, &pkce().challenge, &[]).replace(
        &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2Fcb",
    );
    assert_not_redirected(&browser.get(&path).await, "not registered");
    app.stop().await;
}
