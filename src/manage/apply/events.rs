//! The audit events of a run, kept until it commits and then written as
//! the CLI's own commands write them ([`crate::audit`]).

use crate::audit::{self, Actor};

/// One audit line to write.
#[derive(Debug, Clone)]
pub(super) enum Event {
    RoleAdded(String, Vec<String>),
    RoleScopesSet(String, Vec<String>),
    RoleRequireMfa(String, bool),
    RoleDeleted(String, i64),
    ClientAdded(String, String, bool),
    ClientUpdated(String, Vec<&'static str>),
    ClientSecretSet(String),
    ClientRemoved(String),
    /// id, username, roles
    UserAdded(String, String, Vec<String>),
    UserProfileSet(String, String),
    /// id, username, role, granted
    UserRoleChanged(String, String, String, bool),
    UserDeleted(String, String),
}

impl Event {
    pub(super) fn emit(&self, actor: Actor<'_>) {
        match self {
            Event::RoleAdded(name, scopes) => audit::role_added(name, scopes, actor),
            Event::RoleScopesSet(name, scopes) => audit::role_scopes_set(name, scopes, actor),
            Event::RoleRequireMfa(name, required) => {
                audit::role_require_mfa(name, *required, actor)
            }
            Event::RoleDeleted(name, users) => audit::role_deleted(name, *users, actor),
            Event::ClientAdded(id, name, public) => audit::client_added(id, name, *public, actor),
            Event::ClientUpdated(id, fields) => audit::client_updated(id, fields, actor),
            Event::ClientSecretSet(id) => audit::client_secret_rotated(id, actor),
            Event::ClientRemoved(id) => audit::client_removed(id, actor),
            Event::UserAdded(id, username, roles) => audit::user_added(id, username, roles, actor),
            Event::UserProfileSet(id, username) => audit::user_profile_set(id, username, actor),
            Event::UserRoleChanged(id, username, role, granted) => {
                audit::user_role_changed(id, username, role, *granted, actor)
            }
            Event::UserDeleted(id, username) => audit::user_deleted(id, username, actor),
        }
    }
}
