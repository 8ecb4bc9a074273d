//! One authorization request's state, and the oxide-auth `Endpoint` made
//! of it: the [`Flow`] is at once the registrar (see `binding`), the
//! extension (`checks`), the owner solicitor (`consent`) and the
//! authorizer (codes through [`CodeStore`]), so that they share one
//! connection and what each learnt about the request.
//!
//! Where oxide-auth's flow decides the response, [`Flow`] adjusts it:
//! `response` puts authd's own error code on an error redirect (oxide-auth
//! would say `invalid_request` for a client not registered for the grant,
//! and `unsupported_response_type` for a missing `response_type`) and
//! keeps its description, which the handler adds as `error_description`
//! (oxide-auth would name it `description`), and `error` turns a request it ignores (unknown
//! client, unregistered redirect URI) into an HTML page that redirects
//! nowhere (RFC 6749 §4.1.2.1). `response` also keeps on authd's page the
//! errors that must not be redirected (a user-registered client's, before
//! sign-in: see `errors`).

use std::cell::{Cell, RefCell};

use oxide_auth::code_grant::error::AuthorizationErrorType;
use oxide_auth::endpoint::{
    AuthorizationFlow, Authorizer, Endpoint, Issuer, OAuthError as FlowError, OwnerSolicitor,
    Registrar, Scopes, Template, WebRequest,
};
use oxide_auth::primitives::grant::Grant;
use oxide_auth_actix::{OAuthRequest, OAuthResponse, WebError as ActixFlowError};

use super::errors;
use super::openid::OpenIdParams;
use crate::clock::Clock;
use crate::db::clients::Client;
use crate::db::{users, AnyConnection, Db, DbError};
use crate::oauth::codes::CodeStore;
use crate::oauth::error::{self, OAuthError};
use crate::scope::ScopeSet;
use crate::web::consent::Consent;
use crate::web::error::WebError;
use crate::web::session::Session;

/// The logged-in user, as the flow needs them.
pub struct Owner {
    /// Their live session (its CSRF secret guards the consent form).
    pub session: Session,
    /// Their credential generation, bound to the code.
    pub generation: i64,
    /// The scopes their roles grant.
    pub scopes: ScopeSet,
}

impl Owner {
    /// The session's user as stored now; `None` if gone or disabled.
    pub fn load(conn: &mut AnyConnection, session: Session) -> Result<Option<Owner>, DbError> {
        let Some(user) = users::by_id(conn, &session.user_id)? else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        let scopes = users::scopes_of(conn, &user.id)?;
        Ok(Some(Owner {
            session,
            generation: user.credential_generation,
            scopes,
        }))
    }
}

/// A page the handler shows instead of oxide-auth's redirect.
pub enum Shown {
    /// Not logged in, or a login is asked for again: the login page,
    /// which comes back to `back`, with `hint` as the username.
    Login {
        /// This request, less what the login satisfies (see `openid`).
        back: String,
        /// `login_hint`.
        hint: Option<String>,
    },
    /// The consent page.
    Consent(Consent),
    /// A consent post without the session's CSRF token.
    Forbidden,
    /// A consent post without a decision.
    NoDecision,
    /// An error of authd's own for the client (`prompt=none`'s), before
    /// `iss` is added.
    Redirect(url::Url),
    /// An error that must not be redirected, on authd's page.
    NotRedirected(&'static str),
}

/// One authorization request.
pub struct Flow<'c> {
    pub(super) conn: RefCell<&'c mut AnyConnection>,
    pub(super) now: i64,
    pub(super) owner: Option<Owner>,
    /// A POST: the consent form's answer.
    pub(super) post: bool,
    /// This request's path and query: where the consent form posts.
    pub(super) here: String,
    /// Why the query itself is refused (a repeated parameter, bytes that
    /// are not UTF-8), decoded strictly before oxide-auth saw it.
    pub(super) malformed: Option<OAuthError>,
    /// The client, once the redirect URI is bound.
    pub(super) client: RefCell<Option<Client>>,
    /// The redirect URI exactly as sent, once bound.
    pub(super) redirect_uri: RefCell<Option<String>>,
    /// Why the request is answered with a page, not a redirect.
    pub(super) ignored: Cell<Option<&'static str>>,
    /// Why authd refused the request, for the error redirect.
    pub(super) refusal: RefCell<Option<OAuthError>>,
    /// A storage failure behind oxide-auth's `PrimitiveError`.
    pub(super) failure: RefCell<Option<OAuthError>>,
    /// What to show instead of a redirect.
    pub(super) shown: Option<Shown>,
    /// The `error_description` of an error redirect.
    pub(super) described: Option<String>,
    /// The OpenID Connect parameters, once the extension read them.
    pub(super) openid: RefCell<OpenIdParams>,
}

impl<'c> Flow<'c> {
    /// A flow over `conn` at `now`.
    pub fn new(
        conn: &'c mut AnyConnection,
        now: i64,
        owner: Option<Owner>,
        post: bool,
        here: String,
        malformed: Option<OAuthError>,
    ) -> Flow<'c> {
        Flow {
            conn: RefCell::new(conn),
            now,
            owner,
            post,
            here,
            malformed,
            client: RefCell::new(None),
            redirect_uri: RefCell::new(None),
            ignored: Cell::new(None),
            refusal: RefCell::new(None),
            failure: RefCell::new(None),
            shown: None,
            described: None,
            openid: RefCell::default(),
        }
    }

    /// What the solicitor asked to show instead of the redirect, and the
    /// `error_description` the redirect needs, if any.
    pub fn outcome(&mut self) -> (Option<Shown>, Option<String>) {
        (self.shown.take(), self.described.take())
    }

    /// Records why authd refuses the request.
    pub(super) fn refuse(&self, why: OAuthError) {
        self.refusal.replace(Some(why));
    }

    /// The refusal an error redirect should carry, most telling first.
    fn refusal_for(
        &mut self,
        request: &mut OAuthRequest,
        template: &mut Template,
    ) -> Option<OAuthError> {
        if let Some(m) = self.malformed.take() {
            return Some(m);
        }
        if let Some(r) = self.refusal.take() {
            return Some(r);
        }
        // oxide-auth reports a missing response_type as unsupported; it is
        // a missing parameter (RFC 6749 §4.1.2.1).
        let missing = request
            .query()
            .map(|q| q.unique_value("response_type").is_none())
            .unwrap_or(true);
        let unsupported = template
            .authorization_error()
            .is_some_and(|e| e.kind() == AuthorizationErrorType::UnsupportedResponseType);
        (missing && unsupported)
            .then(|| OAuthError::InvalidRequest("missing parameter 'response_type'".into()))
    }
}

