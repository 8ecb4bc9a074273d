//! The shared start of `/oauth/revoke` and `/oauth/introspect`: a form
//! naming one `token`, from a client authenticated exactly as at the token
//! endpoint (RFC 7009 §2.1, RFC 7662 §2.1).

use std::net::IpAddr;

use actix_web::{web, HttpRequest};

use super::client_auth::{self, ClientAuth};
use super::context::GrantCtx;
use super::error::OAuthError;
use crate::db::clients::Client;
use crate::db::AnyConnection;
use crate::http::form::Form;
use crate::secret::Secret;
use crate::state::AppState;

/// An authenticated request about one token.
pub struct TokenRequest {
    /// The client that asks.
    pub client: Client,
    /// The token it asks about.
    pub token: Secret,
    /// What the handler may use.
    pub ctx: GrantCtx,
    /// The time of the request.
    pub now: i64,
    /// The client address (as the login limits see it), for the audit trail.
    pub remote: Option<IpAddr>,
}

/// A form naming one token, from a client not authenticated yet.
pub struct Asked {
    auth: ClientAuth,
    token: Secret,
    ctx: GrantCtx,
    remote: Option<IpAddr>,
}

/// Reads the form (the client's credentials and the `token`).
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Asked, OAuthError> {
    let form = Form::read(req, payload).await?;
    Ok(Asked {
        auth: ClientAuth::from_request(req, &form)?,
        token: Secret::new(form.require("token")?),
        ctx: GrantCtx::from_state(state),
        remote: crate::login::client_ip(req, state.logins.trusted_proxies()),
    })
}

/// Reads the form, authenticates the client, then runs `f` with the
/// request on a connection thread, off the workers ([`Asked::on_pool`]).
pub async fn authenticated<T, F>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    f: F,
) -> Result<T, OAuthError>
where
    F: FnOnce(&mut AnyConnection, TokenRequest) -> Result<T, OAuthError> + Send + 'static,
    T: Send + 'static,
{
    read(req, payload, state).await?.on_pool(f).await
}

impl Asked {
    /// Authenticates the client ([`Asked::authenticate`]), then runs `f`
    /// with the request on a connection thread.
    pub async fn on_pool<T, F>(self, f: F) -> Result<T, OAuthError>
    where
        F: FnOnce(&mut AnyConnection, TokenRequest) -> Result<T, OAuthError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.ctx.db.clone();
        let request = self.authenticate().await?;
        db.read(move |conn| f(conn, request)).await
    }

    /// Authenticates the client, holding no connection: from the client
    /// cache when it is on and holds the client (with the token endpoint's
    /// staleness bound), else read with concurrent requests' lookups
    /// ([`Db::client`]).
    ///
    /// [`Db::client`]: crate::db::Db::client
    pub async fn authenticate(self) -> Result<TokenRequest, OAuthError> {
        let client = client_auth::authenticate(&self.ctx, &self.auth, None).await?;
        Ok(self.request(client))
    }

    fn request(self, client: Client) -> TokenRequest {
        TokenRequest {
            client,
            token: self.token,
            now: self.ctx.clock.now(),
            ctx: self.ctx,
            remote: self.remote,
        }
    }
}
