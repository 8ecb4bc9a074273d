//! Who may call the admin API: the bearer of an access token that authd
//! issued with the scope `authd:admin` and that still stands, checked by
//! the one bearer-token check ([`live_access`]): no token or a bad one is
//! 401, a token without the scope 403, with RFC 6750 §3 challenges.

use std::net::IpAddr;

use actix_web::HttpRequest;

use super::error::AdminError;
use crate::audit::Actor;
use crate::login::client_ip;
use crate::oauth::bearer::live_access;
use crate::oauth::error::OAuthError;
use crate::scope;
use crate::state::AppState;

/// The scope an access token needs for the admin API.
pub const ADMIN_SCOPE: &str = "authd:admin";

/// The caller of an admin request, for the audit trail.
pub struct Admin {
    /// The token's `sub`: a user's id, or the client's for
    /// client_credentials.
    pub subject: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Where the request came from.
    pub remote: Option<IpAddr>,
}

impl Admin {
    /// The audit trail's actor.
    pub fn actor(&self) -> Actor<'_> {
        Actor::Api {
            subject: &self.subject,
            client_id: &self.client_id,
            remote: self.remote,
        }
    }
}

/// The request's caller, if its token stands and carries [`ADMIN_SCOPE`].
/// A user's token stops working the moment the user is disabled, deleted
/// or given a new password. Losing the role that granted the scope does
/// not recall a token already issued: its scope is fixed until it expires
/// (`--access-token-ttl`), as for every resource server.
pub async fn admin(req: &HttpRequest, state: &AppState) -> Result<Admin, AdminError> {
    let live = live_access(req, state).await?;
    let scopes = scope::parse([live.claims.scope.as_str()]).unwrap_or_default();
    if !scopes.contains(ADMIN_SCOPE) {
        return Err(OAuthError::InsufficientScope(ADMIN_SCOPE).into());
    }
    Ok(Admin {
        subject: live.claims.sub,
        client_id: live.claims.client_id,
        remote: client_ip(req, state.logins.trusted_proxies()),
    })
}
