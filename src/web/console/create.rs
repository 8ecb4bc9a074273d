//! `POST /console/clients`: creates a client owned by the user, with the
//! same validation as `authd client add` (it is the same function), and
//! scopes limited to what the user's own roles grant (docs/interface.md "Clients a user owns"). A
//! refused form is shown again with a message and what was typed (400);
//! a created client's page follows (303), with its secret once.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::list::{self, Draft};
use super::{actor, client_path, reveal};
use crate::audit;
use crate::manage::clients::{Created, NewClient};
use crate::manage::ManageError;
use crate::state::AppState;
use crate::web::cookies;
use crate::web::error::WebError;
use crate::web::form::{sentence, PageForm};
use crate::web::page;
use crate::web::session::{CurrentUser, Session};

impl Draft {
    /// The values a submitted create form holds.
    fn from_form(form: &PageForm) -> Draft {
        Draft {
            name: form.get("name").unwrap_or("").to_string(),
            grants: form.all("grant").map(str::to_string).collect(),
            scope: form.all("scope").collect::<Vec<_>>().join(" "),
            redirect_uris: form
                .all("redirect_uri")
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect(),
            public: form.checked("public"),
        }
        .padded()
    }

    /// What to register. The form's own wording for the refusals that
    /// the CLI words in terms of its flags; everything else is left to
    /// [`add_owned`](crate::manage::clients::add_owned), so that the rules are the CLI's.
    fn to_new_client(&self, owner: &str) -> Result<NewClient, String> {
        let has = |g| self.has_grant(g);
        if self.grants.is_empty() {
            return Err("Choose at least one grant type.".into());
        }
        if self.public && has("client_credentials") {
            return Err(
                "A public client cannot use client credentials: it has no secret to prove \
                 who it is. Untick one of them."
                    .into(),
            );
        }
        let uris: Vec<String> = self
            .redirect_uris
            .iter()
            .filter(|u| !u.is_empty())
            .cloned()
            .collect();
        if has("authorization_code") && uris.is_empty() {
            return Err("The authorization code grant needs at least one redirect URI.".into());
        }
        Ok(NewClient {
            name: self.name.clone(),
            grants: self.grants.clone(),
            scopes: vec![self.scope.clone()],
            public: self.public,
            redirect_uris: uris,
            owner_id: Some(owner.to_string()),
            ..NewClient::default()
        })
    }
}

/// Why a create was refused: shown to the user, or a server failure.
enum Refusal {
    Form(String),
    Server(WebError),
}

impl From<ManageError> for Refusal {
    fn from(e: ManageError) -> Refusal {
        match e {
            ManageError::Db(e) => Refusal::Server(e.into()),
            // Capitalised as a sentence on the page.
            other => Refusal::Form(sentence(&other.to_string())),
        }
    }
}

/// `POST /console/clients`.
pub(super) async fn create(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = PageForm::read_checked(&req, payload, &session).await?;
    let draft = Draft::from_form(&form);
    // Before the client exists: a secret that could not be sealed would
    // be lost to its owner.
    let key = reveal::server_key(&state).await?;
    let created = match submit(&state, &session, &draft).await {
        Ok(created) => created,
        Err(Refusal::Server(e)) => return Err(e),
        Err(Refusal::Form(message)) => {
            let loaded = list::load(&state, &session.user_id).await?;
            return Ok(list::render(
                StatusCode::BAD_REQUEST,
                &session,
                &loaded,
                Some(&message),
                &draft,
            ));
        }
    };
    let c = &created.client;
    audit::client_added(
        &c.client_id,
        &c.name,
        c.public,
        actor(&session, &req, &state),
    );
    let mut answer = page::see_other(&client_path(&c.client_id));
    if let Some(secret) = &created.secret {
        let secure = cookies::secure(&state);
        if let Some(cookie) = reveal::seal(key, &session, &c.client_id, secret, secure) {
            answer.cookie(cookie);
        }
    }
    Ok(answer.finish())
}

async fn submit(state: &AppState, session: &Session, draft: &Draft) -> Result<Created, Refusal> {
    let new = draft
        .to_new_client(&session.user_id)
        .map_err(Refusal::Form)?;
    state
        .client_changes()
        .add_owned(new, &session.user_id, state.console_max_clients)
        .await
        .map_err(Refusal::from)
}
