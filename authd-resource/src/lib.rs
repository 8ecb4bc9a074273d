#![warn(missing_docs)]
//! For resource servers: verify authd's access tokens (RFC 9068) and answer
//! 401 or 403 exactly as RFC 6750 §3 says. Needs no access to authd's
//! database, and none of its dependencies: keys come from the issuer's JWKS.
//! The authd crate re-exports this one as `authd::resource`.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use authd_resource::{AccessToken, Scoped, Verifier};
//!
//! authd_resource::require_scope!(PostsRead, "posts:read");
//!
//! async fn list(_token: Scoped<PostsRead>) -> &'static str { "[]" }
//! async fn me(token: AccessToken) -> String { token.claims().sub.clone() }
//!
//! # async fn run() -> std::io::Result<()> {
//! let verifier = Verifier::builder("https://id.example.com", "https://api.example.com")
//!     .build()
//!     .expect("valid verifier settings");
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(web::Data::new(verifier.clone()))
//!         .route("/posts", web::get().to(list))
//!         .route("/me", web::get().to(me))
//! })
//! .bind("127.0.0.1:9000")?
//! .run()
//! .await
//! # }
//! ```

mod claims; // the claims of a verified token
mod extract; // actix-web extractors and RFC 6750 challenges
mod fetch; // one rate-limited JWKS fetch at a time, in the background
mod jwks; // the key cache built from the issuer's JWKS
mod status; // Token Status Lists: the cached lists and their bits
mod verifier; // signature and claim checks against the cached keys

pub use claims::Claims;
pub use extract::{AccessToken, ResourceError, ScopeRequirement, Scoped};
pub use verifier::{
    install_crypto_provider, Verifier, VerifierBuilder, VerifyError, DEFAULT_LEEWAY, MAX_LEEWAY,
};

/// Declares a scope requirement for [`Scoped`]:
/// `authd_resource::require_scope!(PostsDelete, "posts:delete");` then
/// `async fn delete(token: Scoped<PostsDelete>, …)` answers 403 unless the
/// token has `posts:delete`, before the handler runs.
#[macro_export]
macro_rules! require_scope {
    ($(#[$meta:meta])* $vis:vis $name:ident, $scope:literal) => {
        $(#[$meta])*
        $vis struct $name;
        impl $crate::ScopeRequirement for $name {
            const SCOPE: &'static str = $scope;
        }
    };
}
