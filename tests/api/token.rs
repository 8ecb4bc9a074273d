//! `POST /oauth/token`: the grants through a third-party OAuth client, the
//! JWT format, and every error of the table in docs/interface.md "Token endpoint", on every backend.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, ResourceOwnerPassword, ResourceOwnerUsername, Scope,
    TokenResponse, TokenUrl,
};

use crate::support::fixtures::{
    self, password_grant, post, role, standard, user, verify_with_jwks, ClientSpec,
};
use crate::support::helpers::{on_every_backend, TestApp};

fn oauth_client(
    app: &TestApp,
    c: &fixtures::TestClient,
) -> oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    let mut bc = BasicClient::new(ClientId::new(c.id.clone()))
        .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap())
        .set_auth_uri(oauth2::AuthUrl::new(app.url("/oauth/authorize")).unwrap());
    if let Some(s) = &c.secret {
        bc = bc.set_client_secret(ClientSecret::new(s.clone()));
    }
    bc
}

#[actix_web::test]
async fn password_refresh_and_client_credentials_through_the_oauth2_crate() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let oc = oauth_client(&app, &c);

        let tok = oc
            .exchange_password(
                &ResourceOwnerUsername::new("alice".into()),
                &ResourceOwnerPassword::new("correct horse".into()),
            )
            .add_scope(Scope::new("posts:read".into()))
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("[{}] password grant: {e:?}", db.label()));
        assert_eq!(tok.scopes().unwrap()[0].as_str(), "posts:read");
        assert_eq!(tok.expires_in().unwrap().as_secs(), 900);
        let (header, claims) =
            verify_with_jwks(&app, tok.access_token().secret(), &app.issuer).await;
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        for claim in [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "jti",
            "client_id",
            "scope",
        ] {
            assert!(
                claims.get(claim).is_some(),
                "claim {claim} missing: {claims}"
            );
        }
        assert_eq!(claims["client_id"], c.id.as_str());
        assert_eq!(claims["scope"], "posts:read");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            900
        );

        // Refresh with client_secret_post this time (oxide-auth's own flow
        // ignores it, our endpoint must not).
        let oc_post = oauth_client(&app, &c).set_auth_type(AuthType::RequestBody);
        let refreshed = oc_post
            .exchange_refresh_token(tok.refresh_token().unwrap())
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("[{}] refresh: {e:?}", db.label()));
        assert_ne!(
            refreshed.refresh_token().unwrap().secret(),
            tok.refresh_token().unwrap().secret()
        );
        let (_, claims2) =
            verify_with_jwks(&app, refreshed.access_token().secret(), &app.issuer).await;
        assert_eq!(claims2["scope"], "posts:read");
        assert_eq!(claims2["sub"], claims["sub"]);
        assert_ne!(claims2["jti"], claims["jti"]);

        // client_credentials: sub is the client, no refresh token.
        let svc = ClientSpec::new(&db)
            .grants(&["client_credentials"])
            .scopes("reports:read")
            .audience("https://api.example.com")
            .create();
        let cc = oauth_client(&app, &svc)
            .exchange_client_credentials()
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("[{}] client_credentials: {e:?}", db.label()));
        assert!(cc.refresh_token().is_none());
        let (_, cc_claims) =
            verify_with_jwks(&app, cc.access_token().secret(), "https://api.example.com").await;
        assert_eq!(cc_claims["sub"], svc.id.as_str());
        assert_eq!(cc_claims["scope"], "reports:read");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn success_shape_and_headers() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let r = password_grant(&app, &c, &[]).await;
        assert_eq!(r.status, 200, "[{}] {}", db.label(), r.raw);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("pragma"), Some("no-cache"));
        assert_eq!(r.body["token_type"], "Bearer");
        // No scope requested: the client's, narrowed to the user's roles.
        assert_eq!(r.body["scope"], "posts:read posts:write");
        assert!(r.body["refresh_token"].as_str().unwrap().len() >= 43);

        // A client without refresh_token gets no refresh token.
        let no_refresh = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("posts:read")
            .create();
        let r = password_grant(&app, &no_refresh, &[]).await;
        assert_eq!(r.status, 200);
        assert!(r.body.get("refresh_token").is_none());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn client_authentication_methods() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);
        let secret = c.secret.clone().unwrap();
        let form = [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse"),
        ];

        // client_secret_basic with every byte percent-encoded: the server
        // must URL-decode id and secret (RFC 6749 §2.3.1).
        let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .basic_auth(enc(&c.id), Some(enc(&secret)))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "[{}] url-encoded Basic", db.label());

        // client_secret_post
        let mut with_post = form.to_vec();
        with_post.push(("client_id", &c.id));
        with_post.push(("client_secret", &secret));
        assert_eq!(
            post(&app, "/oauth/token", None, &with_post).await.status,
            200
        );

        // Both at once: invalid_request.
        let r = post(&app, "/oauth/token", Some(&c), &with_post).await;
        r.assert_error(400, "invalid_request");

        // A public client sends only its id.
        let public = ClientSpec::new(&db)
            .grants(&["password", "refresh_token"])
            .scopes("posts:read")
            .public()
            .create();
        let mut pub_form = form.to_vec();
        pub_form.push(("client_id", &public.id));
        let r = post(&app, "/oauth/token", None, &pub_form).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["scope"], "posts:read");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn other_signing_algorithms() {
    for alg in ["RS256", "EdDSA"] {
        let db = crate::support::helpers::TestDb::sqlite();
        let app = TestApp::spawn_with(&db, &["--signing-alg", alg]).await;
        let c = standard(&db);
        let r = password_grant(&app, &c, &[]).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let (header, _) =
            verify_with_jwks(&app, r.body["access_token"].as_str().unwrap(), &app.issuer).await;
        assert_eq!(format!("{:?}", header.alg), alg);
        app.stop().await;
    }
}

#[actix_web::test]
async fn roles_narrow_the_default_scope() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        role(&db, "reader", "posts:read");
        user(&db, "rita", "correct horse", &["reader"]);
        let c = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("posts:read posts:write")
            .create();
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "rita"),
                ("password", "correct horse"),
            ],
        )
        .await;
        assert_eq!(r.body["scope"], "posts:read", "{}", r.raw);
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "rita"),
                ("password", "correct horse"),
                ("scope", "posts:read posts:write"),
            ],
        )
        .await;
        assert_eq!(r.body["scope"], "posts:read", "{}", r.raw);
        app.stop().await;
    })
    .await;
}
