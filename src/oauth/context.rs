//! What a grant or a token handler needs, and nothing more: the pool, the
//! login checker, the issuer settings, the keys in force when the
//! request arrived, and the clock. Handlers build it from the shared state;
//! grants never see the rest of the server.

use std::sync::Arc;

use oxide_auth::primitives::grant::Grant;

use super::error::OAuthError;
use super::issuer::{extensions, no_redirect, TokenIssuer, Unsigned};
use super::retry::Retries;
use super::status_list::TokenStatus;
use crate::clock::Clock;
use crate::config::IssuerSettings;
use crate::db::client_cache::ClientCache;
use crate::db::clients::Client;
use crate::db::{AnyConnection, Db};
use crate::keys::{KeyRing, KeySnapshot};
use crate::login::Logins;
use crate::metrics::Metrics;
use crate::scope::{self, ScopeSet};
use crate::state::AppState;
use crate::status::indices::StatusIndices;
use oxide_auth::primitives::issuer::IssuedToken;

/// The narrow context of one protocol request; cheap to clone into the
/// blocking closure that does its storage work.
#[derive(Clone)]
pub struct GrantCtx {
    /// Connection pool.
    pub db: Db,
    /// Password checks (lockout, per-address limit, bounded hashing).
    pub logins: Logins,
    /// The issuer URL and token lifetimes.
    pub issuer: Arc<IssuerSettings>,
    /// The keys in force when the request arrived.
    pub keys: Arc<KeySnapshot>,
    /// The live keys, to make an ID-token key on first need.
    pub ring: KeyRing,
    /// The time every token rule reads.
    pub clock: Clock,
    /// The counters a grant moves.
    pub metrics: Metrics,
    /// Client records kept briefly in memory.
    pub clients: ClientCache,
    /// The status-list indices this instance hands out.
    pub status: StatusIndices,
}

impl GrantCtx {
    /// Signs an access token with its entry in a status list: an index
    /// from this instance's block (a database write only when a new block
    /// is reserved, docs/design.md "Status lists").
    pub async fn sign_access(&self, unsigned: Unsigned) -> Result<IssuedToken, OAuthError> {
        let (list_id, idx) = self
            .status
            .next(&self.db, unsigned.iat(), unsigned.exp())
            .await?;
        let status = TokenStatus::new(&self.issuer.issuer, list_id, idx);
        unsigned.with_status(status).sign(&self.keys)
    }

    /// The parts of the shared state a protocol request uses.
    pub fn from_state(state: &AppState) -> GrantCtx {
        GrantCtx {
            db: state.db.clone(),
            logins: state.logins.clone(),
            issuer: state.issuer.clone(),
            keys: state.keys.current(),
            ring: state.keys.clone(),
            clock: state.clock.clone(),
            metrics: state.metrics.clone(),
            clients: state.clients.clone(),
            status: state.status.indices.clone(),
        }
    }

    /// Retried refreshes, when `--refresh-retry-grace` is on (the key
    /// file's vault seals the successors).
    pub fn retries(&self) -> Option<Retries> {
        Retries::new(self.issuer.refresh_retry_grace, self.logins.vault())
    }

    /// The issuer writing through `conn` (so inside the caller's
    /// transaction) at time `now`.
    pub fn token_issuer<'c>(&'c self, conn: &'c mut AnyConnection, now: i64) -> TokenIssuer<'c> {
        TokenIssuer::new(conn, &self.keys, &self.issuer, now)
    }

    /// The oxide-auth grant of `scope` to `owner` through `client`: a
    /// user's grant carries the user's credential `generation`, and comes
    /// with a refresh token when `with_refresh`. Its `until` is only a
    /// placeholder: the Issuer sets lifetimes.
    pub fn grant(
        &self,
        owner: &str,
        client: &Client,
        scope: &ScopeSet,
        generation: Option<i64>,
        with_refresh: bool,
        now: i64,
    ) -> Result<Grant, OAuthError> {
        let audience = client.audience.as_deref().unwrap_or(&self.issuer.issuer);
        Ok(Grant {
            owner_id: owner.to_string(),
            client_id: client.client_id.clone(),
            scope: scope::join(scope)
                .parse()
                .map_err(|_| OAuthError::internal("a valid scope set did not convert"))?,
            redirect_uri: no_redirect(),
            until: chrono::DateTime::from_timestamp(now, 0).unwrap_or_default(),
            extensions: extensions(audience, generation, with_refresh),
        })
    }
}
