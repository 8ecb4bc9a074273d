//! `GET /account`: the apps the user has allowed (name, id, scopes in
//! words, since when), each with a Revoke button, and the user's live
//! sign-in sessions (when each began and was last used, and which is
//! this browser: never a session's id or its hash), with a button that
//! ends them all. After a revoke (`?revoked=CLIENT_ID`) it confirms it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};

use crate::db::consents::{self, Allowed};
use crate::db::{clients, sessions, DbError};
use crate::state::AppState;
use crate::web::consent::ScopeLine;
use crate::web::error::WebError;
use crate::web::page;
use crate::web::session::{is_live, CurrentUser};

/// A time as the page shows it: in words for people, ISO 8601 for
/// machines (the `<time>` element's `datetime`).
pub struct When {
    /// `2026-12-06 14:03 UTC`.
    pub text: String,
    /// `2026-12-06T14:03:05Z`.
    pub iso: String,
}

impl When {
    fn at(unix: i64) -> When {
        let t: DateTime<Utc> = DateTime::from_timestamp(unix, 0).unwrap_or_default();
        When {
            text: t.format("%Y-%m-%d %H:%M UTC").to_string(),
            iso: t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

/// One allowed app.
struct AppLine {
    name: String,
    client_id: String,
    scopes: Vec<ScopeLine>,
    since: When,
}

/// One live session.
struct SessionLine {
    started: When,
    last_used: When,
    this_browser: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    username: &'a str,
    csrf_token: &'a str,
    /// The app a revoke just took access from, by name.
    revoked: Option<String>,
    apps: Vec<AppLine>,
    sessions: Vec<SessionLine>,
}

/// The client id of `?revoked=…`, if the query has one.
fn revoked_param(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "revoked")
        .map(|(_, v)| v.into_owned())
}

/// `GET /account`.
pub(super) async fn page(
    req: HttpRequest,
    CurrentUser(session): CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (user_id, revoked) = (session.user_id.clone(), revoked_param(&req));
    let (allowed, all_sessions, revoked) = state
        .db
        .read(move |conn| {
            let allowed = consents::of_user(conn, &user_id)?;
            let all_sessions = sessions::of_user(conn, &user_id)?;
            // Named only if it exists and is indeed no longer allowed: a
            // link cannot make the page claim an allowed app was revoked.
            let revoked = match revoked {
                Some(id) if !allowed.iter().any(|a| a.client_id == id) => {
                    clients::find(conn, &id)?.map(|c| c.name)
                }
                _ => None,
            };
            Ok::<_, DbError>((allowed, all_sessions, revoked))
        })
        .await?;
    let now = state.clock.now();
    let sessions = all_sessions
        .into_iter()
        .filter(|(row, owner)| is_live(row, owner, now, state.sessions))
        .map(|(row, _)| SessionLine {
            started: When::at(row.created_at),
            last_used: When::at(row.last_seen_at),
            this_browser: row.id_hash == session.id_hash(),
        })
        .collect();
    Ok(page::html(
        page::builder(StatusCode::OK),
        &AccountPage {
            username: &session.username,
            csrf_token: session.csrf_token(),
            revoked,
            apps: allowed.into_iter().map(app_line).collect(),
            sessions,
        },
    ))
}

fn app_line(a: Allowed) -> AppLine {
    AppLine {
        scopes: a.scopes.iter().map(|s| ScopeLine::of(s)).collect(),
        since: When::at(a.granted_at),
        name: a.client_name,
        client_id: a.client_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_utc_with_a_machine_form() {
        let w = When::at(1_796_565_785);
        assert_eq!(w.text, "2026-12-06 14:03 UTC");
        assert_eq!(w.iso, "2026-12-06T14:03:05Z");
    }

    #[test]
    fn the_revoked_app_comes_from_the_query() {
        use actix_web::test::TestRequest;
        let req = TestRequest::get()
            .uri("/account?x=1&revoked=a%2Fb")
            .to_http_request();
        assert_eq!(revoked_param(&req).as_deref(), Some("a/b"));
        let req = TestRequest::get().uri("/account").to_http_request();
        assert_eq!(revoked_param(&req), None);
    }
}
