//! OpenID Connect Discovery 1.0: the provider metadata at
//! `/.well-known/openid-configuration`, read by the `openidconnect` crate
//! (a relying party nobody here wrote), and the RFC 8414 document that
//! must agree with it, on every backend.

use openidconnect::core::{CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::IssuerUrl;

use crate::support::fixtures::role;
use crate::support::helpers::{on_every_backend, TestApp};

#[actix_web::test]
async fn discovery_is_the_rfc_8414_document_and_a_relying_party_reads_it() {
    on_every_backend(|db| async move {
        role(&db, "member", "posts:read");
        let app = TestApp::spawn(&db).await;
        let oidc: serde_json::Value = app.get_json("/.well-known/openid-configuration").await;
        let oauth: serde_json::Value = app
            .get_json("/.well-known/oauth-authorization-server")
            .await;
        assert_eq!(oidc, oauth, "the two documents disagree");
        assert_eq!(oidc["issuer"], app.issuer);
        assert_eq!(
            oidc["subject_types_supported"],
            serde_json::json!(["public"])
        );
        assert_eq!(
            oidc["response_types_supported"],
            serde_json::json!(["code"])
        );
        assert_eq!(
            oidc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        // `openid` is listed although no role grants it yet.
        assert_eq!(
            oidc["scopes_supported"],
            serde_json::json!(["openid", "posts:read"])
        );
        let claims = oidc["claims_supported"].as_array().unwrap();
        for c in ["sub", "auth_time", "nonce", "at_hash", "sid", "amr", "acr"] {
            assert!(claims.iter().any(|x| x == c), "{c}: {oidc}");
        }
        assert_eq!(
            oidc["acr_values_supported"],
            serde_json::json!(["urn:authd:acr:pwd", "urn:authd:acr:mfa"])
        );

        let meta = CoreProviderMetadata::discover_async(
            IssuerUrl::new(app.issuer.clone()).unwrap(),
            &app.http,
        )
        .await
        .unwrap_or_else(|e| panic!("[{}] discovery: {e:?}", db.label()));
        assert_eq!(meta.issuer().as_str(), app.issuer);
        assert_eq!(
            meta.token_endpoint().unwrap().as_str(),
            format!("{}/oauth/token", app.issuer)
        );
        assert!(meta
            .id_token_signing_alg_values_supported()
            .contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
        app.stop().await;
    })
    .await;
}
