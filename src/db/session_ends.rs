//! Ending sign-in sessions, and telling the apps that signed in through
//! them (docs/interface.md "Back-channel logout"). Every way a session
//! ends goes through here, inside the caller's write transaction: a logout
//! (`POST /logout`, RP-initiated logout) ends one browser session
//! ([`end_session`]); a disable, a new password or "sign out everywhere"
//! ends every session of a user ([`end_all_of_user`]). Handlers reach them
//! through `crate::web::session::end` and `end_all`; admin operations call
//! them inside their own transaction.
//!
//! Ending a session deletes it, deletes the codes issued in it and not yet
//! exchanged, revokes the refresh tokens issued in it without
//! `offline_access` (Back-Channel Logout 1.0 §2.7), and queues a logout notice ([`crate::db::logout_notices`])
//! for every client that got an ID token in it and has a back-channel
//! logout URI, in the same transaction: a notice is durable once the
//! session's end is, and is delivered later by a background task
//! ([`crate::backchannel`]), never on the request path.

use diesel::prelude::*;

use super::schema::clients;
use super::schema::refresh_tokens as rt;
use super::session_clients::{self, SessionClient};
use super::{auth_codes, logout_notices, refresh_tokens, sessions, AnyConnection};
use crate::secret::random_id;

/// What ending sessions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// Browser sessions deleted.
    pub sessions: usize,
    /// Logout notices queued for back-channel delivery.
    pub notices: usize,
    /// Refresh tokens revoked with the sessions.
    pub refresh_tokens: usize,
}

/// Ends the browser session whose id hashes to `id_hash`. Only the
/// transaction that deletes the session row queues its notices: of two
/// logouts of one session at once, the second finds nothing to end.
pub fn end_session(conn: &mut AnyConnection, id_hash: &str, now: i64) -> QueryResult<Ended> {
    let Some(row) = sessions::row(conn, id_hash)? else {
        return Ok(Ended::default());
    };
    if sessions::delete(conn, id_hash)? == 0 {
        return Ok(Ended::default());
    }
    let sid = row.sid();
    auth_codes::delete_unused_of_sid(conn, &sid)?;
    let refresh_tokens = revoke_session_tokens(conn, &row.user_id, Some(&sid), now)?;
    let told = session_clients::take_session(conn, &sid)?;
    Ok(Ended {
        sessions: 1,
        notices: queue_notices(conn, &told, now)?,
        refresh_tokens,
    })
}

/// Ends every session of the user: their browser sessions, and the
/// sign-ins of the password grant, which have no browser session but
/// whose `sid` an app may hold. For a disable or a new password (the
/// sessions are dead already by the credential generation; this tells the
/// apps) and for "sign out everywhere". Call it before deleting a user:
/// the user's records go with the user row.
pub fn end_all_of_user(conn: &mut AnyConnection, user_id: &str, now: i64) -> QueryResult<Ended> {
    let mut ended = 0;
    for (row, _) in sessions::of_user(conn, user_id)? {
        ended += sessions::delete(conn, &row.id_hash)?;
        auth_codes::delete_unused_of_sid(conn, &row.sid())?;
    }
    let refresh_tokens = revoke_session_tokens(conn, user_id, None, now)?;
    let told = session_clients::take_user(conn, user_id)?;
    Ok(Ended {
        sessions: ended,
        notices: queue_notices(conn, &told, now)?,
        refresh_tokens,
    })
}

/// A new login in a browser that held the session `old`, by `user_id`:
/// the old session goes. The same user's sign-in continues, and its `sid`
/// is returned for the new session to keep, so that the apps it reached
/// hear of the new session's end; another user's session ends here, and
/// its apps are told (a shared browser signed in by someone else).
pub fn replace(
    conn: &mut AnyConnection,
    old: &str,
    user_id: &str,
    now: i64,
) -> QueryResult<(Option<String>, Ended)> {
    match sessions::row(conn, old)? {
        Some(row) if row.user_id == user_id => {
            sessions::delete(conn, old)?;
            Ok((Some(row.sid()), Ended::default()))
        }
        Some(_) => Ok((None, end_session(conn, old, now)?)),
        None => Ok((None, Ended::default())),
    }
}

/// Revokes the refresh tokens issued in the session `sid` of `user_id`,
/// or in any of the user's sessions when `sid` is `None`. A token whose
/// scope holds `offline_access` outlives the session: the user asked for
/// access while away (Back-Channel Logout 1.0 §2.7; OpenID Connect Core
/// §11). Used tokens are marked too, as in
/// [`refresh_tokens::revoke_for_user_client`]: a rotation racing this on
/// PostgreSQL is stopped by its family's revoked parent. The user's own
/// tokens are found through their index, so `refresh_tokens` needs no
/// index on `sid`, which every rotation would pay for.
fn revoke_session_tokens(
    conn: &mut AnyConnection,
    user_id: &str,
    sid: Option<&str>,
    now: i64,
) -> QueryResult<usize> {
    // A literal, for concat!: the PostgreSQL statements are `'static`.
    macro_rules! online {
        () => {
            "(' ' || scope || ' ') NOT LIKE '% offline_access %'"
        };
    }
    if let AnyConnection::Postgres(pg) = conn {
        return match sid {
            Some(sid) => {
                let live = concat!(
                    "user_id = $2 AND sid = $3 AND revoked_at IS NULL AND ",
                    online!()
                );
                refresh_tokens::revoke_in_order(pg, live, &[user_id, sid], now)
            }
            None => {
                let live = concat!(
                    "user_id = $2 AND sid IS NOT NULL AND revoked_at IS NULL AND ",
                    online!()
                );
                refresh_tokens::revoke_in_order(pg, live, &[user_id], now)
            }
        };
    }
    let online = || diesel::dsl::sql::<diesel::sql_types::Bool>(online!());
    let mine = rt::user_id.eq(user_id).and(rt::revoked_at.is_null());
    let revoked = rt::revoked_at.eq(Some(now));
    match sid {
        Some(sid) => diesel::update(rt::table.filter(mine.and(rt::sid.eq(sid))).filter(online()))
            .set(revoked)
            .execute(conn),
        None => diesel::update(
            rt::table
                .filter(mine.and(rt::sid.is_not_null()))
                .filter(online()),
        )
        .set(revoked)
        .execute(conn),
    }
}

/// Queues a notice for each of `told` whose client has a back-channel
/// logout URI now; returns how many.
fn queue_notices(conn: &mut AnyConnection, told: &[SessionClient], now: i64) -> QueryResult<usize> {
    if told.is_empty() {
        return Ok(0);
    }
    // A session signs in to a handful of apps: one lookup each.
    let mut listening = Vec::new();
    for record in told {
        let uri: Option<Option<String>> = clients::table
            .find(&record.client_id)
            .select(clients::backchannel_logout_uri)
            .get_result(conn)
            .optional()?;
        if uri.flatten().is_some() {
            listening.push(record.client_id.clone());
        }
    }
    let notices: Vec<logout_notices::Notice> = told
        .iter()
        .filter(|r| listening.contains(&r.client_id))
        .map(|r| logout_notices::Notice {
            id: random_id(),
            client_id: r.client_id.clone(),
            user_id: r.user_id.clone(),
            sid: r.sid.clone(),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            lease_until: 0,
            last_error: None,
        })
        .collect();
    logout_notices::queue(conn, &notices)
}
