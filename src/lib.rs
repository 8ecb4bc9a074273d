#![warn(missing_docs)]
//! authd: an OAuth 2.0 authorization server issuing RFC 9068 JWT access
//! tokens, and a verifier for the resource servers that receive them.

pub mod app; // builds and runs the HTTP server
pub mod cli; // the command line (serve, migrate, admin commands)
pub mod config; // settings: flags, environment variables, defaults
pub mod db; // storage over SQLite or PostgreSQL (diesel)
pub mod janitor; // periodic removal of expired token rows
pub mod keys; // signing keys, rotation, the public JWK set
pub mod manage; // users, roles and clients administration
pub mod oauth; // the authorization-server protocol
pub mod password; // Argon2id password hashing and policy
pub mod resource; // for resource servers: token verifier and actix extractors
pub mod secret; // random secrets, their hashes, redacted Debug
pub mod web; // non-protocol HTTP routes (health, console)
