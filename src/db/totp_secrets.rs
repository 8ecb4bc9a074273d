//! The `totp_secrets` table: a user's confirmed TOTP secret, sealed
//! (`crate::mfa::sealed`), and the last time step accepted.

use diesel::prelude::*;

use super::schema::totp_secrets as t;
use super::AnyConnection;

/// A confirmed TOTP secret. No `Debug`: it holds the sealed secret.
#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = t)]
pub struct TotpRow {
    /// Whose it is.
    pub user_id: String,
    /// The secret, sealed under the key file.
    pub secret_sealed: String,
    /// The last time step whose code was accepted (RFC 6238 §5.2).
    pub last_step: i64,
    /// When it was confirmed (Unix seconds).
    pub created_at: i64,
}

/// The user's secret, if they have one.
pub fn find(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Option<TotpRow>> {
    t::table
        .find(user_id)
        .select(TotpRow::as_select())
        .get_result(conn)
        .optional()
}

/// Stores a confirmed secret; fails with a unique violation if the user
/// has one already.
pub fn insert(conn: &mut AnyConnection, row: &TotpRow) -> QueryResult<()> {
    diesel::insert_into(t::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Accepts the code of `step` for the secret that was checked: only if
/// it is still the user's secret and no code of this step or a later one
/// was accepted. The affected-row count decides, so two instances cannot
/// both accept one code.
pub fn accept_step(
    conn: &mut AnyConnection,
    user_id: &str,
    secret_sealed: &str,
    step: i64,
) -> QueryResult<bool> {
    diesel::update(
        t::table
            .find(user_id)
            .filter(t::secret_sealed.eq(secret_sealed))
            .filter(t::last_step.lt(step)),
    )
    .set(t::last_step.eq(step))
    .execute(conn)
    .map(|n| n == 1)
}

/// Removes the user's secret; whether there was one.
pub fn delete(conn: &mut AnyConnection, user_id: &str) -> QueryResult<bool> {
    diesel::delete(t::table.find(user_id))
        .execute(conn)
        .map(|n| n > 0)
}
