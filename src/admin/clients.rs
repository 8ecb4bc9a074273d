//! `/admin/v1/clients`: list, register, show, change, remove, new
//! secret, through `manage::client_changes` (which forgets each changed
//! client's cached record), as `authd client …` does.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::admin;
use super::body;
use super::error::{AdminError, Subject};
use crate::audit;
use crate::keys::{SigningAlg, DEFAULT_ID_TOKEN_ALG};
use crate::manage::client_update::{ClientUpdate, Updated};
use crate::manage::clients::{self, ClientView, NewClient};
use crate::manage::ManageError;
use crate::state::AppState;

/// A client to register: the options of `authd client add`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    /// Display name.
    name: String,
    /// Its id instead of a random one: 1 to 64 ASCII letters, digits,
    /// `-`, `_` and `.`.
    #[serde(default)]
    client_id: Option<String>,
    /// Grants (password, refresh_token, client_credentials,
    /// authorization_code); none: password and refresh_token.
    #[serde(default)]
    grants: Vec<String>,
    /// Scopes (each item may hold several, space-separated).
    #[serde(default)]
    scopes: Vec<String>,
    /// Redirect URIs (for authorization_code).
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// A public client: no secret.
    #[serde(default)]
    public: bool,
    /// The `aud` of its access tokens (default: the issuer).
    #[serde(default)]
    audience: Option<String>,
    /// Audiences whose access tokens it may introspect.
    #[serde(default)]
    introspects: Vec<String>,
    /// Its ID tokens' algorithm: RS256 (default), ES256, EdDSA.
    #[serde(default)]
    id_token_alg: Option<String>,
    /// Never asks its users for consent.
    #[serde(default)]
    first_party: bool,
    /// Where RP-initiated logout may send the browser back to.
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// Where it is told of a session's end.
    #[serde(default)]
    backchannel_logout_uri: Option<String>,
}

/// What to change (`authd client update`); a field left out stays as it
/// is, a list given replaces the old one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    /// Display name.
    #[serde(default)]
    name: Option<String>,
    /// Scopes.
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// Grants.
    #[serde(default)]
    grants: Option<Vec<String>>,
    /// Redirect URIs.
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    /// The `aud` of its access tokens.
    #[serde(default)]
    audience: Option<String>,
    /// Post-logout redirect URIs.
    #[serde(default)]
    post_logout_redirect_uris: Option<Vec<String>>,
    /// Back-channel logout URI; an empty string removes it.
    #[serde(default)]
    backchannel_logout_uri: Option<String>,
}

/// A registered client with its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    /// The client.
    #[serde(flatten)]
    client: ClientView,
    /// Its secret (absent for a public client): stored only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

/// A client's new secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewSecret {
    /// The client.
    client_id: String,
    /// Its new secret; the old one no longer works.
    client_secret: String,
}

/// Every client, with who registered it.
#[utoipa::path(get, path = "/admin/v1/clients", operation_id = "list_clients", tag = "clients",
    responses((status = 200, description = "Every client", body = Vec<ClientView>)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    super::read(&req, &state, Subject::Collection, |conn| {
        clients::list(conn, None)
    })
    .await
}

/// Registers a client; its secret is in the answer, and only there.
#[utoipa::path(post, path = "/admin/v1/clients", operation_id = "create_client", tag = "clients", request_body = NewClientBody,
    responses(
        (status = 201, description = "Registered", body = CreatedClient),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 409, description = "The client id is taken", body = super::error::ErrorBody)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let asked: NewClientBody = body::json(&bytes)?;
    let invalid = AdminError::about(Subject::Collection);
    let id_token_alg = match asked.id_token_alg.as_deref() {
        Some(alg) => Some(
            alg.parse::<SigningAlg>()
                .map_err(|e| invalid(ManageError::Invalid(e)))?,
        ),
        None => None,
    };
    let new = NewClient {
        name: asked.name,
        grants: asked.grants,
        scopes: asked.scopes,
        public: asked.public,
        redirect_uris: asked.redirect_uris,
        audience: asked.audience,
        introspects: asked.introspects,
        owner_id: None,
        id_token_alg,
        first_party: asked.first_party,
        post_logout_redirect_uris: asked.post_logout_redirect_uris,
        backchannel_logout_uri: asked.backchannel_logout_uri,
        client_id: asked.client_id,
    };
    let created = state.client_changes().add(new).await.map_err(invalid)?;
    let c = &created.client;
    audit::client_added(&c.client_id, &c.name, c.public, by.actor());
    // Its key in the JWKS before its first ID token.
    if let Some(alg) = id_token_alg.filter(|a| *a != DEFAULT_ID_TOKEN_ALG) {
        if !state.keys.current().has_id_key(alg) {
            state.keys.with_id_key(alg).await?;
        }
    }
    Ok(HttpResponse::Created().json(CreatedClient {
        client_secret: created.secret.map(|s| s.expose().to_string()),
        client: created.client,
    }))
}

/// One client, with who registered it.
#[utoipa::path(get, path = "/admin/v1/clients/{client_id}", operation_id = "get_client", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client", body = ClientView),
        (status = 404, description = "No such client", body = super::error::ErrorBody)))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = client_id.into_inner();
    super::read(&req, &state, Subject::Client, move |conn| {
        clients::get(conn, &id, None)
    })
    .await
}

/// Changes a client; the result is checked as a new client is.
#[utoipa::path(patch, path = "/admin/v1/clients/{client_id}", operation_id = "update_client", tag = "clients",
    request_body = ClientPatch,
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client as changed, and which fields changed", body = Updated),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 404, description = "No such client", body = super::error::ErrorBody)))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let asked: ClientPatch = body::json(&bytes)?;
    let change = ClientUpdate {
        name: asked.name,
        scopes: asked.scopes,
        grants: asked.grants,
        redirect_uris: asked.redirect_uris,
        audience: asked.audience,
        post_logout_redirect_uris: asked.post_logout_redirect_uris,
        backchannel_logout_uri: asked.backchannel_logout_uri,
    };
    let id = client_id.into_inner();
    let updated = state
        .client_changes()
        .update(&id, change)
        .await
        .map_err(AdminError::about(Subject::Client))?;
    if !updated.changed.is_empty() {
        audit::client_updated(&id, &updated.changed, by.actor());
    }
    Ok(HttpResponse::Ok().json(updated))
}

/// Removes a client; its refresh tokens stop working.
#[utoipa::path(delete, path = "/admin/v1/clients/{client_id}", operation_id = "delete_client", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such client", body = super::error::ErrorBody)))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let id = client_id.into_inner();
    state
        .client_changes()
        .remove(&id, None)
        .await
        .map_err(AdminError::about(Subject::Client))?;
    audit::client_removed(&id, by.actor());
    Ok(HttpResponse::NoContent().finish())
}

/// Issues a new secret; the old one stops working at once.
#[utoipa::path(post, path = "/admin/v1/clients/{client_id}/secret", operation_id = "rotate_client_secret", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The new secret, shown once", body = NewSecret),
        (status = 400, description = "A public client has no secret", body = super::error::ErrorBody),
        (status = 404, description = "No such client", body = super::error::ErrorBody)))]
pub async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let id = client_id.into_inner();
    let secret = state
        .client_changes()
        .rotate_secret(&id, None)
        .await
        .map_err(AdminError::about(Subject::Client))?;
    audit::client_secret_rotated(&id, by.actor());
    Ok(HttpResponse::Ok().json(NewSecret {
        client_id: id,
        client_secret: secret.expose().to_string(),
    }))
}
