//! What a client's registration must satisfy, checked alike when it is
//! added ([`super::clients::add`]) and when it is changed
//! ([`super::clients::update`]), so that an update cannot make a client
//! that `add` would refuse.

use super::ManageError;
use crate::grant_type::GrantType;
use crate::names;
use crate::redirect_uri;

/// Longest client name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Most redirect URIs one client may have.
pub const MAX_REDIRECT_URIS: usize = 10;

/// Longest redirect URI, in bytes (what browsers and proxies reliably
/// carry in a URL).
pub const MAX_REDIRECT_URI_BYTES: usize = 2000;

/// Longest client id an administrator may choose, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// The name, trimmed: 1 to [`MAX_NAME_CHARS`] characters, spaces allowed
/// but no other whitespace and no invisible or direction-changing
/// character ([`names::refused_in_display`]): the consent page shows it to
/// users, and it must read as what it is.
pub(super) fn check_name(name: &str) -> Result<&str, ManageError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ManageError::Invalid(format!(
            "client name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(names::refused_in_display) {
        return Err(ManageError::Invalid(format!(
            "client name '{}' must not contain control characters, line breaks, or invisible \
             or text-direction characters (such as zero-width spaces or U+202E)",
            names::escape(name)
        )));
    }
    Ok(name)
}

/// A client id an administrator chose (`--client-id`): 1 to
/// [`MAX_CLIENT_ID_CHARS`] ASCII letters, digits, `-`, `_` and `.`, which
/// need no escaping in a URL, a form or HTTP Basic credentials.
pub(super) fn check_client_id(id: &str) -> Result<(), ManageError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.chars().count() > MAX_CLIENT_ID_CHARS || !id.chars().all(allowed) {
        return Err(ManageError::Invalid(format!(
            "client id '{}' must be 1 to {MAX_CLIENT_ID_CHARS} ASCII letters, digits, '-', '_' \
             or '.'",
            names::escape(id)
        )));
    }
    Ok(())
}

/// The grants named, sorted and each once; `password refresh_token` when
/// none is named.
pub(super) fn parse_grants(given: &[String]) -> Result<Vec<GrantType>, ManageError> {
    let mut grants: Vec<GrantType> = if given.is_empty() {
        vec![GrantType::Password, GrantType::RefreshToken]
    } else {
        given
            .iter()
            .map(|g| g.parse().map_err(ManageError::Invalid))
            .collect::<Result<_, _>>()?
    };
    grants.sort();
    grants.dedup();
    Ok(grants)
}

/// The redirect URIs, each checked against the one rule
/// ([`redirect_uri::check`]) and their number and length bounded: every
/// authorization request reads and matches them, and the console lets any
/// user register clients. Repeats next to each other are dropped.
pub(super) fn check_redirect_uris(uris: &[String]) -> Result<Vec<String>, ManageError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(ManageError::Invalid(format!(
            "a client may have at most {MAX_REDIRECT_URIS} redirect URIs ({} given)",
            uris.len()
        )));
    }
    if let Some(long) = uris.iter().find(|u| u.len() > MAX_REDIRECT_URI_BYTES) {
        let start: String = long.chars().take(40).collect();
        return Err(ManageError::Invalid(format!(
            "redirect URI '{}…' is longer than {MAX_REDIRECT_URI_BYTES} bytes",
            names::escape(&start)
        )));
    }
    for uri in uris {
        redirect_uri::check(uri).map_err(|refused| ManageError::Invalid(refused.to_string()))?;
    }
    let mut uris = uris.to_vec();
    uris.dedup();
    Ok(uris)
}

/// The logout URIs (docs/interface.md "Logout", "Back-channel logout"):
/// post-logout redirect URIs under the redirect URI rule and its bounds,
/// without repeats; a back-channel URI https or loopback http
/// ([`redirect_uri::check_backchannel`]). Returns the former.
pub(super) fn check_logout_uris(
    post_logout: &[String],
    backchannel: Option<&str>,
) -> Result<Vec<String>, ManageError> {
    let mut uris: Vec<String> = Vec::new();
    for uri in post_logout {
        if !uris.contains(uri) {
            uris.push(uri.clone());
        }
    }
    let uris = check_redirect_uris(&uris)?;
    if let Some(uri) = backchannel {
        if uri.len() > MAX_REDIRECT_URI_BYTES {
            return Err(ManageError::Invalid(format!(
                "--backchannel-logout-uri is longer than {MAX_REDIRECT_URI_BYTES} bytes"
            )));
        }
        redirect_uri::check_backchannel(uri)
            .map_err(|refused| ManageError::Invalid(refused.to_string()))?;
    }
    Ok(uris)
}

/// The grants, the kind of client and its redirect URIs together: a
/// public client cannot use client_credentials, and authorization_code
/// needs somewhere to send the code.
pub(super) fn check_fits(
    public: bool,
    grants: &[GrantType],
    redirect_uris: &[String],
) -> Result<(), ManageError> {
    if public && grants.contains(&GrantType::ClientCredentials) {
        return Err(ManageError::Invalid(
            "a public client cannot use client_credentials (drop --public or the grant)".into(),
        ));
    }
    if grants.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(ManageError::Invalid(
            "authorization_code needs at least one --redirect-uri".into(),
        ));
    }
    Ok(())
}

/// The audience given, trimmed; an empty one is refused.
pub(super) fn check_audience(audience: Option<&str>) -> Result<Option<String>, ManageError> {
    match audience.map(str::trim) {
        Some("") => Err(ManageError::Invalid("--audience must not be empty".into())),
        other => Ok(other.map(str::to_string)),
    }
}

/// The audiences a client may introspect: each one value without spaces
/// (they are stored space-separated), and only for a confidential client:
/// a public one cannot prove who is asking (RFC 7662 §4).
pub(super) fn check_introspects(
    public: bool,
    introspects: &[String],
) -> Result<Vec<String>, ManageError> {
    let mut audiences: Vec<String> = Vec::new();
    for aud in introspects {
        let aud = aud.trim();
        if aud.is_empty() {
            return Err(ManageError::Invalid(
                "--introspects must not be empty".into(),
            ));
        }
        if aud.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ManageError::Invalid(format!(
                "--introspects '{}' must be one audience, without spaces (repeat the flag for more)",
                aud.escape_debug()
            )));
        }
        if !audiences.iter().any(|a| a == aud) {
            audiences.push(aud.to_string());
        }
    }
    if public && !audiences.is_empty() {
        return Err(ManageError::Invalid(
            "a public client cannot introspect other clients' tokens (drop --public or --introspects)"
                .into(),
        ));
    }
    Ok(audiences)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_client_id_holds_only_url_safe_characters() {
        for good in [
            "billing-api",
            "svc_1.prod",
            "A",
            &"x".repeat(MAX_CLIENT_ID_CHARS),
        ] {
            assert!(check_client_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "has space",
            "slash/id",
            "colon:id",
            "ünïcode",
            "percent%20",
            &"x".repeat(MAX_CLIENT_ID_CHARS + 1),
        ] {
            assert!(check_client_id(bad).is_err(), "{bad:?}");
        }
    }
}