/// The page answer for a storage or internal failure.
fn failed(e: OAuthError) -> WebError {
    match e {
        OAuthError::Unavailable(cause) => WebError::Unavailable(cause),
        OAuthError::Internal(cause) => WebError::Internal(cause),
        other => WebError::Internal(other.into()),
    }
}

/// One authorization request as the handler read it.
pub struct Asked {
    /// oxide-auth's view of the request.
    pub request: OAuthRequest,
    /// The browser's live session, if any.
    pub session: Option<Session>,
    /// Whether it is the consent form's answer.
    pub post: bool,
    /// Its own path and query: where the consent form posts.
    pub here: String,
    /// Why its query does not decode strictly, if it does not.
    pub malformed: Option<OAuthError>,
}

/// oxide-auth's response, and [`Flow::outcome`].
pub type Answered = (OAuthResponse, (Option<Shown>, Option<String>));

/// Runs oxide-auth's flow for one request, off the workers (it is
/// synchronous and reads the database). A consent decision (POST), or a
/// signed-in request whose consent may be remembered (see `consent`), can
/// store a code, so they go through the writer on SQLite; showing the
/// login page only reads.
pub async fn run(db: &Db, clock: &Clock, asked: Asked) -> Result<Answered, WebError> {
    let clock = clock.clone();
    let post = asked.post;
    let may_issue = post || asked.session.is_some();
    let run_flow = move |conn: &mut AnyConnection| {
        let now = clock.now();
        let owner = match asked.session {
            Some(session) => Owner::load(conn, session)?,
            None => None,
        };
        let mut flow = Flow::new(conn, now, owner, post, asked.here, asked.malformed);
        let response = AuthorizationFlow::prepare(&mut flow)?.execute(asked.request)?;
        Ok::<_, WebError>((response, flow.outcome()))
    };
    if may_issue {
        db.write(run_flow).await
    } else {
        db.read(run_flow).await
    }
}

impl Endpoint<OAuthRequest> for Flow<'_> {
    type Error = WebError;

    fn registrar(&self) -> Option<&dyn Registrar> {
        Some(self)
    }

    fn authorizer_mut(&mut self) -> Option<&mut dyn Authorizer> {
        Some(self)
    }

    /// Tokens are issued at the token endpoint, through the one Issuer.
    fn issuer_mut(&mut self) -> Option<&mut dyn Issuer> {
        None
    }

    fn owner_solicitor(&mut self) -> Option<&mut dyn OwnerSolicitor<OAuthRequest>> {
        Some(self)
    }

    fn scopes(&mut self) -> Option<&mut dyn Scopes<OAuthRequest>> {
        None
    }

    /// oxide-auth then sets the redirect; an error redirect gets authd's
    /// code first, and its description is kept for the handler (see
    /// [`error::authorization_redirect`]). An error that must not be
    /// redirected (see `errors`) becomes authd's page instead.
    fn response(
        &mut self,
        request: &mut OAuthRequest,
        mut template: Template,
    ) -> Result<OAuthResponse, WebError> {
        let refusal = self.refusal_for(request, &mut template);
        if let Some(err) = template.authorization_error() {
            self.described = Some(error::authorization_redirect(err, refusal.as_ref()));
            if !self.may_redirect_errors() {
                return Err(WebError::InvalidAuthorization(errors::page_message(
                    err.kind(),
                )));
            }
        }
        Ok(OAuthResponse::default())
    }

    fn error(&mut self, err: FlowError) -> WebError {
        match err {
            // Unknown client, missing or unregistered redirect URI, or a
            // request without a client_id: never redirect (§4.1.2.1).
            FlowError::DenySilently => WebError::InvalidAuthorization(
                self.ignored
                    .get()
                    .unwrap_or("The request is malformed or names no client (client_id)."),
            ),
            FlowError::PrimitiveError | FlowError::BadRequest => match self.failure.take() {
                Some(e) => failed(e),
                None => WebError::Internal("the authorization flow failed".into()),
            },
        }
    }

    fn web_error(&mut self, err: ActixFlowError) -> WebError {
        if let Some(e) = self.failure.take() {
            return failed(e);
        }
        WebError::Internal(format!("oxide-auth-actix: {err}").into())
    }

    fn extension(&mut self) -> Option<&mut dyn oxide_auth::endpoint::Extension> {
        Some(self)
    }
}

impl Authorizer for Flow<'_> {
    fn authorize(&mut self, grant: Grant) -> Result<String, ()> {
        let now = self.now;
        CodeStore::new(self.conn.get_mut(), now)
            .issue_code(&grant)
            .map(|code| code.expose().to_string())
            .map_err(|e| {
                self.failure.replace(Some(e));
            })
    }

    /// Codes are redeemed at the token endpoint, never here.
    fn extract(&mut self, _: &str) -> Result<Option<Grant>, ()> {
        Err(())
    }
}
