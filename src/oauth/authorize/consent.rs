//! The flow's `OwnerSolicitor`: who is logged in, and what they decided.
//! Not logged in, or a login asked for again (`prompt=login`, `max_age`):
//! the login page, which brings the browser back. A GET: the consent
//! page. A POST (the consent form, sent back to this same URL): the
//! session's CSRF token, then `decision=allow` or `deny`. With
//! `prompt=none`, no page: an error for the client instead (see `openid`).
//!
//! Consent is remembered (docs/interface.md "OpenID Connect"): a signed-in
//! user who already allowed the client every scope asked for, or a
//! `--first-party` client, gets the code at once, with `prompt=none` too;
//! `prompt=consent` shows the page anyway, except for a first-party client. An allow widens what is
//! remembered.

use oxide_auth::endpoint::{OwnerConsent, OwnerSolicitor, QueryParameter, Solicitation};
use oxide_auth_actix::{OAuthRequest, OAuthResponse};

use super::flow::{Flow, Shown};
use crate::db::consents;
use crate::oauth::error::OAuthError;
use crate::scope::ScopeSet;
use crate::web::consent::Consent;

/// What the owner's answer comes to.
enum Answer {
    Show(Shown),
    Allow(String),
    Deny,
    /// A storage failure, kept in the flow's `failure`.
    Failed,
}

impl Flow<'_> {
    fn answer(&self, request: &OAuthRequest, solicitation: &Solicitation) -> Answer {
        let state = || {
            request
                .query()
                .and_then(|q| q.unique_value("state").map(|s| s.into_owned()))
        };
        let signed_in = self.owner.as_ref().filter(|o| !self.needs_login(o));
        let Some(owner) = signed_in else {
            return Answer::Show(match self.silent() {
                true => self.silent_refusal("login_required", state()),
                false => self.login(),
            });
        };
        let grant = solicitation.pre_grant();
        let asked: ScopeSet = grant.scope.iter().map(str::to_string).collect();
        let scopes: Vec<String> = asked.iter().cloned().collect();
        let user_id = &owner.session.user_id;
        if !self.post {
            match self.remembered(user_id, &grant.client_id, &asked) {
                Ok(true) => return Answer::Allow(user_id.clone()),
                Ok(false) => {}
                Err(e) => return self.fail(e),
            }
        }
        if self.silent() {
            return Answer::Show(self.silent_refusal("consent_required", state()));
        }
        if !self.post {
            let client_name = self
                .client
                .borrow()
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_else(|| grant.client_id.clone());
            return Answer::Show(Shown::Consent(Consent {
                client_name,
                username: owner.session.username.clone(),
                scopes,
                redirect_uri: self.redirect_uri.borrow().clone().unwrap_or_default(),
                action: self.here.clone(),
                csrf_token: owner.session.csrf_token().to_string(),
            }));
        }
        let field = |name: &str| {
            request
                .body()
                .and_then(|b| b.unique_value(name).map(|v| v.into_owned()))
        };
        // Before reading the decision: a post from another site must not
        // be able to allow anything (or deny, which ends the flow too).
        if !owner.session.csrf_matches(field("csrf_token").as_deref()) {
            return Answer::Show(Shown::Forbidden);
        }
        let allowed = match field("decision").as_deref() {
            Some("allow") => true,
            Some("deny") => false,
            _ => return Answer::Show(Shown::NoDecision),
        };
        crate::audit::consent(user_id, &grant.client_id, &scopes.join(" "), allowed);
        if !allowed {
            return Answer::Deny;
        }
        // A POST runs on the writer (see `flow::run`).
        let remembered = consents::allow(
            &mut self.conn.borrow_mut(),
            user_id,
            &grant.client_id,
            &asked,
            self.now,
        );
        match remembered {
            Ok(()) => Answer::Allow(user_id.clone()),
            Err(e) => self.fail(e.into()),
        }
    }

    /// Whether no page is needed: the client is first-party (it never asks,
    /// whatever `prompt` says, as Keycloak ignores `prompt=consent` for a
    /// client that requires none), or, unless `prompt=consent`, the user
    /// already allowed it every scope in `asked`.
    fn remembered(
        &self,
        user_id: &str,
        client_id: &str,
        asked: &ScopeSet,
    ) -> Result<bool, OAuthError> {
        let first_party = self.client.borrow().as_ref().is_some_and(|c| c.first_party);
        if first_party {
            return Ok(true);
        }
        if self.openid.borrow().consent {
            return Ok(false);
        }
        let allowed = consents::scopes(&mut self.conn.borrow_mut(), user_id, client_id)?;
        Ok(asked.is_subset(&allowed))
    }

    fn fail(&self, e: OAuthError) -> Answer {
        self.failure.replace(Some(e));
        Answer::Failed
    }
}

impl OwnerSolicitor<OAuthRequest> for Flow<'_> {
    fn check_consent(
        &mut self,
        request: &mut OAuthRequest,
        solicitation: Solicitation,
    ) -> OwnerConsent<OAuthResponse> {
        match self.answer(request, &solicitation) {
            Answer::Allow(user_id) => OwnerConsent::Authorized(user_id),
            Answer::Deny => OwnerConsent::Denied,
            // `web_error` answers with the failure kept in the flow.
            Answer::Failed => OwnerConsent::Error(oxide_auth_actix::WebError::InternalError(None)),
            // The handler renders the page: oxide-auth's response stays
            // empty and is not sent.
            Answer::Show(shown) => {
                self.shown = Some(shown);
                OwnerConsent::InProgress(OAuthResponse::default())
            }
        }
    }
}
