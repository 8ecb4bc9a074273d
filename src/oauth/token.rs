//! `POST /oauth/token` (RFC 6749 §3.2): parse the form into a typed grant
//! request, authenticate the client, dispatch to the grant.

use actix_web::{web, HttpRequest, HttpResponse};
use tracing::Instrument;

use super::client_auth::ClientAuth;
use super::context::GrantCtx;
use super::error::OAuthError;
use super::grants;
use crate::grant_type::GrantType;
use crate::http::form::Form;
use crate::login::client_ip;
use crate::scope::{self, ScopeSet};
use crate::secret::Secret;
use crate::state::AppState;

/// Where the token endpoint is mounted.
pub const PATH: &str = "/oauth/token";

/// A token request, by grant type.
#[derive(Debug)]
pub enum GrantRequest {
    /// §4.3
    Password {
        /// The user's name.
        username: String,
        /// The user's password.
        password: Secret,
        /// A second factor's code, for a user with one.
        otp: Option<Secret>,
        /// Requested scope.
        scope: Option<ScopeSet>,
    },
    /// §6
    RefreshToken {
        /// The presented refresh token.
        refresh_token: Secret,
        /// Requested (narrower) scope.
        scope: Option<ScopeSet>,
    },
    /// §4.4
    ClientCredentials {
        /// Requested scope.
        scope: Option<ScopeSet>,
    },
    /// §4.1.3 with PKCE (RFC 7636 §4.5).
    AuthorizationCode {
        /// The code.
        code: Secret,
        /// The redirect URI of the authorization request.
        redirect_uri: String,
        /// The PKCE verifier.
        code_verifier: Secret,
    },
}

fn requested_scope(form: &Form) -> Result<Option<ScopeSet>, OAuthError> {
    form.get("scope")
        .map(|s| {
            scope::parse([s])
                .map_err(|bad| OAuthError::InvalidScope(format!("malformed scope '{bad}'")))
        })
        .transpose()
}

impl GrantRequest {
    /// The grant type asked for.
    pub fn grant_type(&self) -> GrantType {
        match self {
            GrantRequest::Password { .. } => GrantType::Password,
            GrantRequest::RefreshToken { .. } => GrantType::RefreshToken,
            GrantRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            GrantRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
        }
    }

    /// Reads the grant-specific parameters.
    pub fn from_form(form: &Form) -> Result<GrantRequest, OAuthError> {
        let grant_type = form.require("grant_type")?;
        Ok(match grant_type {
            "password" => GrantRequest::Password {
                username: form.require("username")?.to_string(),
                password: Secret::new(form.require("password")?),
                otp: form.get("otp").map(Secret::new),
                scope: requested_scope(form)?,
            },
            "refresh_token" => GrantRequest::RefreshToken {
                refresh_token: Secret::new(form.require("refresh_token")?),
                scope: requested_scope(form)?,
            },
            "client_credentials" => GrantRequest::ClientCredentials {
                scope: requested_scope(form)?,
            },
            "authorization_code" => GrantRequest::AuthorizationCode {
                code: Secret::new(form.require("code")?),
                redirect_uri: form.require("redirect_uri")?.to_string(),
                code_verifier: Secret::new(form.require("code_verifier")?),
            },
            other => {
                return Err(OAuthError::UnsupportedGrantType(format!(
                    "grant_type '{other}' is not supported"
                )))
            }
        })
    }
}

/// The handler.
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = Form::read(&req, payload).await;
    let named = form.as_ref().ok().and_then(|f| f.get("grant_type"));
    crate::metrics::label_grant(&req, named);
    let form = form?;
    let grant = GrantRequest::from_form(&form)?;
    let grant_type = grant.grant_type();
    // The grant's span: its type, and the client once it has said who it
    // is (a claim until authenticated; never its secret).
    let span = tracing::info_span!(
        "grant",
        grant_type = grant_type.as_str(),
        client_id = tracing::field::Empty,
    );
    let client = span.in_scope(|| ClientAuth::from_request(&req, &form))?;
    span.record("client_id", client.client_id());
    dispatch(&req, &state, grant, client).instrument(span).await
}

/// Runs the grant for an identified client.
async fn dispatch(
    req: &HttpRequest,
    state: &AppState,
    grant: GrantRequest,
    client: ClientAuth,
) -> Result<HttpResponse, OAuthError> {
    let grant_type = grant.grant_type();
    let ctx = GrantCtx::from_state(state);
    let issued = match grant {
        GrantRequest::Password {
            username,
            password,
            otp,
            scope,
        } => {
            let remote = client_ip(req, ctx.logins.trusted_proxies());
            let request = grants::password::PasswordRequest {
                auth: client,
                username,
                password,
                otp,
                requested: scope,
                remote,
            };
            grants::password::run(ctx, request).await?
        }
        GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } => grants::refresh::run(ctx, client, refresh_token, scope).await?,
        GrantRequest::ClientCredentials { scope } => {
            grants::client_credentials::run(ctx, client, scope).await?
        }
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let request = grants::authorization_code::CodeRequest {
                auth: client,
                code,
                redirect_uri,
                verifier: code_verifier,
            };
            grants::authorization_code::run(ctx, request).await?
        }
    };
    state.metrics.token_issued(grant_type);
    Ok(issued.into_response())
}
