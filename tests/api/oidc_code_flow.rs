//! The authorization code flow as an OpenID Connect relying party uses
//! it: the `openidconnect` crate (ramosbugs) discovers authd, sends the
//! user through login and consent with PKCE and a nonce, and verifies the
//! ID token (signature by the published keys, `iss`, `aud`, `nonce`,
//! `at_hash`), asks UserInfo, then refreshes; and the nonce and `auth_time` survive from
//! the authorization request through the code. On every backend.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::support::code_flow::{code_for, exchange, logged_in, pkce, request, REDIRECT, STATE};
use crate::support::fixtures::{role, user, verify_with_jwks, ClientSpec, TestClient};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};

/// Role `member` (openid profile posts:read), alice with it, and a
/// confidential code + refresh client for those scopes.
fn setup(db: &TestDb) -> (String, TestClient) {
    role(db, "member", "openid profile posts:read");
    let alice = user(db, "alice", "correct horse", &["member"]);
    let c = ClientSpec::new(db)
        .grants(&["authorization_code", "refresh_token"])
        .scopes("openid profile posts:read")
        .redirect_uri(REDIRECT)
        .create();
    (alice, c)
}

#[actix_web::test]
async fn a_relying_party_signs_in_with_the_openidconnect_crate() {
    on_every_backend(|db| async move {
        let (alice, c) = setup(&db);
        let app = TestApp::spawn(&db).await;
        let meta = CoreProviderMetadata::discover_async(
            IssuerUrl::new(app.issuer.clone()).unwrap(),
            &app.http,
        )
        .await
        .unwrap_or_else(|e| panic!("[{}] discovery: {e:?}", db.label()));
        let client = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(c.id.clone()),
            Some(ClientSecret::new(c.secret.clone().unwrap())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new(STATE.into()),
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let path = format!("{}?{}", url.path(), url.query().unwrap());
        let code = code_for(&logged_in(&app, "alice").await, &path).await;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(pkce_verifier)
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("[{}] exchange: {e:?}", db.label()));
        let id_token = tokens.id_token().expect("an ID token");
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &nonce)
            .unwrap_or_else(|e| panic!("[{}] the ID token verifies: {e:?}", db.label()));
        assert_eq!(claims.subject().as_str(), alice);
        assert_eq!(
            claims.preferred_username().map(|u| u.as_str()),
            Some("alice")
        );
        assert!(claims.auth_time().is_some());
        // at_hash is the hash of this access token.
        let expected = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected));
        // A relying party that sent another nonce refuses this token.
        assert!(id_token
            .claims(&verifier, &Nonce::new("another".into()))
            .is_err());
        // UserInfo, for the subject of the ID token.
        let info: CoreUserInfoClaims = client
            .user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
            .unwrap()
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("[{}] UserInfo: {e:?}", db.label()));
        assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));

        // A refresh through the crate: a new ID token for the same user,
        // with no nonce of its own.
        let refreshed = client
            .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
            .unwrap()
            .request_async(&app.http)
            .await
            .unwrap_or_else(|e| panic!("[{}] refresh: {e:?}", db.label()));
        let again = refreshed.id_token().expect("an ID token on refresh");
        let again = again
            .claims(&verifier, |n: Option<&Nonce>| match n {
                None => Ok(()),
                Some(_) => Err("a refresh's ID token carries a nonce".to_string()),
            })
            .unwrap_or_else(|e| panic!("[{}] the refreshed ID token: {e:?}", db.label()));
        assert_eq!(again.subject(), claims.subject());
        assert_eq!(again.auth_time(), claims.auth_time());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_nonce_and_auth_time_come_through_the_code() {
    on_every_backend(|db| async move {
        let (_, c) = setup(&db);
        let app = TestApp::spawn_clocked(&db, &[], authd::clock::Clock::manual_from_now()).await;
        let browser = logged_in(&app, "alice").await;
        let signed_in = app.clock.now();
        app.clock.advance(90);
        // Exactly the nonce sent, characters that need encoding included.
        let nonce = "n-0S6_WzA2Mj &=+/é";
        let p = pkce();
        let path = request(
            &c.id,
            &p.challenge,
            &[("scope", "openid"), ("nonce", nonce)],
        );
        let code = code_for(&browser, &path).await;
        let r = exchange(&app, &c, &code, REDIRECT, &p.verifier).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let (_, claims) = verify_with_jwks(&app, r.body["id_token"].as_str().unwrap(), &c.id).await;
        assert_eq!(claims["nonce"], nonce, "{claims}");
        // When alice entered her password, not when the code was made.
        assert_eq!(claims["auth_time"], signed_in, "{claims}");
        assert_eq!(claims["iat"], signed_in + 90, "{claims}");

        // Without a nonce: none in the ID token; without openid: no ID token.
        let p = pkce();
        let path = request(&c.id, &p.challenge, &[("scope", "openid")]);
        let code = code_for(&browser, &path).await;
        let r = exchange(&app, &c, &code, REDIRECT, &p.verifier).await;
        let (_, claims) = verify_with_jwks(&app, r.body["id_token"].as_str().unwrap(), &c.id).await;
        assert!(claims.get("nonce").is_none(), "{claims}");
        let p = pkce();
        let path = request(&c.id, &p.challenge, &[("scope", "posts:read")]);
        let code = code_for(&browser, &path).await;
        let r = exchange(&app, &c, &code, REDIRECT, &p.verifier).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert!(r.body.get("id_token").is_none(), "{}", r.raw);
        app.stop().await;
    })
    .await;
}
