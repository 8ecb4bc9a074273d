//! `GET /console`: the user's clients and the form that creates one (also
//! shown again, with a message, when a create is refused).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{GrantOption, GRANT_OPTIONS};
use crate::db::users;
use crate::manage::clients::{self, ClientView};
use crate::manage::ManageError;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::page;
use crate::web::session::{CurrentUser, Session};

/// How many redirect URI fields the form has.
const REDIRECT_FIELDS: usize = 3;

/// The create form's values, as typed (empty for a fresh form).
pub struct Draft {
    /// `name`.
    pub name: String,
    /// The `grant` boxes checked.
    pub grants: Vec<String>,
    /// `scope`.
    pub scope: String,
    /// The `redirect_uri` fields, padded to the form's count.
    pub redirect_uris: Vec<String>,
    /// `public`.
    pub public: bool,
}

impl Default for Draft {
    /// A new form: authorization code with refresh tokens, confidential.
    fn default() -> Draft {
        Draft {
            name: String::new(),
            grants: vec!["authorization_code".into(), "refresh_token".into()],
            scope: String::new(),
            redirect_uris: vec![String::new(); REDIRECT_FIELDS],
            public: false,
        }
    }
}

impl Draft {
    /// With the redirect URI fields padded to the form's count.
    pub fn padded(mut self) -> Draft {
        while self.redirect_uris.len() < REDIRECT_FIELDS {
            self.redirect_uris.push(String::new());
        }
        self
    }

    /// Whether the box of `grant` is checked.
    pub fn has_grant(&self, grant: &str) -> bool {
        self.grants.iter().any(|g| g == grant)
    }
}

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage<'a> {
    username: &'a str,
    csrf_token: &'a str,
    clients: &'a [ClientView],
    /// What the user's roles grant: the most a client of theirs may have.
    user_scopes: &'a [String],
    message: Option<&'a str>,
    draft: &'a Draft,
    grant_options: &'static [GrantOption],
}

/// The user's clients and the scopes their roles grant.
pub async fn load(
    state: &AppState,
    user_id: &str,
) -> Result<(Vec<ClientView>, Vec<String>), WebError> {
    let owner = user_id.to_string();
    let loaded = state
        .db
        .read(move |conn| {
            let mine = clients::list(conn, Some(&owner))?;
            let scopes = users::scopes_of(conn, &owner)?;
            Ok::<_, ManageError>((mine, scopes.into_iter().collect()))
        })
        .await?;
    Ok(loaded)
}

/// The console page.
pub fn render(
    status: StatusCode,
    session: &Session,
    (clients, user_scopes): &(Vec<ClientView>, Vec<String>),
    message: Option<&str>,
    draft: &Draft,
) -> HttpResponse {
    page::html(
        page::builder(status),
        &ConsolePage {
            username: &session.username,
            csrf_token: session.csrf_token(),
            clients,
            user_scopes,
            message,
            draft,
            grant_options: GRANT_OPTIONS,
        },
    )
}

/// `GET /console`.
pub(super) async fn page(
    CurrentUser(session): CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let loaded = load(&state, &session.user_id).await?;
    Ok(render(
        StatusCode::OK,
        &session,
        &loaded,
        None,
        &Draft::default(),
    ))
}
