//! One client of the user's: its page (with its secret, once, right after
//! a create or rotation), and the POSTs that rotate its secret or delete
//! it. Another user's client, like a missing one, is 404.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{actor, client_path, reveal, GRANT_OPTIONS};
use crate::audit;
use crate::manage::clients::{self, ClientView};
use crate::manage::ManageError;
use crate::state::AppState;
use crate::web::cookies::{self, Jar};
use crate::web::error::WebError;
use crate::web::form::PageForm;
use crate::web::page;
use crate::web::session::CurrentUser;

#[derive(Template)]
#[template(path = "console_client.html")]
struct ClientPage<'a> {
    username: &'a str,
    csrf_token: &'a str,
    client: &'a ClientView,
    /// The new secret, shown this once.
    secret: Option<&'a str>,
    /// The grants' names as the create form words them.
    grant_labels: Vec<&'static str>,
}

/// A refused change as a page: a client that is not the user's is
/// `NotFound`, like one that does not exist.
fn refused(e: ManageError) -> WebError {
    match e {
        ManageError::UnknownClient(_) => WebError::NotFound,
        ManageError::Db(e) => e.into(),
        ManageError::Invalid(_) => WebError::BadRequest("this client cannot do that"),
        other => WebError::Internal(other.into()),
    }
}

/// `GET /console/clients/{client_id}`.
pub(super) async fn page(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    client_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (client_id, owner) = (client_id.into_inner(), session.user_id.clone());
    let client = {
        let id = client_id.clone();
        state
            .db
            .read(move |conn| clients::get(conn, &id, Some(&owner)))
            .await
            .map_err(refused)?
    };
    let secure = cookies::secure(&state);
    // The server-side key is read only when there is a cookie to open.
    let secret = if reveal::present(&req, secure) {
        let key = reveal::server_key(&state).await?;
        reveal::open(&req, key, &session, &client_id, secure)
    } else {
        None
    };
    let mut b = page::builder(StatusCode::OK);
    if reveal::present(&req, secure) {
        // Read once: a reload, or going back, shows no secret.
        b.cookie(Jar::Reveal.removal(secure));
    }
    let grant_labels = client
        .grants
        .iter()
        .map(|g| {
            GRANT_OPTIONS
                .iter()
                .find(|o| o.value == g)
                .map_or("unknown", |o| o.label)
        })
        .collect();
    Ok(page::html(
        b,
        &ClientPage {
            username: &session.username,
            csrf_token: session.csrf_token(),
            client: &client,
            secret: secret.as_ref().map(|s| s.expose()),
            grant_labels,
        },
    ))
}

/// `POST /console/clients/{client_id}/rotate`: a new secret, shown on the
/// client's page once; the old one stops working at once. A suspended
/// client resumes with it.
pub(super) async fn rotate(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    client_id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    // Before the change: a new secret that could not be sealed would be
    // lost to its owner.
    let key = reveal::server_key(&state).await?;
    let client_id = client_id.into_inner();
    PageForm::read_checked(&req, payload, &session).await?;
    let secret = state
        .client_changes()
        .rotate_secret(&client_id, Some(&session.user_id))
        .await
        .map_err(refused)?;
    audit::client_secret_rotated(&client_id, actor(&session, &req, &state));
    let mut answer = page::see_other(&client_path(&client_id));
    if let Some(cookie) = reveal::seal(key, &session, &client_id, &secret, cookies::secure(&state))
    {
        answer.cookie(cookie);
    }
    Ok(answer.finish())
}

/// `POST /console/clients/{client_id}/resume`: a suspended public client
/// gets tokens again (one with a secret resumes by a rotation).
pub(super) async fn resume(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    client_id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let client_id = client_id.into_inner();
    PageForm::read_checked(&req, payload, &session).await?;
    state
        .client_changes()
        .resume(&client_id, Some(&session.user_id))
        .await
        .map_err(refused)?;
    audit::client_resumed(&client_id, actor(&session, &req, &state));
    Ok(page::see_other(&client_path(&client_id)).finish())
}

/// `POST /console/clients/{client_id}/delete`: its tokens stop working.
pub(super) async fn delete(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    client_id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let client_id = client_id.into_inner();
    PageForm::read_checked(&req, payload, &session).await?;
    state
        .client_changes()
        .remove(&client_id, Some(&session.user_id))
        .await
        .map_err(refused)?;
    audit::client_removed(&client_id, actor(&session, &req, &state));
    Ok(page::see_other("/console").finish())
}
