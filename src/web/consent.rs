//! The consent page of `/oauth/authorize`: which application asks, for
//! what (each scope in words), and where the answer sends the browser.
//! Its form posts `csrf_token` and a button `decision` (`allow` or
//! `deny`) back to the same URL; no script.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::page;

/// What the consent page shows. No `Debug`: it carries the session's
/// CSRF secret.
pub struct Consent {
    /// The client's display name.
    pub client_name: String,
    /// Who is logged in.
    pub username: String,
    /// The scopes asked for (after the scope policy), sorted.
    pub scopes: Vec<String>,
    /// The redirect URI the answer goes to.
    pub redirect_uri: String,
    /// Where the form posts: the authorization request's own URL.
    pub action: String,
    /// The session's CSRF token.
    pub csrf_token: String,
}

/// One scope as a page lists it: in words, and by name.
pub struct ScopeLine {
    /// What it allows, in words ([`in_words`]).
    pub words: String,
    /// Its name.
    pub name: String,
}

impl ScopeLine {
    /// The line of `scope`.
    pub fn of(scope: &str) -> ScopeLine {
        ScopeLine {
            words: in_words(scope),
            name: scope.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<ScopeLine>,
    destination: &'a str,
    action: &'a str,
    csrf_token: &'a str,
}

/// A scope in words: `resource:action` scopes read as a sentence, a few
/// well-known names have theirs, anything else is named as it is.
pub fn in_words(scope: &str) -> String {
    if let Some((what, action)) = scope.split_once(':') {
        let what = what.replace(['_', '-', '.'], " ");
        return match action {
            "read" => format!("See your {what}"),
            "write" => format!("Create and change your {what}"),
            "delete" => format!("Delete your {what}"),
            "admin" => format!("Manage all {what}"),
            other => format!(
                "{} your {what}",
                capitalised(&other.replace(['_', '-'], " "))
            ),
        };
    }
    match scope {
        "openid" => "Confirm who you are".into(),
        "profile" => "See your profile".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access while you are away".into(),
        other => format!("Use \u{201c}{other}\u{201d}"),
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Where a form on the page may send the browser: our own origin for
/// the post, and the redirect URI's origin for the redirect that follows
/// it (browsers apply `form-action` to redirects after a form submission).
/// A URI without a host (a native app's `com.example:/cb`) is allowed by
/// its scheme.
pub fn form_targets(redirect_uri: &str) -> String {
    format!("'self' {}", destination(redirect_uri))
        .trim_end()
        .to_string()
}

/// The origin the redirect URI belongs to, or its scheme when it has no
/// host; empty if it does not parse (the registrar only binds ones that
/// do).
fn destination(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(u) => match u.origin() {
            url::Origin::Tuple(..) => u.origin().ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", u.scheme()),
        },
        Err(_) => String::new(),
    }
}

/// The page's `Content-Security-Policy`: the standard one with
/// `form-action` widened to [`form_targets`].
fn policy(redirect_uri: &str) -> String {
    page::CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        &format!("form-action {}", form_targets(redirect_uri)),
    )
}

/// The consent page (200, with the page headers).
pub fn page(consent: &Consent) -> HttpResponse {
    let mut b = page::builder(StatusCode::OK);
    b.insert_header((
        header::CONTENT_SECURITY_POLICY,
        policy(&consent.redirect_uri),
    ));
    let destination = destination(&consent.redirect_uri);
    page::html(
        b,
        &ConsentPage {
            client_name: &consent.client_name,
            username: &consent.username,
            scopes: consent.scopes.iter().map(|s| ScopeLine::of(s)).collect(),
            destination: &destination,
            action: &consent.action,
            csrf_token: &consent.csrf_token,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_as_words() {
        assert_eq!(in_words("posts:read"), "See your posts");
        assert_eq!(in_words("posts:write"), "Create and change your posts");
        assert_eq!(in_words("posts:delete"), "Delete your posts");
        assert_eq!(in_words("user_files:share"), "Share your user files");
        assert_eq!(in_words("openid"), "Confirm who you are");
        assert_eq!(in_words("reports"), "Use \u{201c}reports\u{201d}");
    }

    #[test]
    fn form_action_allows_us_and_the_redirect_origin() {
        assert_eq!(
            form_targets("https://app.example:8443/cb?x=1"),
            "'self' https://app.example:8443"
        );
        assert_eq!(
            form_targets("com.example.app:/cb"),
            "'self' com.example.app:"
        );
        let csp = policy("http://127.0.0.1:9/cb");
        assert!(
            csp.contains("form-action 'self' http://127.0.0.1:9;"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
}
