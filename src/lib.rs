#![warn(missing_docs)]
//! authd: an OAuth 2.0 authorization server issuing RFC 9068 JWT access
//! tokens, and a verifier for the resource servers that receive them.
//!
//! Layers, from the wire down: `app` assembles the server from `oauth`,
//! `web` and `admin` (the handlers), which reach shared parts through `state`; below
//! them `manage` (admin operations) and `metrics` (counters the others
//! move), then `db`, `keys`, `password`, and the plain building blocks
//! (`clock`, `config`, `scope`, `redirect_uri`, `grant_type`, `secret`,
//! `files`, `audit`). `janitor` and `backchannel` are background tasks.

pub mod admin; // the admin HTTP API under /admin/v1
pub mod app; // assembles and runs the HTTP server
pub mod audit; // the audit trail: security events as log lines
pub mod backchannel; // back-channel logout: delivering the queued logout tokens
pub mod cli; // the command line (serve, migrate, admin commands)
pub mod clock; // the current time, passed in (settable in tests)
pub mod config; // settings: flags, environment variables, defaults
pub mod db; // storage over SQLite or PostgreSQL (diesel)
pub mod error_chain; // an error and its sources on one line, for the log
pub mod files; // secret files: created 0600, refused when open to others
pub mod grant_type; // the grant types a client may be registered for
pub mod http; // form reading and strict url-decoding, for endpoints and pages alike
pub mod janitor; // periodic removal of expired token rows
pub mod keys; // signing keys, rotation, the public JWK set
pub mod login; // password checks: lockout, per-address limit, bounded hashing; ending sessions
pub mod manage; // users, roles and clients administration
pub mod metrics; // Prometheus metrics: counters, request timing, GET /metrics
pub mod mfa; // second factors: TOTP, recovery codes, what a sign-in used (amr)
pub mod names; // usernames and display names: allowed characters, folding, log escaping
pub mod oauth; // the authorization-server protocol endpoints
pub mod password; // Argon2id password hashing and policy
mod redact; // Debug output without secrets
pub mod redirect_uri; // which redirect and logout URIs a client may register
pub mod scope; // scope syntax and the scope policy
pub mod secret; // random secrets, their hashes, redacted Debug
pub mod state; // what handlers share: pool, hasher, keys, issuer, clock
pub mod status; // Token Status Lists: this instance's index block, the lists it signed
pub mod telemetry; // log lines (text or JSON), request ids and spans, OTLP export
pub mod web; // HTTP routes outside the protocol (home page, health)

/// For resource servers: the token verifier and actix extractors, from the
/// `authd-resource` crate (which a resource server can depend on alone).
pub use authd_resource as resource;
pub use authd_resource::require_scope;
