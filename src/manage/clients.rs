//! Client apps: registration, listing, secret rotation, removal.

use serde::Serialize;

use super::{parse_scopes, ManageError};
use crate::db::{self, clients, AnyConnection};
use crate::grant_type::GrantType;
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
    /// Whether it is public.
    pub public: bool,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

impl From<&clients::Client> for ClientView {
    fn from(c: &clients::Client) -> ClientView {
        ClientView {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            grants: c.grant_list(),
            scopes: c.scope_list(),
            redirect_uris: c.redirect_uri_list(),
            audience: c.audience.clone(),
            introspects: c.introspect_list(),
            public: c.is_public(),
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

/// Validates and registers a client; returns it with its secret.
pub fn add(conn: &mut AnyConnection, new: &NewClient, now: i64) -> Result<Created, ManageError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ManageError::Invalid(
            "client name must be 1 to 100 characters".into(),
        ));
    }
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
    };
    clients::insert(conn, &row)?;
    Ok(Created {
        client: ClientView::from(&row),
        secret,
    })
}

/// Every client (or only those of `owner`).
pub fn list(conn: &mut AnyConnection, owner: Option<&str>) -> Result<Vec<ClientView>, ManageError> {
    Ok(clients::list(conn, owner)?
        .iter()
        .map(ClientView::from)
        .collect())
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
    require(conn, client_id, owner).map(|c| ClientView::from(&c))
}

/// Issues a new secret; the old one stops working at once.
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
        Ok(secret)
    })
}

/// Removes a client; its refresh tokens and codes stop working.
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
