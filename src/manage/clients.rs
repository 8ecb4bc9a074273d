//! Client apps: registration, listing, secret rotation, removal.

use std::collections::HashMap;

use serde::Serialize;

use super::client_rules as rules;
use super::{parse_scopes, ManageError};
use crate::db::users::{self, User};
use crate::db::{self, clients, AnyConnection};
use crate::grant_type::GrantType;
use crate::keys::{SigningAlg, DEFAULT_ID_TOKEN_ALG};
use crate::scope;
use crate::secret::{random_id, Secret};

/// What a new client asks for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Display name.
    pub name: String,
    /// Grant names; empty means `password refresh_token`.
    pub grants: Vec<String>,
    /// Scope lists (space-separated, may repeat).
    pub scopes: Vec<String>,
    /// Whether the client is public (no secret).
    pub public: bool,
    /// Redirect URIs (for authorization_code).
    pub redirect_uris: Vec<String>,
    /// `aud` of its tokens; `None` means the issuer.
    pub audience: Option<String>,
    /// Audiences whose access tokens it may introspect besides its own
    /// (a resource server's); confidential clients only.
    pub introspects: Vec<String>,
    /// The user creating it (console), if any.
    pub owner_id: Option<String>,
    /// The JWS algorithm of its ID tokens; `None` is RS256.
    pub id_token_alg: Option<SigningAlg>,
    /// Never asks for consent (`--first-party`).
    pub first_party: bool,
    /// Where RP-initiated logout may send the browser back to
    /// (`--post-logout-redirect-uri`; the redirect URI rule applies).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where it hears of the end of a session it signed in through
    /// (`--backchannel-logout-uri`; https, or loopback http).
    pub backchannel_logout_uri: Option<String>,
    /// The id an administrator chose (`--client-id`); `None`: a random one.
    pub client_id: Option<String>,
}

/// A client as shown to administrators (never the secret or its hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ClientView {
    /// Public identifier.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Allowed grants.
    pub grants: Vec<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// `aud` of its tokens, when not the issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Audiences whose access tokens it may introspect besides its own.
    pub introspects: Vec<String>,
    /// The JWS algorithm of its ID tokens.
    pub id_token_alg: String,
    /// Whether it never shows the consent page (`--first-party`).
    pub first_party: bool,
    /// Where RP-initiated logout may send the browser back to.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where it hears of the end of a session it signed in through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether it is public.
    pub public: bool,
    /// The username of the user who registered it (the console); `None`
    /// for an administrator's client, or once the owner is deleted.
    pub owner: Option<String>,
    /// A user's client whose owner was deleted, disabled or given a new
    /// password since it was last re-keyed: it gets no tokens, and its
    /// tokens are inactive, until it is re-keyed ([`rotate_secret`],
    /// [`resume`]).
    pub suspended: bool,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

impl ClientView {
    /// The view of `c`, whose owner (if it has one) is `owner` as stored.
    fn of(c: &clients::Client, owner: Option<&User>) -> ClientView {
        let suspended = c.owner_generation.is_some_and(|generation| {
            !owner.is_some_and(|u| !u.disabled && u.credential_generation == generation)
        });
        ClientView {
            owner: owner.map(|u| u.username.clone()),
            suspended,
            ..ClientView::from(c)
        }
    }
}

