//! `grant_type=authorization_code` at `POST /oauth/token` (RFC 6749
//! §4.1.3, RFC 7636 §4.5): through the `oauth2` crate with PKCE for
//! confidential and public clients, and every way an exchange must fail,
//! on every backend.

use authd::clock::Clock;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};

use crate::support::code_flow::{
    code_for, exchange, logged_in, pkce, request, setup, REDIRECT, STATE,
};
use crate::support::fixtures::{conn, post, verify_with_jwks, ClientSpec, TestClient};
use crate::support::helpers::{authd_json, on_every_backend, TestApp};

/// Logs alice in and gets a code for `c` with a fresh PKCE pair; returns
/// the code and the verifier.
async fn code(app: &TestApp, c: &TestClient) -> (String, String) {
    let browser = logged_in(app, "alice").await;
    let p = pkce();
    let code = code_for(&browser, &request(&c.id, &p.challenge, &[])).await;
    (code, p.verifier)
}

#[actix_web::test]
async fn confidential_and_public_clients_exchange_through_the_oauth2_crate() {
    on_every_backend(|db| async move {
        let confidential = setup(&db);
        let app = TestApp::spawn(&db).await;
        // A public client from the command line, without refresh_token.
        let spa = authd_json(
            &db,
            &[
                "client",
                "add",
                "spa",
                "--public",
                "--grant",
                "authorization_code",
                "--redirect-uri",
                REDIRECT,
                "--scope",
                "posts:read",
            ],
            None,
        );
        let public = TestClient {
            id: spa["client_id"].as_str().unwrap().to_string(),
            secret: None,
        };
        for (c, wants_refresh) in [(&confidential, true), (&public, false)] {
            let mut client = BasicClient::new(ClientId::new(c.id.clone()))
                .set_auth_uri(AuthUrl::new(app.url("/oauth/authorize")).unwrap())
                .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap())
                .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
            if let Some(s) = &c.secret {
                client = client.set_client_secret(ClientSecret::new(s.clone()));
            }
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, csrf) = client
                .authorize_url(|| CsrfToken::new(STATE.into()))
                .add_scope(Scope::new("posts:read".into()))
                .set_pkce_challenge(challenge)
                .url();
            assert_eq!(csrf.secret(), STATE);
            let path = format!("{}?{}", url.path(), url.query().unwrap());
            let code = code_for(&logged_in(&app, "alice").await, &path).await;
            let tok = client
                .exchange_code(AuthorizationCode::new(code))
                .set_pkce_verifier(verifier)
                .request_async(&app.http)
                .await
                .unwrap_or_else(|e| panic!("[{}] exchange for {}: {e:?}", db.label(), c.id));
            assert_eq!(tok.scopes().unwrap()[0].as_str(), "posts:read");
            assert_eq!(tok.expires_in().unwrap().as_secs(), 900);
            let (header, claims) =
                verify_with_jwks(&app, tok.access_token().secret(), &app.issuer).await;
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(claims["client_id"], c.id.as_str());
            assert_eq!(claims["scope"], "posts:read");
            let alice = authd::db::users::by_username(&mut conn(&db), "alice")
                .unwrap()
                .unwrap();
            assert_eq!(claims["sub"], alice.id.as_str());
            assert_eq!(tok.refresh_token().is_some(), wants_refresh, "{}", c.id);
            if let Some(refresh) = tok.refresh_token() {
                let next = client
                    .exchange_refresh_token(refresh)
                    .request_async(&app.http)
                    .await
                    .unwrap_or_else(|e| panic!("[{}] refresh: {e:?}", db.label()));
                assert_eq!(next.scopes().unwrap()[0].as_str(), "posts:read");
            }
        }
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_second_use_fails_and_revokes_what_the_first_issued() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn(&db).await;
        let (code, verifier) = code(&app, &c).await;
        let first = exchange(&app, &c, &code, REDIRECT, &verifier).await;
        assert_eq!(first.status, 200, "[{}] {}", db.label(), first.raw);
        assert_eq!(first.header("cache-control"), Some("no-store"));
        assert_eq!(first.header("pragma"), Some("no-cache"));
        assert_eq!(first.body["token_type"], "Bearer");
        assert_eq!(first.body["scope"], "posts:read posts:write");
        let access = first.body["access_token"].as_str().unwrap().to_string();
        let refresh = first.body["refresh_token"].as_str().unwrap().to_string();
        let active = |token: String| {
            let (app, c) = (&app, &c);
            async move {
                post(app, "/oauth/introspect", Some(c), &[("token", &token)])
                    .await
                    .body["active"]
                    .clone()
            }
        };
        assert_eq!(active(access.clone()).await, true);

        exchange(&app, &c, &code, REDIRECT, &verifier)
            .await
            .assert_error(400, "invalid_grant");
        // RFC 6749 §4.1.2: the tokens issued from the code are revoked.
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        r.assert_error(400, "invalid_grant");
        assert_eq!(active(access).await, false, "[{}]", db.label());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn wrong_verifier_redirect_uri_or_client_is_invalid_grant() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let other = ClientSpec::new(&db)
            .grants(&["authorization_code"])
            .scopes("posts:read")
            .redirect_uri(REDIRECT)
            .create();
        let app = TestApp::spawn(&db).await;

        // A wrong verifier spends the code.
        let (code1, verifier1) = code(&app, &c).await;
        let wrong = pkce().verifier;
        exchange(&app, &c, &code1, REDIRECT, &wrong)
            .await
            .assert_error(400, "invalid_grant");
        exchange(&app, &c, &code1, REDIRECT, &verifier1)
            .await
            .assert_error(400, "invalid_grant");

        // The redirect URI must be identical to the request's.
        let (code2, verifier2) = code(&app, &c).await;
        for redirect in ["https://app.example/cb/", "https://app.example/other"] {
            exchange(&app, &c, &code2, redirect, &verifier2)
                .await
                .assert_error(400, "invalid_grant");
        }

        // Another client cannot redeem it, nor spend it.
        let (code3, verifier3) = code(&app, &c).await;
        exchange(&app, &other, &code3, REDIRECT, &verifier3)
            .await
            .assert_error(400, "invalid_grant");
        let ok = exchange(&app, &c, &code3, REDIRECT, &verifier3).await;
        assert_eq!(ok.status, 200, "[{}] {}", db.label(), ok.raw);

        // Unknown codes.
        for bogus in ["not-a-code", authd::secret::Secret::generate().expose()] {
            exchange(&app, &c, bogus, REDIRECT, &verifier3)
                .await
                .assert_error(400, "invalid_grant");
        }

        // Every parameter is required, once.
        let (code4, verifier4) = code(&app, &c).await;
        let base = [
            ("grant_type", "authorization_code"),
            ("code", code4.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier4.as_str()),
        ];
        for missing in ["code", "redirect_uri", "code_verifier"] {
            let form: Vec<_> = base
                .iter()
                .filter(|(n, _)| *n != missing)
                .copied()
                .collect();
            post(&app, "/oauth/token", Some(&c), &form)
                .await
                .assert_error(400, "invalid_request");
        }
        let mut repeated = base.to_vec();
        repeated.push(("code_verifier", verifier4.as_str()));
        post(&app, "/oauth/token", Some(&c), &repeated)
            .await
            .assert_error(400, "invalid_request");
        // A confidential client must authenticate, as for every grant.
        let mut no_secret = base.to_vec();
        no_secret.push(("client_id", c.id.as_str()));
        post(&app, "/oauth/token", None, &no_secret)
            .await
            .assert_error(401, "invalid_client");
        // None of that spent the code.
        let ok = exchange(&app, &c, &code4, REDIRECT, &verifier4).await;
        assert_eq!(ok.status, 200, "[{}] {}", db.label(), ok.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn codes_live_60_seconds_and_die_with_the_users_credentials() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let (code1, verifier1) = code(&app, &c).await;
        let (code2, verifier2) = code(&app, &c).await;
        app.clock.advance(59);
        let ok = exchange(&app, &c, &code1, REDIRECT, &verifier1).await;
        assert_eq!(ok.status, 200, "[{}] {}", db.label(), ok.raw);
        app.clock.advance(1);
        exchange(&app, &c, &code2, REDIRECT, &verifier2)
            .await
            .assert_error(400, "invalid_grant");

        // A new password between consent and exchange ends the code.
        let (code3, verifier3) = code(&app, &c).await;
        let hash = crate::support::fixtures::hash_password("another horse");
        authd::manage::users::set_password(&mut conn(&db), "alice", &hash, app.clock.now())
            .unwrap();
        exchange(&app, &c, &code3, REDIRECT, &verifier3)
            .await
            .assert_error(400, "invalid_grant");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_metadata_advertises_the_code_flow() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let m: serde_json::Value = app
            .get_json("/.well-known/oauth-authorization-server")
            .await;
        let grants = m["grant_types_supported"].as_array().unwrap();
        assert!(grants.iter().any(|g| g == "authorization_code"), "{m}");
        assert_eq!(
            m["authorization_endpoint"],
            format!("{}/oauth/authorize", app.issuer)
        );
        assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            m["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        let methods = m["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        assert!(methods.iter().any(|x| x == "none"), "{m}");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn of_concurrent_exchanges_of_one_code_exactly_one_wins() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn_with(&db, &["--db-pool-size", "12"]).await;
        let (code, verifier) = code(&app, &c).await;
        let attempts = (0..12).map(|_| exchange(&app, &c, &code, REDIRECT, &verifier));
        let replies = futures_util::future::join_all(attempts).await;
        let won: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(
            won.len(),
            1,
            "[{}] {:?}",
            db.label(),
            replies.iter().map(|r| &r.raw).collect::<Vec<_>>()
        );
        for r in replies.iter().filter(|r| r.status != 200) {
            r.assert_error(400, "invalid_grant");
        }
        // The losers were second uses: the winner's tokens are revoked.
        let refresh = won[0].body["refresh_token"].as_str().unwrap();
        post(
            &app,
            "/oauth/token",
            Some(&c),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await
        .assert_error(400, "invalid_grant");
        app.stop().await;
    })
    .await;
}
