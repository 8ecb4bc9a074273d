//! What the running server shares with its handlers, built once by
//! [`crate::app`] and cloned into every worker. It holds only lower-layer
//! parts, so handlers depend on it and never on the assembly.

use std::sync::Arc;

use crate::backchannel::Outbox;
use crate::clock::Clock;
use crate::config::{IssuerSettings, Registration, SessionLimits};
use crate::db::client_cache::ClientCache;
use crate::db::cors_origins::Origins;
use crate::db::Db;
use crate::keys::KeyRing;
use crate::login::Logins;
use crate::manage::client_changes::ClientChanges;
use crate::metrics::Metrics;
use crate::mfa::passkey::RelyingParty;
use crate::secret::Secret;
use crate::status::made::StatusLists;

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
    /// Browser session lifetimes.
    pub sessions: SessionLimits,
    /// The key signing the login form's CSRF tokens: read from the
    /// database (made there by the first instance that needs it) on first
    /// use, so that every instance accepts every other one's forms.
    pub csrf_key: Arc<tokio::sync::OnceCell<Secret>>,
    /// The key under which the console seals a new client secret for its
    /// one trip to the page that shows it: kept in the database like
    /// `csrf_key` (so any instance opens another's), read on first use.
    pub reveal_key: Arc<tokio::sync::OnceCell<Secret>>,
    /// The counters that requests move.
    pub metrics: Metrics,
    /// Client records kept briefly in memory (off unless configured).
    pub clients: ClientCache,
    /// The origins CORS allows, read briefly from the clients' redirect
    /// URIs.
    pub cors: Origins,
    /// Self-service sign-up: whether `/register` is served, and the roles
    /// new users get.
    pub registration: Arc<Registration>,
    /// Most clients one console user may have (`--console-max-clients`).
    pub console_max_clients: u32,
    /// Wakes the back-channel logout deliveries once a session's end has
    /// queued notices.
    pub backchannel: Outbox,
    /// The status-list indices this instance hands out and the lists it
    /// signed lately (docs/design.md "Status lists").
    pub status: StatusLists,
    /// The JWKS's Cache-Control max-age in seconds (`--jwks-max-age`).
    pub jwks_max_age: i64,
    /// The WebAuthn relying party, when passkeys are on.
    pub passkeys: Option<Arc<RelyingParty>>,
}

impl AppState {
    /// The way handlers change clients: each change also forgets the
    /// client's cached record.
    pub fn client_changes(&self) -> ClientChanges {
        ClientChanges::new(self.db.clone(), self.clients.clone(), self.clock.clone())
    }
}
