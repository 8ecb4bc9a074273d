//! Client authentication (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, or a public client's bare `client_id`; and the
//! oxide-auth `Registrar` over the `clients` table.

use std::borrow::Cow;
use std::cell::RefCell;

use actix_web::http::header;
use actix_web::HttpRequest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use oxide_auth::endpoint::{PreGrant, Scope};
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, ExactUrl, RegisteredUrl, Registrar, RegistrarError,
};

use super::context::GrantCtx;
use super::error::OAuthError;
use super::issuer::NO_REDIRECT;
use crate::db::clients::{self, Client};
use crate::db::owners::{self, Bound};
use crate::db::{AnyConnection, DbError};
use crate::grant_type::GrantType;
use crate::http::form::Form;
use crate::http::urlencoded::{self, NotUtf8};
use crate::scope::{self, ScopeSet};
use crate::secret::Secret;

/// How the client presented itself.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`).
    Basic {
        /// Its id.
        client_id: String,
        /// Its secret.
        secret: Secret,
    },
    /// Body parameters (`client_secret_post`).
    Post {
        /// Its id.
        client_id: String,
        /// Its secret.
        secret: Secret,
    },
    /// A public client (`none`): only its id.
    Public {
        /// Its id.
        client_id: String,
    },
}

impl ClientAuth {
    /// Reads the client's credentials from the header and the form.
    pub fn from_request(req: &HttpRequest, form: &Form) -> Result<ClientAuth, OAuthError> {
        // Authorization is not a list (RFC 9110 §11.6.2): with two field
        // lines, which one counts would depend on who reads the request.
        if req.headers().get_all(header::AUTHORIZATION).count() > 1 {
            return Err(OAuthError::InvalidRequest(
                "send one Authorization header, not several".into(),
            ));
        }
        let basic = match req.headers().get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(parse_basic(value.to_str().unwrap_or(""))?),
        };
        match basic {
            Some((client_id, secret)) => {
                if form.get("client_secret").is_some() {
                    return Err(OAuthError::InvalidRequest(
                        "use one client authentication method, not HTTP Basic and client_secret"
                            .into(),
                    ));
                }
                if form.get("client_id").is_some_and(|id| id != client_id) {
                    return Err(OAuthError::InvalidRequest(
                        "client_id differs from the HTTP Basic credentials".into(),
                    ));
                }
                Ok(ClientAuth::Basic { client_id, secret })
            }
            None => {
                let client_id = form
                    .get("client_id")
                    .ok_or_else(|| {
                        OAuthError::InvalidClient("client authentication required".into())
                    })?
                    .to_string();
                Ok(match form.get("client_secret") {
                    Some(s) => ClientAuth::Post {
                        client_id,
                        secret: Secret::new(s),
                    },
                    None => ClientAuth::Public { client_id },
                })
            }
        }
    }

    /// The id the client claims.
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuth::Basic { client_id, .. }
            | ClientAuth::Post { client_id, .. }
            | ClientAuth::Public { client_id } => client_id,
        }
    }

    /// The secret it presented; `None` for a public client.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            ClientAuth::Basic { secret, .. } | ClientAuth::Post { secret, .. } => Some(secret),
            ClientAuth::Public { .. } => None,
        }
    }
}

/// Parses `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749
/// §2.3.1). The first `:` separates id and secret (a user-id cannot hold
/// one, RFC 7617 §2); each is then percent-decoded as a whole, so an `&`
/// or `=` in it is part of it. Decoded bytes that are not UTF-8 are
/// `invalid_request`, as in a form body. Public for the fuzz targets.
pub fn parse_basic(value: &str) -> Result<(String, Secret), OAuthError> {
    let bad = || OAuthError::InvalidClient("malformed HTTP Basic credentials".into());
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient(
            "unsupported authentication scheme (use HTTP Basic)".into(),
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let colon = decoded.iter().position(|&b| b == b':').ok_or_else(bad)?;
    let not_utf8 = |NotUtf8| {
        OAuthError::InvalidRequest(
            "HTTP Basic credentials must be UTF-8 once percent-decoded".into(),
        )
    };
    let id = urlencoded::decode(&decoded[..colon]).map_err(not_utf8)?;
    let secret = urlencoded::decode(&decoded[colon + 1..]).map_err(not_utf8)?;
    if id.is_empty() || id.contains('\0') {
        return Err(bad());
    }
    Ok((id, Secret::new(secret)))
}

/// The one way a request's client is authenticated (RFC 6749 §2.3), for
/// every grant, revocation and introspection: from the client cache when
/// it is on and holds the client (its staleness bound is the cache's),
/// else read with the lookups of concurrent requests ([`Db::client`]);
/// then [`check`]ed. `grant`: the grant it must be registered for (none
/// for revocation and introspection).
///
/// [`Db::client`]: crate::db::Db::client
pub async fn authenticate(
    ctx: &GrantCtx,
    auth: &ClientAuth,
    grant: Option<GrantType>,
) -> Result<Client, OAuthError> {
    let cache = &ctx.clients;
    if let Some(known) = cache.hit(auth.client_id(), auth.secret()) {
        return check(Some(known), auth, grant);
    }
    let read_at = cache.epoch();
    let found = ctx.db.client(auth.client_id()).await?;
    let client = check(found, auth, grant)?;
    cache.put(&client, read_at);
    Ok(client)
}

/// Checks the client record `found` for `auth` (a grant that reads the
/// client together with other rows, as the refresh grant does, checks it
/// here): failing authentication is `invalid_client`; a grant the client
/// is not registered for is `unauthorized_client`, and a public client
/// cannot act for itself (client_credentials, RFC 6749 §4.4).
pub fn check(
    found: Option<Client>,
    auth: &ClientAuth,
    grant: Option<GrantType>,
) -> Result<Client, OAuthError> {
    let client = DbRegistrar::only(found).authenticate(auth)?;
    let Some(grant) = grant else {
        return Ok(client);
    };
    if !client.allows_grant(grant.as_str()) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use the {grant} grant"
        )));
    }
    if grant == GrantType::ClientCredentials && client.is_public() {
        return Err(OAuthError::UnauthorizedClient(
            "client_credentials needs a confidential client".into(),
        ));
    }
    Ok(client)
}

