//! Browser sessions: started by a login, carried by a cookie, checked on
//! every use, ended by logout.
//!
//! The cookie holds 256 random bits; the database holds only their
//! SHA-256, so a copy of it logs nobody in. A session lives while it is
//! used within the idle lifetime, until its absolute lifetime, and while
//! its user exists, is enabled and has the credential generation it had at
//! login: a password change or a disable (which move the generation on)
//! ends it at once, on every instance. Every login makes a new session and
//! deletes the one the browser held, so a session id planted before the
//! login is never adopted (no fixation).

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::cookies::{self, Jar};
use super::error::WebError;
use super::next;
use crate::config::SessionLimits;
use crate::db::session_ends::{self, Ended};
use crate::db::sessions::{self, Owner, SessionRow};
use crate::db::users::User;
use crate::db::{AnyConnection, DbError};
use crate::login::{CheckedLogin, LoginError};
use crate::mfa::amr::Amr;
use crate::secret::{constant_time_eq, Secret};
use crate::state::AppState;

/// A live session, as checked for this request.
pub struct Session {
    /// The user's id.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// When the user entered their password: every login makes a new
    /// session, so its start (OpenID Connect's `auth_time`).
    pub auth_time: i64,
    /// What the login checked (OpenID Connect's `amr`).
    pub amr: Amr,
    id_hash: String,
    sid: String,
    csrf: Secret,
}

impl Session {
    /// The token this session's forms carry as `csrf_token`.
    pub fn csrf_token(&self) -> &str {
        self.csrf.expose()
    }

    /// The SHA-256 of the session's id (the cookie's value): what the
    /// server knows of the session, never shown on a page.
    pub fn id_hash(&self) -> &str {
        &self.id_hash
    }

    /// The session's public name, OpenID Connect's `sid` (Front- and
    /// Back-Channel Logout 1.0 §2): a hash of the id hash, so that it
    /// names the session to apps without being the key it is stored by.
    pub fn sid(&self) -> String {
        self.sid.clone()
    }

    /// Whether a form sent this session's token (constant time).
    pub fn csrf_matches(&self, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|t| constant_time_eq(t.as_bytes(), self.csrf.expose().as_bytes()))
    }
}

/// The hash of the session id the request carries, if it is one that we
/// could have made.
pub fn presented(req: &HttpRequest, secure: bool) -> Option<String> {
    Jar::Session
        .read(req, secure)
        .and_then(|v| Secret::parse_generated(&v))
        .map(|id| id.hash())
}

/// How stale the stored last use may get before a request rewrites it:
/// a tenth of the idle lifetime, at most a minute. A session may so end
/// up to that much sooner than the idle lifetime after its last use,
/// never later.
fn touch_interval(limits: SessionLimits) -> i64 {
    (limits.idle / 10).clamp(0, 60)
}

/// Whether the session is alive at `now`.
pub(super) fn is_live(row: &SessionRow, owner: &Owner, now: i64, limits: SessionLimits) -> bool {
    !owner.disabled
        && owner.credential_generation == row.credential_generation
        && now < row.last_seen_at.saturating_add(limits.idle)
        && now < row.created_at.saturating_add(limits.lifetime)
}

/// The request's live session, if any. A dead session it names is
/// deleted; a live one is marked as used.
pub async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<Session>, DbError> {
    let Some(id_hash) = presented(req, cookies::secure(state)) else {
        return Ok(None);
    };
    let (limits, now) = (state.sessions, state.clock.now());
    let key = id_hash.clone();
    let found = state
        .db
        .read(move |conn| sessions::find(conn, &key).map_err(DbError::from))
        .await?;
    let Some((row, owner)) = found else {
        return Ok(None);
    };
    // The read above needs no write lock; a delete or a touch goes
    // through the writer, and a touch only every so often.
    if !is_live(&row, &owner, now, limits) {
        let key = id_hash.clone();
        state
            .db
            .write(move |conn| sessions::delete(conn, &key).map_err(DbError::from))
            .await?;
        return Ok(None);
    }
    if row.last_seen_at < now - touch_interval(limits) {
        let key = id_hash.clone();
        let stale = now - touch_interval(limits);
        state
            .db
            .write(move |conn| sessions::touch(conn, &key, now, stale).map_err(DbError::from))
            .await?;
    }
    Ok(Some(Session {
        sid: row.sid(),
        user_id: row.user_id,
        username: owner.username,
        auth_time: row.created_at,
        amr: Amr::parse(row.amr.as_deref()),
        id_hash,
        csrf: Secret::new(row.csrf_secret),
    }))
}

/// Inside the login's write transaction: a new session for `user`, who
/// signed in with `amr`, replacing `replacing` (the session the browser
/// held, if any: the same user's sign-in continues under its `sid`,
/// another user's ends, see [`session_ends::replace`]). Returns the cookie
/// value, and what ended.
pub fn start(
    conn: &mut AnyConnection,
    (user, amr): (&User, Amr),
    replacing: Option<&str>,
    now: i64,
) -> Result<(Secret, Ended), DbError> {
    let (continued, ended) = match replacing {
        Some(old) => session_ends::replace(conn, old, &user.id, now)?,
        None => (None, Ended::default()),
    };
    let id = Secret::generate();
    let id_hash = id.hash();
    sessions::insert(
        conn,
        &SessionRow {
            sid: Some(continued.unwrap_or_else(|| sessions::sid_of(&id_hash))),
            id_hash,
            user_id: user.id.clone(),
            credential_generation: user.credential_generation,
            csrf_secret: Secret::generate().expose().to_string(),
            created_at: now,
            last_seen_at: now,
            amr: Some(amr.stored()),
        },
    )?;
    Ok((id, ended))
}

