//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and
//! `GET /.well-known/jwks.json` (RFC 7517).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use diesel::prelude::*;

use crate::app::AppState;
use crate::db::schema::role_scopes;

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

/// The authorization server metadata.
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let scopes: Vec<String> = state
        .db
        .run(|conn| {
            role_scopes::table
                .select(role_scopes::scope)
                .distinct()
                .order(role_scopes::scope.asc())
                .load::<String>(conn)
                .map_err(crate::db::DbError::from)
        })
        .await
        .unwrap_or_default();
    let iss = &state.issuer;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(serde_json::json!({
            "issuer": iss,
            "token_endpoint": format!("{iss}/oauth/token"),
            "authorization_endpoint": format!("{iss}/oauth/authorize"),
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "revocation_endpoint": format!("{iss}/oauth/revoke"),
            "introspection_endpoint": format!("{iss}/oauth/introspect"),
            "grant_types_supported": ["password", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "scopes_supported": scopes,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }))
}
