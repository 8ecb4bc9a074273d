//! The flow's extension, run once the redirect URI is bound (so that a
//! refusal can be redirected): the client must be registered for the
//! grant (`unauthorized_client`), the query must have been well formed,
//! PKCE must be S256 (`invalid_request`, RFC 7636 §4.4.1), and the
//! OpenID Connect parameters well formed (see `openid`). It binds
//! to the code what the exchange checks: the challenge, the redirect URI
//! as sent, the user's credential generation, and the sign-in the ID
//! token will speak of (`nonce`, `auth_time`, `sid`).

use oxide_auth::code_grant::authorization::Request;
use oxide_auth::endpoint::{AuthorizationExtension, Extension};
use oxide_auth::primitives::grant::{Extensions, Value};

use super::flow::Flow;
use super::openid::OpenIdParams;
use crate::grant_type::GrantType;
use crate::oauth::codes;
use crate::oauth::error::OAuthError;
use crate::oauth::id_token::SignIn;
use crate::oauth::issuer::{ext as issuer_ext, set_sign_in};
use crate::oauth::pkce;

impl Flow<'_> {
    fn checked(&self, request: &dyn Request) -> Result<Extensions, OAuthError> {
        let allowed = self
            .client
            .borrow()
            .as_ref()
            .is_some_and(|c| c.allows_grant(GrantType::AuthorizationCode.as_str()));
        if !allowed {
            return Err(OAuthError::UnauthorizedClient(
                "this client may not use the authorization_code grant".into(),
            ));
        }
        let method = request.extension("code_challenge_method");
        let challenge = request.extension("code_challenge");
        let bound = pkce::challenge(method.as_deref(), challenge.as_deref())
            .map_err(|why| OAuthError::InvalidRequest(why.into()))?;
        *self.openid.borrow_mut() = OpenIdParams::read(request)?;
        let mut ext = Extensions::new();
        ext.set_raw(pkce::EXTENSION.into(), bound);
        ext.set_raw(
            codes::ext::REDIRECT_URI.into(),
            Value::private(self.redirect_uri.borrow().clone()),
        );
        if let Some(owner) = &self.owner {
            ext.set_raw(
                issuer_ext::GENERATION.into(),
                Value::private(Some(owner.generation.to_string())),
            );
            // What the ID token will say of this sign-in (OpenID Connect
            // Core 1.0 §2, §3.1.2.1): the nonce exactly as sent.
            let sign_in = SignIn {
                auth_time: owner.session.auth_time,
                sid: owner.session.sid(),
                nonce: request.extension("nonce").map(|n| n.into_owned()),
                amr: owner.session.amr,
            };
            set_sign_in(&mut ext, &sign_in);
        }
        Ok(ext)
    }
}

impl AuthorizationExtension for Flow<'_> {
    fn extend(&mut self, request: &dyn Request) -> Result<Extensions, ()> {
        // A malformed query is refused with its own description (see
        // `Flow::response`).
        if self.malformed.is_some() {
            return Err(());
        }
        self.checked(request).map_err(|why| self.refuse(why))
    }
}

impl Extension for Flow<'_> {
    fn authorization(&mut self) -> Option<&mut dyn AuthorizationExtension> {
        Some(self)
    }
}
