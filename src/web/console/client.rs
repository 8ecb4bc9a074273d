//! One client of the user's: its page (with its secret, once, right after
//! a create or rotation), and the POSTs that rotate its secret or delete
//! it. Another user's client, like a missing one, is 404.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{actor, client_path, reveal, GRANT_OPTIONS};
use crate::audit;
use crate::db::{AnyConnection, DbError};
use crate::manage::clients::{self, ClientView};
use crate::manage::ManageError;
use crate::state::AppState;
use crate::web::cookies::{self, Jar};
use crate::web::error::WebError;
use crate::web::form::PageForm;
use crate::web::page;
use crate::web::session::{CurrentUser, Session};

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

/// The storage failures of a console change; a client that is not the
/// user's is `NotFound`.
/// Runs a write that changes `client_id`, then forgets the client's
/// cached record, whatever the write answered: in a task of its own, so
/// that a browser hanging up cannot stop the forgetting after a commit.
async fn changing<T, F>(state: &AppState, client_id: &str, f: F) -> Result<T, ManageError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ManageError> + Send + 'static,
    T: Send + 'static,
{
    let (db, cache, id) = (
        state.db.clone(),
        state.clients.clone(),
        client_id.to_string(),
    );
    actix_web::rt::spawn(async move {
        let result = db.write(f).await;
        cache.forget(&id);
        result
    })
    .await
    .unwrap_or_else(|_| Err(ManageError::Db(DbError::Blocking)))
}

/// Removes the user's client: its refresh tokens first, a chunk per
/// write so that other writes go in between (a client may hold millions),
/// then the client itself. In a task of its own, like [`changing`], so
/// that a browser hanging up does not leave it half done.
async fn removing(state: &AppState, client_id: &str, owner: &str) -> Result<(), ManageError> {
    let (state, id, owner) = (state.clone(), client_id.to_string(), owner.to_string());
    actix_web::rt::spawn(async move {
        loop {
            let (id, owner) = (id.clone(), owner.clone());
            let deleted = state
                .db
                .write(move |conn| clients::remove_token_chunk(conn, &id, Some(&owner)))
                .await?;
            if !clients::more_tokens_left(deleted) {
                break;
            }
        }
        let key = id.clone();
        changing(&state, &key, move |conn| {
            clients::remove(conn, &id, Some(&owner))
        })
        .await
    })
    .await
    .unwrap_or_else(|_| Err(ManageError::Db(DbError::Blocking)))
}

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

/// Reads a change's form and checks its CSRF token.
async fn checked_form(
    req: &HttpRequest,
    session: &Session,
    payload: web::Payload,
) -> Result<(), WebError> {
    let form = PageForm::read(req, payload).await?;
    if session.csrf_matches(form.get("csrf_token")) {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}

/// Checks a change's CSRF token, then runs `f(conn, client_id, user_id,
/// now)` as a change of the signed-in user's client ([`changing`]).
async fn change_own<T, F>(
    req: &HttpRequest,
    session: &Session,
    client_id: &str,
    payload: web::Payload,
    state: &AppState,
    f: F,
) -> Result<T, WebError>
where
    F: FnOnce(&mut AnyConnection, &str, &str, i64) -> Result<T, ManageError> + Send + 'static,
    T: Send + 'static,
{
    checked_form(req, session, payload).await?;
    let (id, owner, clock) = (
        client_id.to_string(),
        session.user_id.clone(),
        state.clock.clone(),
    );
    changing(state, client_id, move |conn| {
        f(conn, &id, &owner, clock.now())
    })
    .await
    .map_err(refused)
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
    let secret = change_own(
        &req,
        &session,
        &client_id,
        payload,
        &state,
        |conn, id, owner, now| clients::rotate_secret(conn, id, Some(owner), now),
    )
    .await?;
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
    change_own(
        &req,
        &session,
        &client_id,
        payload,
        &state,
        |conn, id, owner, now| clients::resume(conn, id, Some(owner), now),
    )
    .await?;
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
    checked_form(&req, &session, payload).await?;
    removing(&state, &client_id, &session.user_id)
        .await
        .map_err(refused)?;
    audit::client_removed(&client_id, actor(&session, &req, &state));
    Ok(page::see_other("/console").finish())
}
