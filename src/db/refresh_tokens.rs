//! The `refresh_tokens` table.

use diesel::prelude::*;

use super::schema::refresh_tokens;
use super::AnyConnection;

/// Revokes every live refresh token of a user (password set, disable).
pub fn revoke_for_user(conn: &mut AnyConnection, user_id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)
}
