//! The apps a user has allowed, as the user manages them on the account
//! page (docs/interface.md "OpenID Connect", "Consent is remembered").

use super::ManageError;
use crate::db::{auth_codes, consents, refresh_tokens, AnyConnection};

/// What revoking an app took away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppRevoked {
    /// Whether a remembered consent was forgotten.
    pub consent: bool,
    /// Refresh tokens revoked (every family of the user with the app).
    pub refresh_tokens: usize,
    /// Codes issued but not yet exchanged, now void.
    pub codes: usize,
}

/// Takes back what `user_id` gave `client_id`, in the caller's write
/// transaction: the remembered consent (the app's next authorization
/// shows the consent page), every refresh token of the user's families
/// with the app (`invalid_grant` from now on), and the codes it has not
/// yet exchanged (which would start new families). Other users' tokens
/// and the user's tokens of other apps are untouched. Access tokens
/// already issued are JWTs that run out on their own, within the access
/// token lifetime.
pub fn revoke_app(
    conn: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<AppRevoked, ManageError> {
    // Codes first: an exchange racing this either claimed its code before
    // (and its tokens are then revoked below) or finds it gone.
    let codes = auth_codes::delete_unused(conn, user_id, client_id)?;
    let consent = consents::forget(conn, user_id, client_id)?;
    let refresh_tokens = refresh_tokens::revoke_for_user_client(conn, user_id, client_id, now)?;
    Ok(AppRevoked {
        consent,
        refresh_tokens,
        codes,
    })
}
