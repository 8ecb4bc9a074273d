//! The enrolment of a TOTP secret, shared by `/account/security` and the
//! enrolment a role requires at sign-in: a new secret shown as an
//! `otpauth://` URI and its QR code (rendered here as SVG, so the page
//! needs no script and no image request), sealed into the form until the
//! first code confirms it (`crate::mfa::sealed`), then stored with a
//! first set of recovery codes.

use qrcode::render::svg;
use qrcode::QrCode;

use crate::db::{totp_secrets, AnyConnection};
use crate::keys::KeyVault;
use crate::mfa::totp::{self, TotpSecret};
use crate::mfa::{self, sealed};
use crate::state::AppState;
use crate::web::error::WebError;

/// What the enrolment form shows and carries.
pub struct Setup {
    /// The `otpauth://totp/…` URI.
    pub uri: String,
    /// The URI as a QR code: an inline `<svg>` element.
    pub qr_svg: String,
    /// The secret in base32, grouped by four for typing by hand.
    pub secret_text: String,
    /// The secret sealed for the form's hidden `secret` field.
    pub sealed: String,
}

/// The name authenticator apps list the account under: the issuer's host.
fn issuer_label(state: &AppState) -> String {
    url::Url::parse(&state.issuer.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "authd".to_string())
}

/// `text` as an inline SVG QR code (no XML prologue: it sits in HTML).
fn qr_svg(text: &str) -> Result<String, WebError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| WebError::Internal(e.into()))?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(192, 192)
        .quiet_zone(true)
        .build();
    let body = svg.find("<svg").map_or(svg.as_str(), |at| &svg[at..]);
    Ok(body.replacen(
        "<svg ",
        r#"<svg role="img" aria-label="QR code of the authenticator key" "#,
        1,
    ))
}

impl Setup {
    /// The form for a new secret of `user_id` (whose name is `username`).
    pub fn new(state: &AppState, user_id: &str, username: &str) -> Result<Setup, WebError> {
        let secret = TotpSecret::generate();
        let sealed = sealed::seal_enrolment(vault(state), user_id, &secret, state.clock.now())
            .map_err(|e| WebError::Internal(e.into()))?;
        Setup::show(state, username, &secret, sealed)
    }

    /// The same form again (after a wrong code), if `sealed` is still a
    /// good enrolment of `user_id`'s.
    pub fn again(
        state: &AppState,
        user_id: &str,
        username: &str,
        sealed: &str,
    ) -> Result<Option<Setup>, WebError> {
        match opened(state, user_id, sealed) {
            Some(secret) => Setup::show(state, username, &secret, sealed.to_string()).map(Some),
            None => Ok(None),
        }
    }

    fn show(
        state: &AppState,
        username: &str,
        secret: &TotpSecret,
        sealed: String,
    ) -> Result<Setup, WebError> {
        let uri = totp::otpauth_uri(&issuer_label(state), username, secret);
        let base32 = secret.to_base32();
        let groups: Vec<&str> = base32
            .as_bytes()
            .chunks(4)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        Ok(Setup {
            qr_svg: qr_svg(&uri)?,
            uri,
            secret_text: groups.join(" "),
            sealed,
        })
    }
}

fn vault(state: &AppState) -> &KeyVault {
    state.logins.vault()
}

fn opened(state: &AppState, user_id: &str, sealed: &str) -> Option<TotpSecret> {
    sealed::open_enrolment(vault(state), user_id, sealed, state.clock.now())
}

/// Why a submitted enrolment form did not confirm.
pub enum NotConfirmed {
    /// The sealed secret was altered, another user's, or too old: show a
    /// new one.
    Stale,
    /// The code does not match the secret: show the same one again.
    WrongCode,
}

/// A secret that its first code confirmed, sealed for storage.
pub struct Confirmed {
    sealed_at_rest: String,
    step: i64,
}

/// Checks the form's `code` against the secret its `secret` field seals
/// for `user_id`.
pub fn confirm(
    state: &AppState,
    user_id: &str,
    sealed: Option<&str>,
    code: Option<&str>,
) -> Result<Result<Confirmed, NotConfirmed>, WebError> {
    let Some(secret) = sealed.and_then(|s| opened(state, user_id, s)) else {
        return Ok(Err(NotConfirmed::Stale));
    };
    let now = state.clock.now();
    let step = code.and_then(|c| secret.matching_step(c.trim(), now, i64::MIN));
    let Some(step) = step else {
        return Ok(Err(NotConfirmed::WrongCode));
    };
    let sealed_at_rest = sealed::seal_at_rest(vault(state), user_id, &secret)
        .map_err(|e| WebError::Internal(e.into()))?;
    Ok(Ok(Confirmed {
        sealed_at_rest,
        step,
    }))
}

impl Confirmed {
    /// Inside the caller's write: stores the secret as `user_id`'s, its
    /// first code's step already accepted, with a first set of recovery
    /// codes (returned, to show once); `None` if the user has a secret
    /// already (two enrolments raced, or the form was posted twice).
    pub fn store(
        &self,
        conn: &mut AnyConnection,
        user_id: &str,
        now: i64,
    ) -> Result<Option<Vec<String>>, crate::db::DbError> {
        if totp_secrets::find(conn, user_id)?.is_some() {
            return Ok(None);
        }
        let row = totp_secrets::TotpRow {
            user_id: user_id.to_string(),
            secret_sealed: self.sealed_at_rest.clone(),
            last_step: self.step,
            created_at: now,
        };
        match totp_secrets::insert(conn, &row) {
            Err(e) if crate::db::is_unique_violation(&e) => return Ok(None),
            other => other?,
        }
        Ok(Some(mfa::new_recovery_codes(conn, user_id, now)?))
    }
}
