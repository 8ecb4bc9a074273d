//! `[[user]]`: created through [`crate::manage::users::add`] without a
//! password ([`crate::password::NO_PASSWORD`]: nobody can sign in as them
//! until `authd user set-password` gives one), their roles and profile
//! changed through the CLI's own functions.

use std::collections::{BTreeSet, HashSet};

use super::events::Event;
use super::file::UserEntry;
use super::{entry, Action, ApplyError, Kind, Run};
use crate::db::AnyConnection;
use crate::manage::users::{self, ProfileChange, UserView};
use crate::manage::ManageError;
use crate::password::NO_PASSWORD;

/// Creates the users that do not exist and changes those that differ;
/// returns the ids of the users the file names.
pub(super) fn upsert(
    conn: &mut AnyConnection,
    wanted: &[UserEntry],
    run: &mut Run,
) -> Result<Vec<String>, ApplyError> {
    let mut kept = Vec::with_capacity(wanted.len());
    for u in wanted {
        let id = match users::get(conn, &u.username) {
            Ok(old) => update(conn, u, old, run),
            Err(ManageError::UnknownUser(_)) => create(conn, u, run),
            Err(e) => Err(e),
        }
        .map_err(entry(Kind::User, &u.username))?;
        kept.push(id);
    }
    Ok(kept)
}

/// The profile the file gives, as a change that replaces every field.
fn profile(u: &UserEntry) -> ProfileChange {
    ProfileChange {
        email: Some(u.email.clone().unwrap_or_default()),
        email_verified: u.email_verified,
        name: Some(u.name.clone().unwrap_or_default()),
    }
}

fn create(conn: &mut AnyConnection, u: &UserEntry, run: &mut Run) -> Result<String, ManageError> {
    // The profile is checked before the user is made, as `user add` does.
    let change = profile(u);
    change.check()?;
    let made = users::add(conn, &u.username, NO_PASSWORD, &u.roles, run.now)?;
    if u.email.is_some() || u.name.is_some() || u.email_verified.is_some() {
        users::set_profile(conn, &made.username, &change, run.now)?;
    }
    run.event(Event::UserAdded(
        made.id.clone(),
        made.username.clone(),
        made.roles,
    ));
    run.change(Action::Create, Kind::User, &u.username, Vec::new());
    Ok(made.id)
}

fn update(
    conn: &mut AnyConnection,
    u: &UserEntry,
    old: UserView,
    run: &mut Run,
) -> Result<String, ManageError> {
    let mut fields = Vec::new();
    let wanted: BTreeSet<&str> = u.roles.iter().map(String::as_str).collect();
    let held: BTreeSet<&str> = old.roles.iter().map(String::as_str).collect();
    for (role, grant) in wanted
        .difference(&held)
        .map(|r| (r, true))
        .chain(held.difference(&wanted).map(|r| (r, false)))
    {
        users::change_role(conn, &old.username, role, grant)?;
        run.event(Event::UserRoleChanged(
            old.id.clone(),
            old.username.clone(),
            role.to_string(),
            grant,
        ));
        if fields.is_empty() {
            fields.push("roles");
        }
    }
    let email = u.email.clone().filter(|e| !e.is_empty());
    let name = u.name.clone().filter(|n| !n.is_empty());
    // What the stored flag would become: never verified without an address.
    let verified = u.email_verified.map(|v| v && email.is_some());
    let differs =
        old.email != email || old.name != name || verified.is_some_and(|v| v != old.email_verified);
    if differs {
        users::set_profile(conn, &old.username, &profile(u), run.now)?;
        run.event(Event::UserProfileSet(old.id.clone(), old.username.clone()));
        fields.push("profile");
    }
    if !fields.is_empty() {
        run.change(Action::Update, Kind::User, &old.username, fields);
    }
    Ok(old.id)
}

/// Deletes the users the file does not name, as `authd user delete` does:
/// their sessions end (their apps told by back-channel logout), their
/// tokens stop working.
pub(super) fn prune(
    conn: &mut AnyConnection,
    kept: &[String],
    run: &mut Run,
) -> Result<(), ApplyError> {
    let kept: HashSet<&str> = kept.iter().map(String::as_str).collect();
    for old in users::list(conn)? {
        if kept.contains(old.id.as_str()) {
            continue;
        }
        let deleted = users::delete(conn, &old.username, run.now)
            .map_err(entry(Kind::User, &old.username))?;
        run.event(Event::UserDeleted(deleted.id, deleted.username));
        run.change(Action::Delete, Kind::User, &old.username, Vec::new());
    }
    Ok(())
}