/// What the client's owner allows it ([`owners::bound`]): read on the
/// pool for a user's client, nothing to read for an administrator's.
pub async fn owner_bound(ctx: &GrantCtx, client: &Client) -> Result<Bound, OAuthError> {
    if !client.is_owned() {
        return Ok(Bound::Unowned);
    }
    let client = client.clone();
    Ok(ctx
        .db
        .read(move |conn| owners::bound(conn, &client).map_err(DbError::Query))
        .await?)
}

/// oxide-auth's `Registrar` over the database, for one request. It keeps
/// the client it authenticated so callers need not load it again.
pub struct DbRegistrar<'c> {
    /// `None`: only the client it was made with exists for it.
    conn: Option<RefCell<&'c mut AnyConnection>>,
    client: RefCell<Option<Client>>,
}

impl<'c> DbRegistrar<'c> {
    /// A registrar using this connection.
    pub fn new(conn: &'c mut AnyConnection) -> DbRegistrar<'c> {
        DbRegistrar {
            conn: Some(RefCell::new(conn)),
            client: RefCell::new(None),
        }
    }

    /// A registrar that knows only `client` (a record from the
    /// [`crate::db::client_cache::ClientCache`]) and no database.
    pub fn known(client: Client) -> DbRegistrar<'static> {
        DbRegistrar::only(Some(client))
    }

    /// A registrar that knows only the record read already (`None`: the
    /// client is not registered, and every check fails) and no database.
    pub fn only(client: Option<Client>) -> DbRegistrar<'static> {
        DbRegistrar {
            conn: None,
            client: RefCell::new(client),
        }
    }

    fn load(&self, client_id: &str) -> Result<Option<Client>, RegistrarError> {
        if let Some(c) = self
            .client
            .borrow()
            .as_ref()
            .filter(|c| c.client_id == client_id)
        {
            return Ok(Some(c.clone()));
        }
        let Some(conn) = &self.conn else {
            return Ok(None);
        };
        let found = clients::find(&mut conn.borrow_mut(), client_id).map_err(|e| {
            log::error!("registrar: {e}");
            RegistrarError::PrimitiveError
        })?;
        self.client.replace(found.clone());
        Ok(found)
    }

    /// The client the last lookup found, if any (so that a flow need not
    /// load it again).
    pub fn loaded(&self) -> Option<Client> {
        self.client.borrow().clone()
    }

    /// Authenticates the client; `invalid_client` on any failure.
    pub fn authenticate(&self, auth: &ClientAuth) -> Result<Client, OAuthError> {
        let secret = auth.secret().map(|s| s.expose().as_bytes());
        match self.check(auth.client_id(), secret) {
            Ok(()) => self
                .load(auth.client_id())
                .ok()
                .flatten()
                .ok_or_else(|| OAuthError::internal("authenticated client vanished")),
            Err(RegistrarError::PrimitiveError) => {
                Err(OAuthError::internal("client lookup failed"))
            }
            Err(RegistrarError::Unspecified) => Err(OAuthError::InvalidClient(
                "client authentication failed".into(),
            )),
        }
    }

    /// Applies the client scope policy through `bound_redirect` +
    /// `negotiate`, as oxide-auth's flows do.
    pub fn negotiate_scope(
        &self,
        client: &Client,
        requested: Option<&ScopeSet>,
    ) -> Result<ScopeSet, OAuthError> {
        let registered = scope::parse([client.scopes.as_str()]).unwrap_or_default();
        // Check first for a precise message; `negotiate` enforces the same.
        scope::for_client(requested, &registered).map_err(|outside| {
            OAuthError::InvalidScope(format!("scope not allowed for this client: {outside}"))
        })?;
        let bound = self
            .bound_redirect(ClientUrl {
                client_id: Cow::Borrowed(&client.client_id),
                redirect_uri: None,
            })
            .map_err(|_| OAuthError::internal("client has no usable redirect"))?;
        let wanted = requested
            .map(|s| scope::join(s).parse::<Scope>())
            .transpose()
            .map_err(|_| OAuthError::InvalidScope("malformed scope".into()))?;
        let pre = self
            .negotiate(bound, wanted)
            .map_err(|_| OAuthError::InvalidScope("scope not allowed for this client".into()))?;
        Ok(pre.scope.iter().map(str::to_string).collect())
    }
}

