//! `/admin/v1/users`: list, create, show, change, delete, through
//! `manage::users` and its neighbours, as `authd user …` does.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::admin;
use super::body;
use super::error::{AdminError, Subject};
use crate::audit;
use crate::manage::user_changes::{self, NewUser};
use crate::manage::user_update::{self, UserChange};
use crate::manage::users::{self, ProfileChange, UserView};
use crate::secret::Secret;
use crate::state::AppState;

/// A user to create (`authd user add`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Login name.
    username: String,
    /// Their password; without one, no password signs them in until one
    /// is set.
    #[serde(default)]
    password: Option<String>,
    /// Roles to grant.
    #[serde(default)]
    roles: Vec<String>,
    /// Their email address (unverified).
    #[serde(default)]
    email: Option<String>,
    /// Their full name.
    #[serde(default)]
    name: Option<String>,
}

/// What to change; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Their email address (a new one is unverified unless
    /// `email_verified` comes with it); an empty string clears it.
    #[serde(default)]
    email: Option<String>,
    /// Whether the email address is known to be theirs.
    #[serde(default)]
    email_verified: Option<bool>,
    /// Their full name; an empty string clears it.
    #[serde(default)]
    name: Option<String>,
    /// Disabled: no sign-in, refresh tokens revoked, sessions ended.
    #[serde(default)]
    disabled: Option<bool>,
    /// The roles they hold from now on (replacing the old ones).
    #[serde(default)]
    roles: Option<Vec<String>>,
}

/// Every user.
#[utoipa::path(get, path = "/admin/v1/users", operation_id = "list_users", tag = "users",
    responses((status = 200, description = "Every user", body = Vec<UserView>)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    super::read(&req, &state, Subject::Collection, users::list).await
}

/// Creates a user.
#[utoipa::path(post, path = "/admin/v1/users", operation_id = "create_user", tag = "users", request_body = NewUserBody,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 409, description = "The username is taken", body = super::error::ErrorBody)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let asked: NewUserBody = body::json(&bytes)?;
    let new = NewUser {
        username: asked.username,
        password: asked.password.map(Secret::new),
        roles: asked.roles,
        email: asked.email,
        name: asked.name,
    };
    let user = user_changes::create(&state.db, state.logins.passwords(), &state.clock, new)
        .await
        .map_err(AdminError::about(Subject::Collection))?;
    audit::user_added(&user.id, &user.username, &user.roles, by.actor());
    Ok(HttpResponse::Created().json(user))
}

/// One user.
#[utoipa::path(get, path = "/admin/v1/users/{username}", operation_id = "get_user", tag = "users",
    params(("username" = String, Path, description = "Login name")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user", body = super::error::ErrorBody)))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let name = username.into_inner();
    super::read(&req, &state, Subject::User, move |conn| {
        users::get(conn, &name)
    })
    .await
}

/// Changes a user's profile, disabled state or roles, all or nothing.
#[utoipa::path(patch, path = "/admin/v1/users/{username}", operation_id = "update_user", tag = "users", request_body = UserPatch,
    params(("username" = String, Path, description = "Login name")),
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 404, description = "No such user", body = super::error::ErrorBody)))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    username: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let asked: UserPatch = body::json(&bytes)?;
    let change = UserChange {
        profile: ProfileChange {
            email: asked.email,
            email_verified: asked.email_verified,
            name: asked.name,
        },
        disabled: asked.disabled,
        roles: asked.roles,
    };
    let (name, now) = (username.into_inner(), state.clock.now());
    let done = state
        .db
        .write(move |conn| user_update::update(conn, &name, &change, now))
        .await
        .map_err(AdminError::about(Subject::User))?;
    let user = &done.user;
    if done.profile_set {
        audit::user_profile_set(&user.id, &user.username, by.actor());
    }
    if let Some(disabled) = done.disabled {
        audit::user_disabled(&user.id, &user.username, disabled, by.actor());
        // A disable ended sessions: their apps are told now.
        state.backchannel.wake();
    }
    for (roles, granted) in [(&done.granted, true), (&done.revoked, false)] {
        for role in roles {
            audit::user_role_changed(&user.id, &user.username, role, granted, by.actor());
        }
    }
    Ok(HttpResponse::Ok().json(&done.user))
}

/// Deletes a user: their tokens stop working at once and their sessions
/// end (apps told by back-channel logout), as `authd user delete` does.
#[utoipa::path(delete, path = "/admin/v1/users/{username}", operation_id = "delete_user", tag = "users",
    params(("username" = String, Path, description = "Login name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user", body = super::error::ErrorBody)))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &state).await?;
    let (name, now) = (username.into_inner(), state.clock.now());
    let deleted = state
        .db
        .write(move |conn| users::delete(conn, &name, now))
        .await
        .map_err(AdminError::about(Subject::User))?;
    audit::user_deleted(&deleted.id, &deleted.username, by.actor());
    state.backchannel.wake();
    Ok(HttpResponse::NoContent().finish())
}
