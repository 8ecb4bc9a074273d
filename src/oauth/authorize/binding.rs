//! The flow's `Registrar`: our diesel [`DbRegistrar`] binds the client and
//! its redirect URI (exact string match, RFC 9700 §4.1.3) and applies the
//! client's scope policy; the flow then requires a redirect URI that
//! today's [`redirect_uri`] rule accepts, keeps the client, and narrows the
//! scope to what the client's owner allows (a user's client) and to the
//! user's roles (docs/interface.md "Token endpoint", the same policy as the
//! password grant).

use oxide_auth::endpoint::{PreGrant, Scope};
use oxide_auth::primitives::registrar::{BoundClient, ClientUrl, Registrar, RegistrarError};

use super::flow::Flow;
use crate::db::owners::{self, Bound};
use crate::oauth::client_auth::DbRegistrar;
use crate::oauth::error::OAuthError;
use crate::oauth::grants::within_owner;
use crate::redirect_uri;
use crate::scope::{self, ScopeSet};

impl Flow<'_> {
    fn refused_scope(&self, why: String) -> RegistrarError {
        self.refuse(OAuthError::InvalidScope(why));
        RegistrarError::Unspecified
    }

    /// The scope after the client's policy, narrowed to what its owner
    /// allows (a user's client) and to the user's roles when someone is
    /// logged in; nothing left is `invalid_scope`. A suspended client is
    /// `unauthorized_client`: no code is issued to it.
    fn narrowed(&self, offered: ScopeSet) -> Result<ScopeSet, RegistrarError> {
        if offered.is_empty() {
            return Err(self.refused_scope("no scope requested and none registered".into()));
        }
        let offered = self.within_owner(offered)?;
        match &self.owner {
            None => Ok(offered),
            Some(owner) => scope::for_user(&offered, &owner.scopes).ok_or_else(|| {
                self.refused_scope("the user's roles grant none of the requested scopes".into())
            }),
        }
    }
}

impl Flow<'_> {
    /// `offered` as the client's owner bounds it ([`owners::bound`]).
    fn within_owner(&self, offered: ScopeSet) -> Result<ScopeSet, RegistrarError> {
        let client = self.client.borrow();
        let Some(client) = client.as_ref().filter(|c| c.is_owned()) else {
            return Ok(offered);
        };
        let bound = {
            let mut conn = self.conn.borrow_mut();
            owners::bound(&mut conn, client)
        };
        match bound {
            Err(e) => {
                self.failure.replace(Some(e.into()));
                Err(RegistrarError::PrimitiveError)
            }
            Ok(Bound::Suspended) => {
                self.refuse(OAuthError::UnauthorizedClient(
                    "this client is suspended: the user who registered it must re-key it".into(),
                ));
                Err(RegistrarError::Unspecified)
            }
            Ok(bound) => within_owner(&bound, offered).map_err(|refusal| {
                self.refuse(refusal);
                RegistrarError::Unspecified
            }),
        }
    }
}

impl Registrar for Flow<'_> {
    fn bound_redirect<'a>(&self, bound: ClientUrl<'a>) -> Result<BoundClient<'a>, RegistrarError> {
        // RFC 9700 §2.1 and OAuth 2.1: the redirect URI is always sent and
        // matched exactly; without one, nothing is redirected.
        let Some(given) = bound.redirect_uri.as_ref().map(|u| u.as_str().to_string()) else {
            self.ignored.set(Some(
                "The request has no redirect_uri, so it cannot be answered.",
            ));
            return Err(RegistrarError::Unspecified);
        };
        let mut conn = self.conn.borrow_mut();
        let registrar = DbRegistrar::new(&mut conn);
        let result = registrar.bound_redirect(bound);
        let client = registrar.loaded();
        match &result {
            // Registered under an older, looser rule: kept in storage and
            // listed, but never redirected to, so it counts as not
            // registered and every answer is authd's own page.
            Ok(_) if redirect_uri::check(&given).is_err() => {
                let id = client.as_ref().map_or("", |c| c.client_id.as_str());
                log::warn!(
                    "authorize: client '{id}' has a redirect URI that today's rule refuses, \
                     not redirected to: {}",
                    given.escape_debug()
                );
                self.ignored.set(Some(
                    "This redirect_uri is registered but no longer accepted (only https, \
                     http on a loopback address, or an app's own scheme). The application \
                     must register another one.",
                ));
                return Err(RegistrarError::Unspecified);
            }
            Ok(_) => {
                self.redirect_uri.replace(Some(given));
                self.client.replace(client);
            }
            Err(RegistrarError::Unspecified) => self.ignored.set(Some(match client {
                Some(_) => "This redirect_uri is not registered for the application.",
                None => "No application has this client_id.",
            })),
            Err(RegistrarError::PrimitiveError) => {}
        }
        result
    }

    fn negotiate(
        &self,
        bound: BoundClient,
        scope: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        // An empty `scope` is an omitted one (RFC 6749 §3.1).
        let scope = scope.filter(|s| s.iter().next().is_some());
        let requested: Option<ScopeSet> = scope
            .as_ref()
            .map(|s| s.iter().map(str::to_string).collect());
        let negotiated = {
            let mut conn = self.conn.borrow_mut();
            DbRegistrar::new(&mut conn).negotiate(bound, scope)
        };
        let pre = match negotiated {
            Ok(pre) => pre,
            Err(RegistrarError::Unspecified) => {
                let registered = self
                    .client
                    .borrow()
                    .as_ref()
                    .map(|c| scope::parse([c.scopes.as_str()]).unwrap_or_default())
                    .unwrap_or_default();
                let outside = scope::for_client(requested.as_ref(), &registered)
                    .err()
                    .unwrap_or_default();
                return Err(
                    self.refused_scope(format!("scope not allowed for this client: {outside}"))
                );
            }
            Err(e) => return Err(e),
        };
        let offered: ScopeSet = pre.scope.iter().map(str::to_string).collect();
        let granted = self.narrowed(offered)?;
        Ok(PreGrant {
            scope: scope::join(&granted)
                .parse()
                .map_err(|_| RegistrarError::PrimitiveError)?,
            ..pre
        })
    }

    fn check(&self, client_id: &str, passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        let mut conn = self.conn.borrow_mut();
        DbRegistrar::new(&mut conn).check(client_id, passphrase)
    }
}
