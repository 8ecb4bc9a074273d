//! `[[role]]`: created or changed through [`crate::manage::roles`].

use std::collections::{BTreeMap, HashSet};

use super::events::Event;
use super::file::RoleEntry;
use super::{entry, Action, ApplyError, Kind, Run};
use crate::db::AnyConnection;
use crate::manage::roles::{self, RoleChange, RoleView};
use crate::manage::{parse_scopes, ManageError};
use crate::names::escape;

/// Creates the roles that do not exist and changes those that differ.
pub(super) fn upsert(
    conn: &mut AnyConnection,
    wanted: &[RoleEntry],
    run: &mut Run,
) -> Result<(), ApplyError> {
    let current: BTreeMap<String, RoleView> = roles::list(conn)?
        .into_iter()
        .map(|r| (r.name.clone(), r))
        .collect();
    for r in wanted {
        let context = || entry(Kind::Role, &r.name);
        let Some(old) = current.get(&r.name) else {
            let require_mfa = r.require_mfa.unwrap_or(false);
            let made = roles::add_with_policy(conn, &r.name, &r.scopes, require_mfa, run.now)
                .map_err(context())?;
            run.event(Event::RoleAdded(made.name.clone(), made.scopes.clone()));
            if require_mfa {
                run.event(Event::RoleRequireMfa(made.name, true));
            }
            run.change(Action::Create, Kind::Role, &r.name, Vec::new());
            continue;
        };
        let scopes: Vec<String> = parse_scopes(&r.scopes)
            .map_err(context())?
            .into_iter()
            .collect();
        let change = RoleChange {
            scopes: (scopes != old.scopes).then(|| r.scopes.clone()),
            require_mfa: r.require_mfa.filter(|&m| m != old.require_mfa),
        };
        let mut fields = Vec::new();
        if change.scopes.is_none() && change.require_mfa.is_none() {
            continue;
        }
        let now = roles::set(conn, &r.name, &change).map_err(context())?;
        if change.scopes.is_some() {
            fields.push("scopes");
            run.event(Event::RoleScopesSet(now.name.clone(), now.scopes.clone()));
        }
        if let Some(required) = change.require_mfa {
            fields.push("require_mfa");
            run.event(Event::RoleRequireMfa(now.name.clone(), required));
        }
        run.change(Action::Update, Kind::Role, &r.name, fields);
    }
    Ok(())
}

/// Deletes the roles the file does not name. One still held (by a user
/// the file does not name, or one whose roles in the file keep it) is
/// refused rather than taken from them: pruning removes what the file
/// left out, never what it keeps.
pub(super) fn prune(
    conn: &mut AnyConnection,
    wanted: &[RoleEntry],
    run: &mut Run,
) -> Result<(), ApplyError> {
    let named: HashSet<&str> = wanted.iter().map(|r| r.name.as_str()).collect();
    for old in roles::list(conn)? {
        if named.contains(old.name.as_str()) {
            continue;
        }
        let deleted = roles::delete(conn, &old.name, false).map_err(|e| match e {
            ManageError::RoleInUse(name, holders) => {
                ApplyError::Manage(ManageError::Invalid(format!(
                    "--prune would delete role '{}', which the file does not name, but {holders} \
                     user(s) hold it: take it out of their roles (in the file, or with 'authd \
                     user revoke-role'), or name the role in the file",
                    escape(&name)
                )))
            }
            e => entry(Kind::Role, &old.name)(e),
        })?;
        run.event(Event::RoleDeleted(deleted.name, deleted.users_removed));
        run.change(Action::Delete, Kind::Role, &old.name, Vec::new());
    }
    Ok(())
}
