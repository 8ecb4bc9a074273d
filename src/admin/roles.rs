//! `/admin/v1/roles`: list, create, change, delete, through
//! `manage::roles`, as `authd role …` does.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::admin;
use super::body;
use super::error::{AdminError, Subject};
use crate::audit;
use crate::manage::roles::{self, RoleChange, RoleView};
use crate::state::AppState;

/// A role to create (`authd role add`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoleBody {
    /// Its name.
    name: String,
    /// The scopes it grants (each item may hold several, space-separated).
    scopes: Vec<String>,
    /// Whether its users must have a second factor.
    #[serde(default)]
    require_mfa: bool,
}

/// What to change (`authd role set`); a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    /// The scopes it grants from now on, replacing the old ones.
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// Whether its users must have a second factor.
    #[serde(default)]
    require_mfa: Option<bool>,
}

/// `DELETE`'s query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

/// Every role.
#[utoipa::path(get, path = "/admin/v1/roles", operation_id = "list_roles", tag = "roles",
    responses((status = 200, description = "Every role", body = Vec<RoleView>)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    super::read(&req, &state, Subject::Collection, roles::list).await
}

/// Creates a role.
#[utoipa::path(post, path = "/admin/v1/roles", operation_id = "create_role", tag = "roles", request_body = NewRoleBody,
    responses(
        (status = 201, description = "Created", body = RoleView),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 409, description = "The name is taken", body = super::error::ErrorBody)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let asked: NewRoleBody = body::json(&bytes)?;
    let now = state.clock.now();
    let required = asked.require_mfa;
    let role = state
        .db
        .write(move |conn| {
            roles::add_with_policy(conn, &asked.name, &asked.scopes, asked.require_mfa, now)
        })
        .await
        .map_err(AdminError::about(Subject::Collection))?;
    audit::role_added(&role.name, &role.scopes, by.actor());
    if required {
        audit::role_require_mfa(&role.name, true, by.actor());
    }
    Ok(HttpResponse::Created().json(role))
}

/// Changes a role's scopes, whether it requires a second factor, or both.
#[utoipa::path(patch, path = "/admin/v1/roles/{name}", operation_id = "update_role", tag = "roles", request_body = RolePatch,
    params(("name" = String, Path, description = "The role's name")),
    responses(
        (status = 200, description = "The role as changed", body = RoleView),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 404, description = "No such role", body = super::error::ErrorBody)))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let asked: RolePatch = body::json(&bytes)?;
    let change = RoleChange {
        scopes: asked.scopes,
        require_mfa: asked.require_mfa,
    };
    let (scopes_set, required) = (change.scopes.is_some(), change.require_mfa);
    let name = name.into_inner();
    let role = state
        .db
        .write(move |conn| roles::set(conn, &name, &change))
        .await
        .map_err(AdminError::about(Subject::Role))?;
    if scopes_set {
        audit::role_scopes_set(&role.name, &role.scopes, by.actor());
    }
    if let Some(required) = required {
        audit::role_require_mfa(&role.name, required, by.actor());
    }
    Ok(HttpResponse::Ok().json(role))
}

/// Deletes a role; one that users hold only with `?force=true`, which
/// takes it from them.
#[utoipa::path(delete, path = "/admin/v1/roles/{name}", operation_id = "delete_role", tag = "roles",
    params(
        ("name" = String, Path, description = "The role's name"),
        ("force" = Option<bool>, Query, description = "Delete it even though users hold it")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such role", body = super::error::ErrorBody),
        (status = 409, description = "Users hold it", body = super::error::ErrorBody)))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let query = web::Query::<DeleteQuery>::from_query(req.query_string())
        .map_err(|e| AdminError::Body(format!("the query takes only force=true|false: {e}")))?;
    let (name, force) = (name.into_inner(), query.force);
    let deleted = state
        .db
        .write(move |conn| roles::delete(conn, &name, force))
        .await
        .map_err(AdminError::about(Subject::Role))?;
    audit::role_deleted(&deleted.name, deleted.users_removed, by.actor());
    Ok(HttpResponse::NoContent().finish())
}
