//! `[[client]]`: administrators' clients, created through
//! [`crate::manage::clients::add`] and changed through
//! [`crate::manage::client_update::update`]. Clients users registered in
//! the console are theirs: `apply` neither changes, prunes nor exports
//! them.

use std::collections::HashSet;

use super::events::Event;
use super::file::ClientEntry;
use super::secrets::SecretSource;
use super::{entry, Action, ApplyError, Kind, Run};
use crate::db::{self, AnyConnection};
use crate::grant_type::GrantType;
use crate::manage::client_rules::parse_grants;
use crate::manage::client_update::{self, ClientUpdate};
use crate::manage::clients::{self as manage_clients, NewClient};
use crate::manage::ManageError;
use crate::names::escape;
use crate::secret::Secret;

/// Whether `client` is an administrator's (not registered by a user).
pub(super) fn is_admins(client: &db::clients::Client) -> bool {
    client.owner_id.is_none() && !client.is_owned()
}

/// Creates the clients that do not exist and changes those that differ;
/// `secrets[i]` is where `wanted[i]`'s secret comes from.
pub(super) fn upsert(
    conn: &mut AnyConnection,
    wanted: &[ClientEntry],
    secrets: &[SecretSource],
    run: &mut Run,
) -> Result<(), ApplyError> {
    for (c, secret) in wanted.iter().zip(secrets) {
        let context = || entry(Kind::Client, &c.client_id);
        match db::clients::find(conn, &c.client_id)? {
            None => create(conn, c, secret, run).map_err(context())?,
            Some(old) => update(conn, c, &old, secret, run).map_err(context())?,
        }
    }
    Ok(())
}

fn create(
    conn: &mut AnyConnection,
    c: &ClientEntry,
    secret: &SecretSource,
    run: &mut Run,
) -> Result<(), ManageError> {
    let secret = match (c.public, secret) {
        (true, _) => None,
        (false, SecretSource::Given(secret)) => Some(secret),
        (false, SecretSource::Unset(var)) => {
            return Err(ManageError::Invalid(format!(
                "its secret_env {} is not set: set it to the client's secret",
                escape(var)
            )))
        }
        (false, SecretSource::None) => {
            return Err(ManageError::Invalid(
                "a confidential client needs its secret: name where it is with secret_env or \
                 secret_file (or make it public = true)"
                    .into(),
            ))
        }
    };
    let new = NewClient {
        client_id: Some(c.client_id.clone()),
        name: c.name.clone(),
        grants: c.grants.clone(),
        scopes: c.scopes.clone(),
        public: c.public,
        redirect_uris: c.redirect_uris.clone(),
        audience: c.audience.clone(),
        ..NewClient::default()
    };
    let made = manage_clients::add(conn, &new, run.now)?;
    // The generated secret never leaves: the file's replaces it at once.
    if let Some(secret) = secret {
        db::clients::set_secret_hash(conn, &c.client_id, &secret.hash(), run.now)?;
    }
    let v = made.client;
    run.event(Event::ClientAdded(v.client_id, v.name, v.public));
    run.change(Action::Create, Kind::Client, &c.client_id, Vec::new());
    Ok(())
}

fn update(
    conn: &mut AnyConnection,
    c: &ClientEntry,
    old: &db::clients::Client,
    secret: &SecretSource,
    run: &mut Run,
) -> Result<(), ManageError> {
    if !is_admins(old) {
        return Err(ManageError::Invalid(
            "a user registered it in the console: apply manages administrators' clients only \
             (choose another client_id)"
                .into(),
        ));
    }
    if old.is_public() != c.public {
        let (was, is) = match old.is_public() {
            true => ("public", "confidential"),
            false => ("confidential", "public"),
        };
        return Err(ManageError::Invalid(format!(
            "it is {was}, and the file makes it {is}: a client cannot change kind; remove it \
             ('authd client remove') or give the new one another client_id"
        )));
    }
    // `client add`'s default grants when the file names none.
    let grants: Vec<String> = parse_grants(&c.grants)?
        .into_iter()
        .map(|g: GrantType| g.as_str().to_string())
        .collect();
    let change = ClientUpdate {
        name: Some(c.name.clone()),
        scopes: Some(c.scopes.clone()),
        grants: Some(grants),
        redirect_uris: Some(c.redirect_uris.clone()),
        audience: c.audience.clone(),
        // Not in the file's format yet: left as they are.
        post_logout_redirect_uris: None,
        backchannel_logout_uri: None,
    };
    let mut fields = client_update::update(conn, &c.client_id, &change, run.now)?.changed;
    // No audience in the file: the issuer's, as for a new client.
    if c.audience.is_none() && old.audience.is_some() {
        if let Some(mut row) = db::clients::find(conn, &c.client_id)? {
            row.audience = None;
            db::clients::update(conn, &row, run.now)?;
            fields.push("audience");
        }
    }
    if !fields.is_empty() {
        run.event(Event::ClientUpdated(c.client_id.clone(), fields.clone()));
    }
    match secret {
        SecretSource::Given(secret) if !stored_matches(old, secret) => {
            db::clients::set_secret_hash(conn, &c.client_id, &secret.hash(), run.now)?;
            run.event(Event::ClientSecretSet(c.client_id.clone()));
            fields.push("secret");
        }
        SecretSource::Unset(var) => run.outcome.warnings.push(format!(
            "client '{}': {} is not set; its secret stays as it is",
            escape(&c.client_id),
            escape(var)
        )),
        _ => {}
    }
    if !fields.is_empty() {
        run.change(Action::Update, Kind::Client, &c.client_id, fields);
    }
    Ok(())
}

/// Whether the stored hash is that of `secret` (compared in constant
/// time): the same secret given again changes nothing.
fn stored_matches(old: &db::clients::Client, secret: &Secret) -> bool {
    old.secret_hash
        .as_deref()
        .is_some_and(|hash| secret.matches_hash(hash))
}

/// Removes the administrators' clients the file does not name, each with
/// its refresh tokens and codes, as `authd client remove` does.
pub(super) fn prune(
    conn: &mut AnyConnection,
    wanted: &[ClientEntry],
    run: &mut Run,
) -> Result<(), ApplyError> {
    let named: HashSet<&str> = wanted.iter().map(|c| c.client_id.as_str()).collect();
    for old in db::clients::list(conn, None)? {
        if !is_admins(&old) || named.contains(old.client_id.as_str()) {
            continue;
        }
        manage_clients::remove(conn, &old.client_id, None)
            .map_err(entry(Kind::Client, &old.client_id))?;
        run.event(Event::ClientRemoved(old.client_id.clone()));
        run.change(Action::Delete, Kind::Client, &old.client_id, Vec::new());
    }
    Ok(())
}
