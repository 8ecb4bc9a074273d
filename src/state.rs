//! What the running server shares with its handlers, built once by
//! [`crate::app`] and cloned into every worker. It holds only lower-layer
//! parts, so handlers depend on it and never on the assembly.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::IssuerSettings;
use crate::db::Db;
use crate::keys::KeyRing;
use crate::login::Logins;

/// Shared state of the running server, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Connection pool.
    pub db: Db,
    /// Password checks: lockout, per-address limit, bounded hashing.
    pub logins: Logins,
    /// The issuer URL and token lifetimes in force.
    pub issuer: Arc<IssuerSettings>,
    /// Signing and published keys, reloaded in the background.
    pub keys: KeyRing,
    /// The time every token rule reads.
    pub clock: Clock,
}
