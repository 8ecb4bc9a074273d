//! The refresh-token rules, stated once: when a stored token is live, and
//! how presenting one claims it, with reuse detection (RFC 6749 §6,
//! RFC 9700 §4.14.2). The refresh grant and introspection go through
//! here; the claim itself is one conditional statement
//! ([`refresh_tokens::rotate`], or batched in [`crate::db::refresh_batch`]).

use std::collections::BTreeSet;

use crate::db::clients::Client;
use crate::db::refresh_tokens::{self, RefreshToken};
use crate::db::users::User;
use crate::db::AnyConnection;
use crate::secret::Secret;

/// Where a stored refresh token stands.
pub enum RefreshState {
    /// Usable, by this (enabled) user.
    Live(User),
    /// Already exchanged: presenting it again is reuse.
    Used,
    /// Revoked, expired, or its user is gone, disabled or has a new
    /// password since it was issued.
    Dead,
}

/// The rule: not revoked, not yet used, within its idle and its family's
/// absolute lifetime, no token of its family revoked, and issued under its
/// user's current credential generation (no password change or disable
/// since), user enabled.
pub fn state(
    row: &RefreshToken,
    user: Option<User>,
    family_revoked: bool,
    now: i64,
) -> RefreshState {
    if row.revoked_at.is_some() {
        return RefreshState::Dead;
    }
    if row.used_at.is_some() {
        return RefreshState::Used;
    }
    if row.expires_at <= now || row.family_expires_at <= now || family_revoked {
        return RefreshState::Dead;
    }
    match user {
        Some(u) if !u.disabled && row.generation == u.credential_generation => {
            RefreshState::Live(u)
        }
        _ => RefreshState::Dead,
    }
}

/// The stored token behind `presented` and its state, read at once.
fn read(
    conn: &mut AnyConnection,
    presented: &Secret,
    now: i64,
) -> diesel::QueryResult<Option<(RefreshToken, RefreshState)>> {
    Ok(
        refresh_tokens::find_with_user(conn, &presented.hash())?.map(
            |(row, user, family_revoked)| {
                let state = state(&row, user, family_revoked, now);
                (row, state)
            },
        ),
    )
}

/// The live token behind `presented`, with its user; `None` otherwise.
pub fn live(
    conn: &mut AnyConnection,
    presented: &Secret,
    now: i64,
) -> diesel::QueryResult<Option<(RefreshToken, User)>> {
    Ok(match read(conn, presented, now)? {
        Some((row, RefreshState::Live(user))) => Some((row, user)),
        _ => None,
    })
}

/// What reading a presented token found, before any write.
pub enum Found {
    /// Live, for this client: to be rotated ([`crate::db::Db::rotate`]).
    Live {
        /// The token as stored.
        token: RefreshToken,
        /// Its user.
        user: User,
        /// The scopes the user's roles grant now.
        scopes: BTreeSet<String>,
    },
    /// Exchanged before: revoke its family with [`reuse`].
    Used(RefreshToken),
    /// Unknown, another client's, revoked or expired: nothing to write.
    Invalid,
}

/// Reads what `presented` is for `client_id`, without writing, together
/// with that client's record (for the caller to authenticate; `None` if
/// unregistered): the reads a refresh needs, in one query on a connection
/// thread, so that the write itself (on SQLite, the single writer's
/// time) is only the claim and the successor.
pub fn look_up(
    conn: &mut AnyConnection,
    presented: &Secret,
    client_id: &str,
    now: i64,
) -> diesel::QueryResult<(Option<Client>, Found)> {
    let Some((client, read)) =
        refresh_tokens::find_for_refresh(conn, client_id, &presented.hash())?
    else {
        return Ok((None, Found::Invalid));
    };
    let Some(read) = read else {
        return Ok((Some(client), Found::Invalid));
    };
    let (row, scopes) = (read.token, read.scopes);
    // A token works only for the client it was issued to (§6); another
    // client presenting it proves nothing about reuse.
    if row.client_id != client_id {
        return Ok((Some(client), Found::Invalid));
    }
    let found = match state(&row, read.user, read.family_revoked, now) {
        RefreshState::Live(user) => Found::Live {
            token: row,
            user,
            scopes,
        },
        RefreshState::Used => Found::Used(row),
        RefreshState::Dead => Found::Invalid,
    };
    Ok((Some(client), found))
}

/// A reuse detected and its family revoked.
pub struct Reuse {
    /// The token presented again.
    pub token: RefreshToken,
    /// How many tokens of its family the revocation ended.
    pub revoked: usize,
}

impl Reuse {
    /// Writes the audit record. Call it once the revocation is committed:
    /// a record written inside the transaction would stand even if the
    /// commit failed and nothing was revoked.
    pub fn audit(&self) {
        let t = &self.token;
        crate::audit::refresh_reused(&t.user_id, &t.client_id, &t.family_id, self.revoked);
    }
}

/// Inside the write transaction: a rotated token was presented again, so
/// its whole family is revoked (RFC 9700 §4.14.2).
pub fn reuse(
    conn: &mut AnyConnection,
    token: RefreshToken,
    now: i64,
) -> diesel::QueryResult<Reuse> {
    let revoked = refresh_tokens::revoke_family(conn, &token.family_id, now)?;
    Ok(Reuse { token, revoked })
}
