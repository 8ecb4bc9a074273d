//! The flow's `OwnerSolicitor`: who is logged in, and what they decided.
//! Not logged in, or a login asked for again (`prompt=login`, `max_age`):
//! the login page, which brings the browser back. A GET: the consent
//! page. A POST (the consent form, sent back to this same URL): the
//! session's CSRF token, then `decision=allow` or `deny`. With
//! `prompt=none`, no page: an error for the client instead (see `openid`).

use oxide_auth::endpoint::{OwnerConsent, OwnerSolicitor, QueryParameter, Solicitation};
use oxide_auth_actix::{OAuthRequest, OAuthResponse};

use super::flow::{Flow, Shown};
use crate::web::consent::Consent;

/// What the owner's answer comes to.
enum Answer {
    Show(Shown),
    Allow(String),
    Deny,
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
        if self.silent() {
            return Answer::Show(self.silent_refusal("consent_required", state()));
        }
        let grant = solicitation.pre_grant();
        let mut scopes: Vec<String> = grant.scope.iter().map(str::to_string).collect();
        scopes.sort_unstable();
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
        let user_id = &owner.session.user_id;
        crate::audit::consent(user_id, &grant.client_id, &scopes.join(" "), allowed);
        if allowed {
            Answer::Allow(user_id.clone())
        } else {
            Answer::Deny
        }
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
            // The handler renders the page: oxide-auth's response stays
            // empty and is not sent.
            Answer::Show(shown) => {
                self.shown = Some(shown);
                OwnerConsent::InProgress(OAuthResponse::default())
            }
        }
    }
}
