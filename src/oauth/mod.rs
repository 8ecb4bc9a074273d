//! The authorization-server side of OAuth 2.0.

pub mod access_token; // the JWT claims; checking our own tokens
pub mod authorize; // GET /oauth/authorize: code + PKCE, login and consent
pub mod bearer; // the one check of a bearer token presented to authd (UserInfo, admin API)
pub mod client_auth; // client authentication and the oxide-auth Registrar
pub mod codes; // the oxide-auth Authorizer: authorization codes
pub mod context; // GrantCtx: what a protocol request may use
pub mod cors; // CORS for the endpoints single-page apps call
pub mod end_session; // GET/POST /oauth/logout: RP-initiated logout
pub mod error; // OAuthError -> RFC 6749 / RFC 6750 responses (the only place)
pub mod grants; // one module per grant type
pub mod id_token; // OpenID Connect ID tokens: claims, at_hash, signing
pub mod introspect; // POST /oauth/introspect (RFC 7662)
pub mod issuer; // the oxide-auth Issuer: every token comes from here
pub mod metadata; // RFC 8414 / OpenID Connect Discovery metadata, the JWKS
pub mod pkce; // PKCE (RFC 7636), S256 only
pub mod retry; // retried refreshes: the grace and the sealed successor
pub mod revoke; // POST /oauth/revoke (RFC 7009)
pub mod rotation; // refresh-token liveness, claim and reuse detection
pub mod status_list; // Token Status Lists: indices, the signed lists
pub mod token; // POST /oauth/token
pub mod token_request; // the shared start of revoke and introspect
pub mod userinfo; // GET/POST /oauth/userinfo (OpenID Connect Core 1.0 §5.3)

use actix_web::middleware::from_fn;
use actix_web::web;

/// Registers the protocol endpoints. Wrap the app in
/// [`error::log_failures`] so that their 5xx causes reach the log.
///
/// The token, revocation and UserInfo endpoints, the JWKS and the
/// discovery documents answer CORS ([`cors::allow`], with each one's
/// methods); the authorization and logout endpoints are navigations and
/// introspection is for resource servers, so none of them does.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(token::PATH)
            .route(web::post().to(token::token))
            .default_service(web::to(error::method_not_allowed))
            .wrap(from_fn(|req, next| cors::allow("POST", req, next))),
    )
    .service(
        web::resource(authorize::PATH)
            .route(web::get().to(authorize::authorize))
            .route(web::post().to(authorize::authorize)),
    )
    .service(
        web::resource("/oauth/revoke")
            .route(web::post().to(revoke::revoke))
            .default_service(web::to(error::method_not_allowed))
            .wrap(from_fn(|req, next| cors::allow("POST", req, next))),
    )
    .service(
        web::resource("/oauth/introspect")
            .route(web::post().to(introspect::introspect))
            .default_service(web::to(error::method_not_allowed)),
    )
    .service(
        web::resource(end_session::PATH)
            .route(web::get().to(end_session::end_session))
            .route(web::post().to(end_session::end_session)),
    )
    .service(
        web::resource(userinfo::PATH)
            .route(web::get().to(userinfo::userinfo))
            .route(web::post().to(userinfo::userinfo))
            .wrap(from_fn(|req, next| cors::allow("GET, POST", req, next))),
    )
    .service(web::resource(status_list::PATH).route(web::get().to(status_list::serve::status_list)))
    .service(
        web::resource("/.well-known/jwks.json")
            .route(web::get().to(metadata::jwks))
            .wrap(from_fn(|req, next| cors::allow("GET", req, next))),
    )
    .service(
        web::resource(metadata::OAUTH_AUTHORIZATION_SERVER)
            .route(web::get().to(metadata::metadata))
            .wrap(from_fn(|req, next| cors::allow("GET", req, next))),
    )
    .service(
        web::resource(metadata::OPENID_CONFIGURATION)
            .route(web::get().to(metadata::metadata))
            .wrap(from_fn(|req, next| cors::allow("GET", req, next))),
    );
}
