//! The shared start of `/oauth/revoke` and `/oauth/introspect`: a form
//! naming one `token`, from a client authenticated exactly as at the token
//! endpoint (RFC 7009 §2.1, RFC 7662 §2.1).

use std::net::IpAddr;

use actix_web::{web, HttpRequest};

use super::client_auth::{ClientAuth, DbRegistrar};
use super::context::GrantCtx;
use super::error::OAuthError;
use super::form::Form;
use crate::db::clients::Client;
use crate::db::AnyConnection;
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

/// Reads the form, authenticates the client (read with [`Db::client`], or
/// from the client cache when it is on and holds the client), then runs
/// `f` with the request on a pooled connection, off the workers.
///
/// [`Db::client`]: crate::db::Db::client
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
    let form = Form::read(req, payload).await?;
    let auth = ClientAuth::from_request(req, &form)?;
    let token = Secret::new(form.require("token")?);
    let ctx = GrantCtx::from_state(state);
    let remote = crate::login::client_ip(req, state.logins.trusted_proxies());
    // With the client cache on, a cached record saves a query, as at the
    // token endpoint (and with the same staleness bound).
    let (cache, read_at) = (ctx.clients.clone(), ctx.clients.epoch());
    // On PostgreSQL the client is read with concurrent requests' lookups
    // ([`Db::client`]); on SQLite on the connection that `f` uses next,
    // which saves a hop through the blocking pool.
    let known = cache.hit(auth.client_id(), auth.secret());
    let read = match known {
        None if state.db.combines_client_reads() => Some(state.db.client(auth.client_id()).await?),
        _ => None,
    };
    state
        .db
        .run(move |conn| {
            let client = match (known, read) {
                (Some(known), _) => DbRegistrar::known(known).authenticate(&auth)?,
                (None, read) => {
                    let client = match read {
                        Some(read) => DbRegistrar::only(read).authenticate(&auth)?,
                        None => DbRegistrar::new(conn).authenticate(&auth)?,
                    };
                    cache.put(&client, read_at);
                    client
                }
            };
            let now = ctx.clock.now();
            let request = TokenRequest {
                client,
                token,
                ctx,
                now,
                remote,
            };
            f(conn, request)
        })
        .await
}
