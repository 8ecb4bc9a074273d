//! Client apps: registration, listing, secret rotation, removal.

use std::collections::HashMap;

use serde::Serialize;

use super::{parse_scopes, ManageError};
use crate::db::users::{self, User};
use crate::db::{self, clients, AnyConnection};
use crate::grant_type::GrantType;
use crate::keys::{SigningAlg, DEFAULT_ID_TOKEN_ALG};
use crate::names;
use crate::redirect_uri;
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
}

/// A client as shown to administrators (never the secret or its hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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

/// The one redirect URI rule (see [`redirect_uri`]), worded for the
/// CLI and the console alike.
fn check_redirect_uri(uri: &str) -> Result<(), ManageError> {
    redirect_uri::check(uri).map_err(|refused| ManageError::Invalid(refused.to_string()))
}

/// Longest client name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The name, trimmed: 1 to [`MAX_NAME_CHARS`] characters, spaces allowed
/// but no other whitespace and no invisible or direction-changing
/// character ([`names::refused_in_display`]): the consent page shows it to
/// users, and it must read as what it is.
fn check_client_name(name: &str) -> Result<&str, ManageError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ManageError::Invalid(format!(
            "client name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(names::refused_in_display) {
        return Err(ManageError::Invalid(format!(
            "client name '{}' must not contain control characters, line breaks, or invisible \
             or text-direction characters (such as zero-width spaces or U+202E)",
            names::escape(name)
        )));
    }
    Ok(name)
}

/// Most redirect URIs one client may have.
pub const MAX_REDIRECT_URIS: usize = 10;
/// Longest redirect URI, in bytes (what browsers and proxies reliably
/// carry in a URL).
pub const MAX_REDIRECT_URI_BYTES: usize = 2000;

/// Bounds what a client row may hold: every authorization request reads
/// and matches its URIs, and the console lets any user register clients.
fn check_redirect_uri_sizes(uris: &[String]) -> Result<(), ManageError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(ManageError::Invalid(format!(
            "a client may have at most {MAX_REDIRECT_URIS} redirect URIs ({} given)",
            uris.len()
        )));
    }
    if let Some(long) = uris.iter().find(|u| u.len() > MAX_REDIRECT_URI_BYTES) {
        let start: String = long.chars().take(40).collect();
        return Err(ManageError::Invalid(format!(
            "redirect URI '{}…' is longer than {MAX_REDIRECT_URI_BYTES} bytes",
            names::escape(&start)
        )));
    }
    Ok(())
}

/// The audiences a client may introspect: each one value without spaces
/// (they are stored space-separated), and only for a confidential client:
/// a public one cannot prove who is asking (RFC 7662 §4).
fn check_introspects(new: &NewClient) -> Result<Vec<String>, ManageError> {
    let mut audiences: Vec<String> = Vec::new();
    for aud in &new.introspects {
        let aud = aud.trim();
        if aud.is_empty() {
            return Err(ManageError::Invalid(
                "--introspects must not be empty".into(),
            ));
        }
        if aud.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ManageError::Invalid(format!(
                "--introspects '{}' must be one audience, without spaces (repeat the flag for more)",
                aud.escape_debug()
            )));
        }
        if !audiences.iter().any(|a| a == aud) {
            audiences.push(aud.to_string());
        }
    }
    if new.public && !audiences.is_empty() {
        return Err(ManageError::Invalid(
            "a public client cannot introspect other clients' tokens (drop --public or --introspects)"
                .into(),
        ));
    }
    Ok(audiences)
}

/// The logout URIs of a new client (docs/interface.md "Logout",
/// "Back-channel logout"): post-logout redirect URIs under the redirect
/// URI rule and its bounds, without repeats; a back-channel URI https or
/// loopback http ([`redirect_uri::check_backchannel`]). Returns the
/// former.
fn check_logout_uris(new: &NewClient) -> Result<Vec<String>, ManageError> {
    let mut uris: Vec<String> = Vec::new();
    for uri in &new.post_logout_redirect_uris {
        if !uris.contains(uri) {
            uris.push(uri.clone());
        }
    }
    check_redirect_uri_sizes(&uris)?;
    for uri in &uris {
        check_redirect_uri(uri)?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        if uri.len() > MAX_REDIRECT_URI_BYTES {
            return Err(ManageError::Invalid(format!(
                "--backchannel-logout-uri is longer than {MAX_REDIRECT_URI_BYTES} bytes"
            )));
        }
        redirect_uri::check_backchannel(uri)
            .map_err(|refused| ManageError::Invalid(refused.to_string()))?;
    }
    Ok(uris)
}

/// Validates and registers a client; returns it with its secret.
pub fn add(conn: &mut AnyConnection, new: &NewClient, now: i64) -> Result<Created, ManageError> {
    let name = check_client_name(&new.name)?;
    let mut grants: Vec<GrantType> = if new.grants.is_empty() {
        vec![GrantType::Password, GrantType::RefreshToken]
    } else {
        new.grants
            .iter()
            .map(|g| g.parse().map_err(ManageError::Invalid))
            .collect::<Result<_, _>>()?
    };
    grants.sort();
    grants.dedup();
    if new.public && grants.contains(&GrantType::ClientCredentials) {
        return Err(ManageError::Invalid(
            "a public client cannot use client_credentials (drop --public or the grant)".into(),
        ));
    }
    let scopes = parse_scopes(&new.scopes)?;
    check_redirect_uri_sizes(&new.redirect_uris)?;
    for uri in &new.redirect_uris {
        check_redirect_uri(uri)?;
    }
    if grants.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        return Err(ManageError::Invalid(
            "authorization_code needs at least one --redirect-uri".into(),
        ));
    }
    let audience = match new.audience.as_deref().map(str::trim) {
        Some("") => {
            return Err(ManageError::Invalid("--audience must not be empty".into()));
        }
        other => other.map(str::to_string),
    };
    let introspects = check_introspects(new)?;
    let mut uris = new.redirect_uris.clone();
    uris.dedup();
    let logout_uris = check_logout_uris(new)?;
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
        client_id: random_id(),
        secret_hash: secret.as_ref().map(Secret::hash),
        name: name.to_string(),
        grants: grants
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" "),
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
    clients::insert(conn, &row)?;
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
fn view(conn: &mut AnyConnection, c: &clients::Client) -> Result<ClientView, ManageError> {
    let owner = match &c.owner_id {
        Some(id) => users::by_id(conn, id)?,
        None => None,
    };
    Ok(ClientView::of(c, owner.as_ref()))
}

/// The client, checked against `owner` when given (a console user may only
/// touch their own clients).
fn require(
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
