//! Changing a registered client (`authd client update`): only what is
//! given changes, and the client that results must pass every check a new
//! one does ([`super::client_rules`]).

use serde::Serialize;

use super::client_rules as rules;
use super::clients::{join_grants, require, view, ClientView};
use super::{parse_scopes, ManageError};
use crate::db::{self, clients, AnyConnection};
use crate::scope;

/// What to change; `None` leaves a field as it is. A list given replaces
/// the stored one.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    /// A new display name.
    pub name: Option<String>,
    /// New scopes (space-separated lists, may repeat).
    pub scopes: Option<Vec<String>>,
    /// New grant names.
    pub grants: Option<Vec<String>>,
    /// New redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// A new `aud` for its access tokens.
    pub audience: Option<String>,
    /// New post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// A new back-channel logout URI; an empty one removes it.
    pub backchannel_logout_uri: Option<String>,
}

impl ClientUpdate {
    /// Whether it changes nothing at all (the command line's option
    /// group refuses that before it gets here; the HTTP API does not).
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.scopes.is_none()
            && self.grants.is_none()
            && self.redirect_uris.is_none()
            && self.audience.is_none()
            && self.post_logout_redirect_uris.is_none()
            && self.backchannel_logout_uri.is_none()
    }
}

/// Which fields an update changed, by name (`name`, `scopes`, `grants`,
/// `redirect_uris`, `audience`, `post_logout_redirect_uris`,
/// `backchannel_logout_uri`): what the audit trail records.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Updated {
    /// The client as it is now.
    #[serde(flatten)]
    pub client: ClientView,
    /// The fields whose value changed.
    pub changed: Vec<&'static str>,
}

/// Applies `change` to the client (checked as [`super::clients::add`]
/// checks a new one) in one transaction. Tokens already issued keep
/// their claims; what the client gets from now on follows the change. A
/// running server with a client cache sees it within the cache's TTL
/// (`super::client_changes` forgets the record for changes it makes).
pub fn update(
    conn: &mut AnyConnection,
    client_id: &str,
    change: &ClientUpdate,
    now: i64,
) -> Result<Updated, ManageError> {
    if change.is_empty() {
        return Err(ManageError::Invalid(
            "nothing to change: give at least one field".into(),
        ));
    }
    db::write_tx(conn, |conn| {
        let old = require(conn, client_id, None)?;
        let mut row = old.clone();
        if let Some(name) = &change.name {
            row.name = rules::check_name(name)?.to_string();
        }
        if let Some(scopes) = &change.scopes {
            row.scopes = scope::join(&parse_scopes(scopes)?);
        }
        if let Some(grants) = &change.grants {
            if grants.is_empty() {
                return Err(ManageError::Invalid(
                    "a client needs at least one grant (--grant G)".into(),
                ));
            }
            row.grants = join_grants(&rules::parse_grants(grants)?);
        }
        if let Some(uris) = &change.redirect_uris {
            row.redirect_uris = rules::check_redirect_uris(uris)?.join(" ");
        }
        if let Some(audience) = &change.audience {
            row.audience = rules::check_audience(Some(audience))?;
        }
        if change.post_logout_redirect_uris.is_some() || change.backchannel_logout_uri.is_some() {
            let post_logout = match &change.post_logout_redirect_uris {
                Some(uris) => uris.clone(),
                None => row.post_logout_redirect_uri_list(),
            };
            let backchannel = match change.backchannel_logout_uri.as_deref() {
                Some("") => None,
                Some(uri) => Some(uri.to_string()),
                None => row.backchannel_logout_uri.clone(),
            };
            let checked = rules::check_logout_uris(&post_logout, backchannel.as_deref())?;
            row.post_logout_redirect_uris = checked.join(" ");
            row.backchannel_logout_uri = backchannel;
        }
        let grants = rules::parse_grants(&row.grant_list())?;
        rules::check_fits(row.is_public(), &grants, &row.redirect_uri_list())?;
        let changed: Vec<&'static str> = [
            ("name", old.name != row.name),
            ("scopes", old.scopes != row.scopes),
            ("grants", old.grants != row.grants),
            ("redirect_uris", old.redirect_uris != row.redirect_uris),
            ("audience", old.audience != row.audience),
            (
                "post_logout_redirect_uris",
                old.post_logout_redirect_uris != row.post_logout_redirect_uris,
            ),
            (
                "backchannel_logout_uri",
                old.backchannel_logout_uri != row.backchannel_logout_uri,
            ),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect();
        if !changed.is_empty() {
            clients::update(conn, &row, now)?;
        }
        Ok(Updated {
            client: view(conn, &row)?,
            changed,
        })
    })
}