impl From<&clients::Client> for ClientView {
    fn from(c: &clients::Client) -> ClientView {
        ClientView {
            owner: None,
            suspended: false,
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            grants: c.grant_list(),
            scopes: c.scope_list(),
            redirect_uris: c.redirect_uri_list(),
            audience: c.audience.clone(),
            introspects: c.introspect_list(),
            id_token_alg: c
                .id_token_alg
                .clone()
                .unwrap_or_else(|| DEFAULT_ID_TOKEN_ALG.as_str().to_string()),
            public: c.is_public(),
            first_party: c.first_party,
            post_logout_redirect_uris: c.post_logout_redirect_uri_list(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            created_at: c.created_at,
        }
    }
}

/// A newly created client with its secret, shown once.
#[derive(Debug)]
pub struct Created {
    /// The stored client.
    pub client: ClientView,
    /// The secret; `None` for a public client.
    pub secret: Option<Secret>,
}

pub use super::client_rules::{
    MAX_CLIENT_ID_CHARS, MAX_NAME_CHARS, MAX_REDIRECT_URIS, MAX_REDIRECT_URI_BYTES,
};

/// Grant names as stored: space-separated.
pub(super) fn join_grants(grants: &[GrantType]) -> String {
    let names: Vec<&str> = grants.iter().map(|g| g.as_str()).collect();
    names.join(" ")
}

/// Refuses a chosen id that a client holds, or that is a user's id: a
/// client's own tokens carry its id as `sub`, and a resource server must
/// not take them for that user's.
fn require_free(conn: &mut AnyConnection, client_id: &str) -> Result<(), ManageError> {
    if clients::find(conn, client_id)?.is_some() || users::by_id(conn, client_id)?.is_some() {
        return Err(ManageError::ClientExists(client_id.to_string()));
    }
    Ok(())
}

/// Validates and registers a client; returns it with its secret.
pub fn add(conn: &mut AnyConnection, new: &NewClient, now: i64) -> Result<Created, ManageError> {
    let name = rules::check_name(&new.name)?;
    let grants = rules::parse_grants(&new.grants)?;
    let scopes = parse_scopes(&new.scopes)?;
    let uris = rules::check_redirect_uris(&new.redirect_uris)?;
    rules::check_fits(new.public, &grants, &uris)?;
    let audience = rules::check_audience(new.audience.as_deref())?;
    let introspects = rules::check_introspects(new.public, &new.introspects)?;
    let client_id = match &new.client_id {
        Some(id) => {
            rules::check_client_id(id)?;
            require_free(conn, id)?;
            id.clone()
        }
        None => random_id(),
    };
    let logout_uris = rules::check_logout_uris(
        &new.post_logout_redirect_uris,
        new.backchannel_logout_uri.as_deref(),
    )?;
    // A user's client is bound to the credentials its owner has now.
    let owner = match &new.owner_id {
        Some(id) => Some(
            users::by_id(conn, id)?
                .ok_or_else(|| ManageError::Invalid("the client's owner does not exist".into()))?,
        ),
        None => None,
    };
    let secret = (!new.public).then(Secret::generate);
    let row = clients::Client {
        client_id,
        secret_hash: secret.as_ref().map(Secret::hash),
        name: name.to_string(),
        grants: join_grants(&grants),
        scopes: scope::join(&scopes),
        redirect_uris: uris.join(" "),
        audience,
        owner_id: new.owner_id.clone(),
        created_at: now,
        updated_at: now,
        introspects: introspects.join(" "),
        owner_generation: owner.as_ref().map(|u| u.credential_generation),
        id_token_alg: new.id_token_alg.map(|a| a.as_str().to_string()),
        first_party: new.first_party,
        post_logout_redirect_uris: logout_uris.join(" "),
        backchannel_logout_uri: new.backchannel_logout_uri.clone(),
    };
    clients::insert(conn, &row).map_err(|e| match db::is_unique_violation(&e) {
        true => ManageError::ClientExists(row.client_id.clone()),
        false => e.into(),
    })?;
    Ok(Created {
        client: ClientView::of(&row, owner.as_ref()),
        secret,
    })
}

/// Registers a client for the user `owner` (the console): as [`add`],
/// if its scopes are within what the user's own roles grant and the user
/// has fewer than `max_clients` already.
pub fn add_owned(
    conn: &mut AnyConnection,
    new: &NewClient,
    owner: &str,
    max_clients: u32,
    now: i64,
) -> Result<Created, ManageError> {
    let held = clients::count_owned(conn, owner)?;
    if held >= i64::from(max_clients) {
        return Err(ManageError::Invalid(format!(
            "you have {held} client apps, the most one user may have: delete one you no \
             longer use first"
        )));
    }
    let wanted = parse_scopes(&new.scopes)?;
    let allowed = users::scopes_of(conn, owner)?;
    let outside: Vec<String> = wanted.difference(&allowed).cloned().collect();
    if !outside.is_empty() {
        let may = if allowed.is_empty() {
            "your roles grant no scopes, so a client of yours can have none".to_string()
        } else {
            format!("a client of yours may have only {}", scope::join(&allowed))
        };
        return Err(ManageError::Invalid(format!(
            "your roles do not grant {}; {may}",
            outside.join(" ")
        )));
    }
    let new = NewClient {
        owner_id: Some(owner.to_string()),
        // A user's client asks every other user for consent, whatever
        // the form sent.
        first_party: false,
        ..new.clone()
    };
    add(conn, &new, now)
}

/// Every client (or only those of `owner`), each with its owner's name.
pub fn list(conn: &mut AnyConnection, owner: Option<&str>) -> Result<Vec<ClientView>, ManageError> {
    let all = clients::list(conn, owner)?;
    // The owners in one query, not one per client, and only them.
    let mut ids: Vec<&str> = all.iter().filter_map(|c| c.owner_id.as_deref()).collect();
    ids.sort_unstable();
    ids.dedup();
    let owners: HashMap<String, User> = users::by_ids(conn, &ids)?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(all
        .iter()
        .map(|c| ClientView::of(c, c.owner_id.as_ref().and_then(|id| owners.get(id))))
        .collect())
}

/// The view of one stored client, with its owner as stored now.
pub(super) fn view(
    conn: &mut AnyConnection,
    c: &clients::Client,
) -> Result<ClientView, ManageError> {
    let owner = match &c.owner_id {
        Some(id) => users::by_id(conn, id)?,
        None => None,
    };
    Ok(ClientView::of(c, owner.as_ref()))
}

/// The client, checked against `owner` when given (a console user may only
/// touch their own clients).
pub(super) fn require(
    conn: &mut AnyConnection,
    client_id: &str,
    owner: Option<&str>,
) -> Result<clients::Client, ManageError> {
    let found = match owner {
        Some(owner) => clients::find_owned(conn, client_id, owner)?,
        None => clients::find(conn, client_id)?,
    };
    found.ok_or_else(|| ManageError::UnknownClient(client_id.to_string()))
}

/// The client, checked against `owner` when given.
pub fn get(
    conn: &mut AnyConnection,
    client_id: &str,
    owner: Option<&str>,
) -> Result<ClientView, ManageError> {
    let client = require(conn, client_id, owner)?;
    view(conn, &client)
}

/// Binds a user's client to its owner's current credentials again (a
/// suspended one resumes); nothing for an administrator's client.
fn rebind(conn: &mut AnyConnection, client: &clients::Client, now: i64) -> Result<(), ManageError> {
    if !client.is_owned() {
        return Ok(());
    }
    let owner = match &client.owner_id {
        Some(id) => users::by_id(conn, id)?,
        None => None,
    };
    let Some(owner) = owner else {
        return Err(ManageError::Invalid(format!(
            "client '{}' belonged to a deleted user: remove it",
            client.client_id
        )));
    };
    clients::set_owner_generation(conn, &client.client_id, owner.credential_generation, now)?;
    Ok(())
}

/// Resumes a suspended public client of a user (one with a secret resumes
/// by [`rotate_secret`]: its old secret may be known to whoever made the
/// owner change their password).
pub fn resume(
    conn: &mut AnyConnection,
    client_id: &str,
    owner: Option<&str>,
    now: i64,
) -> Result<ClientView, ManageError> {
    db::write_tx(conn, |conn| {
        let client = require(conn, client_id, owner)?;
        if !client.is_public() {
            return Err(ManageError::Invalid(format!(
                "client '{client_id}' has a secret: rotate it to resume the client"
            )));
        }
        rebind(conn, &client, now)?;
        let client = require(conn, client_id, owner)?;
        view(conn, &client)
    })
}

/// Issues a new secret; the old one stops working at once. A user's
/// suspended client resumes with it.
pub fn rotate_secret(
    conn: &mut AnyConnection,
    client_id: &str,
    owner: Option<&str>,
    now: i64,
) -> Result<Secret, ManageError> {
    db::write_tx(conn, |conn| {
        let client = require(conn, client_id, owner)?;
        if client.is_public() {
            return Err(ManageError::Invalid(format!(
                "client '{client_id}' is public and has no secret"
            )));
        }
        let secret = Secret::generate();
        clients::set_secret_hash(conn, client_id, &secret.hash(), now)?;
        rebind(conn, &client, now)?;
        Ok(secret)
    })
}

/// Refresh tokens deleted per transaction when a client is removed: a
/// few tens of milliseconds of SQLite's only writer, after which other
/// writes get their turn.
pub const TOKEN_CHUNK: i64 = 10_000;

/// One step of removing a client: deletes up to [`TOKEN_CHUNK`] of its
/// refresh tokens in one transaction, after checking `owner` as
/// [`remove`] does; returns how many. Repeat while it returns
/// [`TOKEN_CHUNK`], then call [`remove`].
pub fn remove_token_chunk(
    conn: &mut AnyConnection,
    client_id: &str,
    owner: Option<&str>,
) -> Result<usize, ManageError> {
    db::write_tx(conn, |conn| {
        require(conn, client_id, owner)?;
        Ok(clients::delete_token_chunk(conn, client_id, TOKEN_CHUNK)?)
    })
}

/// Whether a chunk that deleted `deleted` tokens may have left more.
pub fn more_tokens_left(deleted: usize) -> bool {
    deleted as i64 >= TOKEN_CHUNK
}

/// Removes a client; its refresh tokens and codes stop working. In one
/// transaction: call it after [`remove_token_chunk`] has cleared most of
/// the tokens (see [`remove_in_chunks`]), or for a client with few.
pub fn remove(
    conn: &mut AnyConnection,
    client_id: &str,
    owner: Option<&str>,
) -> Result<(), ManageError> {
    db::write_tx(conn, |conn| {
        require(conn, client_id, owner)?;
        clients::delete(conn, client_id)?;
        Ok(())
    })
}

/// Removes a client on a connection of its own (the command line): its
/// tokens in chunks, each committed, then the client.
pub fn remove_in_chunks(
    conn: &mut AnyConnection,
    client_id: &str,
    owner: Option<&str>,
) -> Result<(), ManageError> {
    while more_tokens_left(remove_token_chunk(conn, client_id, owner)?) {}
    remove(conn, client_id, owner)
}
