//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and
//! `GET /.well-known/jwks.json` (RFC 7517).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::error::OAuthError;
use crate::db::roles;
use crate::grant_type::GrantType;
use crate::state::AppState;

/// How long clients may cache the JWKS. Short, because resource servers
/// should see a new key soon; they also refetch on an unknown `kid`.
pub const JWKS_MAX_AGE_SECS: u32 = 60;

/// The JWK set: every key that may still have live tokens.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.current();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        ))
        .body(keys.jwks_json().to_string())
}

/// The authorization server metadata document (RFC 8414 §2).
#[derive(Debug, Serialize)]
pub struct Metadata {
    issuer: String,
    token_endpoint: String,
    authorization_endpoint: String,
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
}

/// Client authentication methods (RFC 6749 §2.3); `none` for public clients.
const AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];

impl Metadata {
    fn new(iss: &str, scopes: Vec<String>) -> Metadata {
        Metadata {
            issuer: iss.to_string(),
            token_endpoint: format!("{iss}/oauth/token"),
            authorization_endpoint: format!("{iss}/oauth/authorize"),
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
        }
    }
}

/// The handler. Without the database it cannot list the scopes: 503, never
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
