//! `authd export`: the roles, administrators' clients and users as they
//! are, in the format `apply` reads, such that applying it changes
//! nothing. Never a secret: a confidential client names the environment
//! variable its secret would come from ([`super::secrets::env_name`]).

use super::clients::is_admins;
use super::file::{ClientEntry, ConfigFile, RoleEntry, UserEntry};
use super::secrets::env_name;
use crate::db::{self, AnyConnection};
use crate::manage::{roles, users, ManageError};

/// The current state as a configuration file.
pub fn export(conn: &mut AnyConnection) -> Result<ConfigFile, ManageError> {
    let roles = roles::list(conn)?
        .into_iter()
        .map(|r| RoleEntry {
            name: r.name,
            scopes: r.scopes,
            require_mfa: r.require_mfa.then_some(true),
        })
        .collect();
    let clients = db::clients::list(conn, None)?
        .into_iter()
        .filter(is_admins)
        .map(|c| ClientEntry {
            secret_env: (!c.is_public()).then(|| env_name(&c.client_id)),
            grants: c.grant_list(),
            scopes: c.scope_list(),
            redirect_uris: c.redirect_uri_list(),
            public: c.is_public(),
            client_id: c.client_id,
            name: c.name,
            audience: c.audience,
            ..ClientEntry::default()
        })
        .collect();
    let users = users::list(conn)?
        .into_iter()
        .map(|u| UserEntry {
            username: u.username,
            roles: u.roles,
            email: u.email,
            email_verified: u.email_verified.then_some(true),
            name: u.name,
            ..UserEntry::default()
        })
        .collect();
    Ok(ConfigFile {
        roles,
        clients,
        users,
    })
}
