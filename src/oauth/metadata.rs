//! `GET /.well-known/oauth-authorization-server` (RFC 8414),
//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0
//! §3) and `GET /.well-known/jwks.json` (RFC 7517).
//!
//! Both metadata paths serve one document: RFC 8414 §2 takes OpenID
//! Connect's metadata names as its own, so the two can never disagree
//! (docs/interface.md "OpenID Connect").

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::error::OAuthError;
use crate::db::roles;
use crate::grant_type::GrantType;
use crate::state::AppState;

/// The JWK set: every key that may still have live tokens, and the staged
/// ones. Verifiers may cache it for `--jwks-max-age` seconds: automatic
/// rotation stages each key at least that long before it signs
/// (docs/interface.md "Token lifecycle", Keys).
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.current();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.jwks_max_age),
        ))
        .body(keys.jwks_json().to_string())
}

/// The OpenID Connect Discovery path (Discovery 1.0 §4).
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// The RFC 8414 path (§3).
pub const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";

/// The scope that makes a request an OpenID Connect one (Core 1.0 §3.1.2.1).
pub const OPENID: &str = "openid";

/// The claims an ID token or UserInfo may carry (Core 1.0 §2, §5.1).
const CLAIMS: [&str; 16] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "sid",
    "amr",
    "acr",
    "preferred_username",
    "name",
    "email",
    "email_verified",
];

/// The authorization server metadata document (RFC 8414 §2), which is
/// also the OpenID Provider metadata (Discovery 1.0 §3).
#[derive(Debug, Serialize)]
pub struct Metadata {
    issuer: String,
    token_endpoint: String,
    authorization_endpoint: String,
    userinfo_endpoint: String,
    /// RP-Initiated Logout 1.0 §2.1.
    end_session_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    grant_types_supported: Vec<&'static str>,
    response_types_supported: [&'static str; 1],
    scopes_supported: Vec<String>,
    token_endpoint_auth_methods_supported: [&'static str; 3],
    revocation_endpoint_auth_methods_supported: [&'static str; 3],
    introspection_endpoint_auth_methods_supported: [&'static str; 2],
    code_challenge_methods_supported: [&'static str; 1],
    /// Every user has one `sub` for every client (Core 1.0 §8).
    subject_types_supported: [&'static str; 1],
    /// What a client may choose with `--id-token-alg`; RS256 first, as
    /// Core 1.0 §15.1 requires it.
    id_token_signing_alg_values_supported: [&'static str; 3],
    claims_supported: [&'static str; 16],
    /// The `acr` values ID tokens carry (Discovery 1.0 §3).
    acr_values_supported: [&'static str; 2],
    /// Core 1.0 §3.1.2.1; Discovery 1.0 §3 names this field.
    prompt_values_supported: [&'static str; 3],
    /// Every authorization response carries `iss` (RFC 9207 §3).
    authorization_response_iss_parameter_supported: bool,
    /// Back-Channel Logout 1.0 §2.1: clients may register a
    /// `backchannel_logout_uri`, and logout tokens always carry `sid`.
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
}

/// Client authentication methods (RFC 6749 §2.3); `none` for public clients.
const AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];

impl Metadata {
    fn new(iss: &str, mut scopes: Vec<String>) -> Metadata {
        // `openid` is served whether or not a role grants it yet: a
        // relying party reads this list to learn that it may sign in here.
        if !scopes.iter().any(|s| s == OPENID) {
            scopes.push(OPENID.to_string());
            scopes.sort_unstable();
        }
        Metadata {
            issuer: iss.to_string(),
            token_endpoint: format!("{iss}/oauth/token"),
            authorization_endpoint: format!("{iss}/oauth/authorize"),
            userinfo_endpoint: format!("{iss}{}", super::userinfo::PATH),
            end_session_endpoint: format!("{iss}{}", super::end_session::PATH),
            jwks_uri: format!("{iss}/.well-known/jwks.json"),
            revocation_endpoint: format!("{iss}/oauth/revoke"),
            introspection_endpoint: format!("{iss}/oauth/introspect"),
            // Every grant the token endpoint serves.
            grant_types_supported: GrantType::ALL.iter().map(|g| g.as_str()).collect(),
            response_types_supported: ["code"],
            scopes_supported: scopes,
            token_endpoint_auth_methods_supported: AUTH_METHODS,
            revocation_endpoint_auth_methods_supported: AUTH_METHODS,
            introspection_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
            ],
            code_challenge_methods_supported: ["S256"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: ["RS256", "ES256", "EdDSA"],
            claims_supported: CLAIMS,
            acr_values_supported: crate::mfa::amr::ACR_VALUES,
            prompt_values_supported: ["none", "login", "consent"],
            authorization_response_iss_parameter_supported: true,
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
        }
    }
}

/// The handler of both metadata paths. Without the database it cannot list the scopes: 503, never
/// a cacheable document with an empty list.
pub async fn metadata(state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    let scopes = state
        .db
        .read(|conn| roles::all_scopes(conn).map_err(OAuthError::from))
        .await
        .map_err(|e| match e {
            OAuthError::Internal(cause) => OAuthError::Unavailable(cause),
            other => other,
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(Metadata::new(&state.issuer.issuer, scopes)))
}