impl Registrar for DbRegistrar<'_> {
    fn bound_redirect<'a>(&self, bound: ClientUrl<'a>) -> Result<BoundClient<'a>, RegistrarError> {
        let client = self
            .load(&bound.client_id)?
            .ok_or(RegistrarError::Unspecified)?;
        let registered = client.redirect_uri_list();
        let chosen: RegisteredUrl = match bound.redirect_uri.as_deref() {
            // Exact string match only (RFC 9700 §4.1.3).
            Some(given) => {
                if !registered.iter().any(|r| r == given.as_str()) {
                    return Err(RegistrarError::Unspecified);
                }
                given.clone().into()
            }
            None => {
                let first = registered
                    .first()
                    .map(String::as_str)
                    .unwrap_or(NO_REDIRECT);
                ExactUrl::new(first.to_string())
                    .map_err(|_| RegistrarError::PrimitiveError)?
                    .into()
            }
        };
        Ok(BoundClient {
            client_id: bound.client_id,
            redirect_uri: Cow::Owned(chosen),
        })
    }

    fn negotiate(
        &self,
        bound: BoundClient,
        scope: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        let client = self
            .load(&bound.client_id)?
            .ok_or(RegistrarError::Unspecified)?;
        let registered = scope::parse([client.scopes.as_str()]).unwrap_or_default();
        let requested: Option<ScopeSet> = scope.map(|s| s.iter().map(str::to_string).collect());
        let granted = scope::for_client(requested.as_ref(), &registered)
            .map_err(|_| RegistrarError::Unspecified)?;
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: bound.redirect_uri.into_owned(),
            scope: scope::join(&granted)
                .parse()
                .map_err(|_| RegistrarError::PrimitiveError)?,
        })
    }

    fn check(&self, client_id: &str, passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        let client = self.load(client_id)?.ok_or(RegistrarError::Unspecified)?;
        match (&client.secret_hash, passphrase) {
            (None, None) => Ok(()),
            (Some(hash), Some(given)) => {
                let given = std::str::from_utf8(given).map_err(|_| RegistrarError::Unspecified)?;
                if Secret::new(given).matches_hash(hash) {
                    Ok(())
                } else {
                    Err(RegistrarError::Unspecified)
                }
            }
            // A confidential client must authenticate; a public one has no
            // secret to present (RFC 6749 §2.3, §3.2.1).
            _ => Err(RegistrarError::Unspecified),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let raw = STANDARD.encode("my%20app:s%3Acret%2B+x");
        let (id, secret) = parse_basic(&format!("Basic {raw}")).unwrap();
        assert_eq!(id, "my app");
        assert_eq!(secret.expose(), "s:cret+ x");
    }

    fn basic(raw: &[u8]) -> Result<(String, Secret), OAuthError> {
        parse_basic(&format!("Basic {}", STANDARD.encode(raw)))
    }

    #[test]
    fn ampersand_and_equals_belong_to_the_secret() {
        let (id, secret) = basic(b"app:secret&anything=x").unwrap();
        assert_eq!(id, "app");
        assert_eq!(secret.expose(), "secret&anything=x");
        let (id, secret) = basic(b"a%26b%3Dc:s:t").unwrap();
        assert_eq!(id, "a&b=c");
        assert_eq!(secret.expose(), "s:t");
    }

    #[test]
    fn basic_not_utf8_once_decoded_is_invalid_request() {
        for raw in [&b"app:pass%FEword"[..], b"app%FE:secret", b"app:\xff"] {
            assert_eq!(basic(raw).unwrap_err().code(), "invalid_request", "{raw:?}");
        }
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        for v in [
            "Basic !!!",
            "Basic",
            "Bearer abc",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            assert_eq!(parse_basic(v).unwrap_err().code(), "invalid_client", "{v}");
        }
    }

    #[test]
    fn two_authorization_headers_are_invalid_request() {
        let basic = format!("Basic {}", STANDARD.encode("app:secret"));
        let req = actix_web::test::TestRequest::default()
            .append_header((header::AUTHORIZATION, basic.as_str()))
            .append_header((header::AUTHORIZATION, basic.as_str()))
            .to_http_request();
        let err = ClientAuth::from_request(&req, &Form::default()).unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }
}