/// A new session for a checked login ([`start`], replacing
/// `replacing`), confirmed in the same write transaction: a password
/// change, disable or lock that landed while the password was hashing
/// wins, as on the grant. `None` when it did; else the cookie value.
pub async fn start_confirmed(
    state: &AppState,
    login: CheckedLogin,
    replacing: Option<String>,
) -> Result<Option<Secret>, LoginError> {
    let clock = state.clock.clone();
    let started = state
        .db
        .write(move |conn| {
            let now = clock.now();
            match login.confirm(conn, now)? {
                Some(user) => Ok(Some(start(
                    conn,
                    (&user, Amr::PASSWORD),
                    replacing.as_deref(),
                    now,
                )?)),
                None => Ok::<_, LoginError>(None),
            }
        })
        .await?;
    Ok(started.map(|(id, ended)| {
        told(state, ended);
        id
    }))
}

/// Ends the session (a logout): deleted, with the notices to the apps
/// that signed in through it queued in the same transaction
/// ([`session_ends::end_session`]), then sent in the background.
pub async fn end(state: &AppState, session: Session) -> Result<Ended, DbError> {
    let now = state.clock.now();
    let ended = state
        .db
        .write(move |conn| {
            session_ends::end_session(conn, &session.id_hash, now).map_err(DbError::from)
        })
        .await?;
    told(state, ended);
    Ok(ended)
}

/// Ends every session of the user ("sign out everywhere"), the browser's
/// own included, with their notices ([`session_ends::end_all_of_user`]).
pub async fn end_all(state: &AppState, user_id: &str) -> Result<Ended, DbError> {
    let (now, user_id) = (state.clock.now(), user_id.to_string());
    let ended = state
        .db
        .write(move |conn| {
            session_ends::end_all_of_user(conn, &user_id, now).map_err(DbError::from)
        })
        .await?;
    told(state, ended);
    Ok(ended)
}

/// Wakes the back-channel deliveries when a session's end queued notices
/// (committed by now).
pub fn told(state: &AppState, ended: Ended) {
    if ended.notices > 0 {
        state.backchannel.wake();
    }
}

/// The logged-in user, for pages that require one: a handler taking it
/// runs only with a live session; without one the browser is sent to the
/// login page, which brings it back here afterwards (GET and HEAD only:
/// after a POST there is no page to come back to).
pub struct CurrentUser(pub Session);

impl FromRequest for CurrentUser {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<CurrentUser, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| WebError::Internal("no application state".into()))?;
            match current(&req, state).await? {
                Some(session) => Ok(CurrentUser(session)),
                None => Err(WebError::LoginRequired(login_redirect(&req))),
            }
        })
    }
}

/// The login URL that brings the browser back to this request's page.
fn login_redirect(req: &HttpRequest) -> String {
    let back = matches!(*req.method(), Method::GET | Method::HEAD)
        .then(|| req.uri().path_and_query().map(|p| p.as_str()))
        .flatten();
    next::login_url(back)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SessionLimits = SessionLimits {
        idle: 100,
        lifetime: 1000,
    };

    fn row(created_at: i64, last_seen_at: i64) -> (SessionRow, Owner) {
        (
            SessionRow {
                id_hash: "h".into(),
                user_id: "u".into(),
                credential_generation: 3,
                csrf_secret: "c".into(),
                created_at,
                last_seen_at,
                amr: None,
                sid: None,
            },
            Owner {
                username: "alice".into(),
                disabled: false,
                credential_generation: 3,
            },
        )
    }

    #[test]
    fn idle_and_absolute_lifetimes_end_a_session() {
        let (r, o) = row(0, 0);
        assert!(is_live(&r, &o, 99, LIMITS));
        assert!(!is_live(&r, &o, 100, LIMITS), "idle");
        let (r, o) = row(0, 950);
        assert!(is_live(&r, &o, 999, LIMITS));
        assert!(!is_live(&r, &o, 1000, LIMITS), "absolute");
    }

    #[test]
    fn a_disable_or_new_password_ends_a_session() {
        let (r, mut o) = row(0, 0);
        o.disabled = true;
        assert!(!is_live(&r, &o, 1, LIMITS));
        let (r, mut o) = row(0, 0);
        o.credential_generation = 4;
        assert!(!is_live(&r, &o, 1, LIMITS));
    }

    #[test]
    fn a_page_that_needs_a_login_comes_back_after_it() {
        use actix_web::test::TestRequest;
        let get = TestRequest::get()
            .uri("/console?tab=clients")
            .to_http_request();
        assert_eq!(
            login_redirect(&get),
            "/login?next=%2Fconsole%3Ftab%3Dclients"
        );
        let post = TestRequest::post()
            .uri("/console/clients")
            .to_http_request();
        assert_eq!(login_redirect(&post), "/login");
    }

    #[test]
    fn touches_are_coarse_but_never_longer_than_idle() {
        assert_eq!(touch_interval(LIMITS), 10);
        let long = SessionLimits {
            idle: 1800,
            lifetime: 43_200,
        };
        assert_eq!(touch_interval(long), 60);
        let tiny = SessionLimits {
            idle: 5,
            lifetime: 10,
        };
        assert_eq!(touch_interval(tiny), 0);
    }
}
