//! `GET /oauth/authorize` (RFC 6749 §4.1.1, RFC 7636): the authorization
//! code flow with PKCE, served by oxide-auth's `AuthorizationFlow` over
//! oxide-auth-actix's `OAuthRequest`/`OAuthResponse`, with a [`Flow`] of
//! ours as the endpoint. `POST` to the same URL is the consent form's
//! answer; the authorization request stays in the query.
//!
//! The flow is synchronous and touches the database, so it runs off the
//! actix workers (`flow::run`: on a connection thread, or the writer for
//! a consent decision), one connection per request and no shared actor.

mod binding; // the Registrar: exact redirect URI, scope policy
mod checks; // the extension: grant, query, PKCE
mod consent; // the OwnerSolicitor: login, consent, decision
mod errors; // which errors are redirected, which shown on our page
mod flow; // the request's state and the Endpoint
mod openid; // prompt, max_age, login_hint (OpenID Connect Core 1.0 §3.1.2.1)

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use oxide_auth_actix::OAuthRequest;

use self::flow::{Asked, Shown};
use crate::http::form::Form;
use crate::oauth::error::OAuthError;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::{consent as consent_page, next, page, session};

/// Where the authorization endpoint is mounted.
pub const PATH: &str = "/oauth/authorize";

/// The handler of `GET` (the authorization request) and `POST` (the
/// consent form) on [`PATH`].
pub async fn authorize(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    // The query decoded strictly (UTF-8, no repeated parameter, §3.1):
    // oxide-auth decodes leniently, so a refusal here is kept for the
    // error redirect.
    let malformed = Form::parse(req.query_string().as_bytes())
        .err()
        .map(OAuthError::from);
    let request = OAuthRequest::new(req.clone(), payload.into_inner())
        .await
        .map_err(|_| WebError::BadRequest("the authorization request could not be read"))?;
    let session = session::current(&req, &state).await?;
    let here = req
        .uri()
        .path_and_query()
        .map_or(PATH, |p| p.as_str())
        .to_string();
    let asked = Asked {
        request,
        session,
        post: req.method() == Method::POST,
        here: here.clone(),
        malformed,
    };
    let (response, (shown, described)) = flow::run(&state.db, &state.clock, asked).await?;
    let iss = &state.issuer.issuer;
    match shown {
        Some(Shown::Login { back, hint }) => {
            let mut login = next::login_url(Some(&back));
            if let Some(hint) = hint {
                login.push_str("&login_hint=");
                login.extend(url::form_urlencoded::byte_serialize(hint.as_bytes()));
            }
            Ok(page::see_other(&login).finish())
        }
        Some(Shown::Consent(consent)) => Ok(consent_page::page(&consent)),
        Some(Shown::Forbidden) => Err(WebError::Forbidden),
        Some(Shown::NoDecision) => Err(WebError::BadRequest("the consent form sent no decision")),
        Some(Shown::Redirect(url)) => Ok(to_client(url, iss, HttpResponse::Found().finish())),
        Some(Shown::NotRedirected(why)) => Err(WebError::InvalidAuthorization(why)),
        None => redirect(&req, response, described, iss),
    }
}

/// oxide-auth's redirect back to the client; an error redirect gets its
/// `error_description` here (RFC 6749 §4.1.2.1; see
/// [`crate::oauth::error::authorization_redirect`]).
fn redirect(
    req: &HttpRequest,
    response: oxide_auth_actix::OAuthResponse,
    described: Option<String>,
    iss: &str,
) -> Result<HttpResponse, WebError> {
    let res = response.respond_to(req);
    let mut url = res
        .headers()
        .get(header::LOCATION)
        .ok_or_else(|| {
            WebError::Internal("the authorization flow answered without a redirect".into())
        })?
        .to_str()
        .ok()
        .and_then(|l| url::Url::parse(l).ok())
        .ok_or_else(|| WebError::Internal("the flow's redirect is not a URL".into()))?;
    if let Some(description) = described {
        url.query_pairs_mut()
            .append_pair("error_description", &description);
    }
    Ok(to_client(url, iss, res))
}

/// A redirect to the client at `url`, with the `iss` parameter (RFC 9207
/// §2: every authorization response names its issuer, so a client that
/// talks to several cannot be sent one's answer as another's), with
/// `Cache-Control: no-store` (the URL may carry the code) and no
/// `Referer` for the client.
fn to_client(mut url: url::Url, iss: &str, mut res: HttpResponse) -> HttpResponse {
    url.query_pairs_mut().append_pair("iss", iss);
    // A URL serializes to a valid header value.
    if let Ok(value) = HeaderValue::from_str(url.as_str()) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}
