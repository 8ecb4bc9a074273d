//! The redirect URI rule: which URIs a client may register, and so the
//! only places authd ever sends a browser back to. One function,
//! [`check`], used when a client is registered (the CLI and the console)
//! and again at the authorization endpoint, so that a URI stored under an
//! older, looser rule is never redirected to.
//!
//! [`check_backchannel`] holds a back-channel logout URI (which the
//! server posts to, not a browser) to the web part of the same rule.
//!
//! Accepted: `https`; `http` only on a loopback address (RFC 8252 §7.3,
//! §8.3); a private-use scheme in reverse-domain form for native apps
//! (RFC 8252 §7.1). Never a fragment (RFC 6749 §3.1.2), a user name or
//! password (a look-alike host, RFC 3986 §7.6), or a scheme that runs or
//! shows content in the browser itself (`javascript:`, `data:`, …), which
//! would turn an error redirect into script or a forged page.

use std::net::Ipv6Addr;

use url::{Host, Url};

/// What the refusals suggest instead.
const USE_INSTEAD: &str = "use https, http on a loopback address (127.0.0.1, [::1], localhost), \
                           or a private-use scheme like com.example.app:/callback";

/// Schemes a browser handles itself, or that are not redirect targets at
/// all: never a redirect URI, whatever else is allowed.
const REFUSED_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "data",
    "blob",
    "file",
    "filesystem",
    "about",
    "view-source",
    "ftp",
    "ws",
    "wss",
];

/// Why a redirect URI is refused. Each message is one line that says
/// what to register instead; the URI in it is escaped (no line breaks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not an absolute URI (RFC 6749 §3.1.2).
    #[error("redirect URI '{0}' is not an absolute URI: {USE_INSTEAD}")]
    NotAbsolute(String),
    /// Whitespace, a control character or a backslash: parsers disagree
    /// on what they mean (the WHATWG parser drops some, reads `\` as `/`),
    /// so what was registered would not be what the browser is sent to.
    #[error(
        "redirect URI '{0}' must not contain spaces, control characters or backslashes: \
         percent-encode them"
    )]
    Characters(String),
    /// A scheme that is neither https, loopback http nor private-use.
    #[error("redirect URI '{0}' is refused: {USE_INSTEAD}")]
    Scheme(String),
    /// `http` to a host other than loopback: the code would travel in
    /// clear text (RFC 8252 §8.3).
    #[error(
        "redirect URI '{0}' is refused: http is only for a loopback address \
         (127.0.0.1, [::1], localhost); use https"
    )]
    HttpNotLoopback(String),
    /// `user:password@` before the host (RFC 3986 §7.6: it makes
    /// `https://app.example@evil.example` look like another site).
    #[error("redirect URI '{0}' must not contain a user name or password (…@): remove them")]
    Userinfo(String),
    /// A back-channel logout URI that is not `https` or loopback `http`.
    #[error(
        "back-channel logout URI '{0}' is refused: use https, or http on a loopback address \
         (127.0.0.1, [::1], localhost)"
    )]
    NotWeb(String),
    /// A fragment (RFC 6749 §3.1.2).
    #[error("redirect URI '{0}' must not contain a fragment (#…): remove it")]
    Fragment(String),
}

/// Checks `uri` against the rule (see the module documentation).
pub fn check(uri: &str) -> Result<(), Refused> {
    let shown = || uri.escape_debug().to_string();
    // Before parsing: the parser strips tabs, line breaks and surrounding
    // spaces, and would accept what it then no longer shows.
    if uri
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(Refused::Characters(shown()));
    }
    let parsed = Url::parse(uri).map_err(|_| Refused::NotAbsolute(shown()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => return Err(Refused::HttpNotLoopback(shown())),
        scheme if is_private_use(scheme) => {}
        _ => return Err(Refused::Scheme(shown())),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused::Userinfo(shown()));
    }
    if parsed.fragment().is_some() {
        return Err(Refused::Fragment(shown()));
    }
    Ok(())
}

/// Checks a `backchannel_logout_uri` (Back-Channel Logout 1.0 §2.2): a
/// URI the server itself posts to, so only `https`, or `http` on a
/// loopback address (an app on the same host); never a private-use
/// scheme, a fragment or a user name.
pub fn check_backchannel(uri: &str) -> Result<(), Refused> {
    check(uri)?;
    match Url::parse(uri) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Ok(()),
        _ => Err(Refused::NotWeb(uri.escape_debug().to_string())),
    }
}

/// `127.0.0.0/8`, `[::1]` or `localhost` (RFC 8252 §7.3 prefers the IP
/// literals; `localhost` is common enough to allow, §8.3).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        // The parser lowercases the host of an http URI.
        Some(Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// A reverse-domain scheme such as `com.example.app` (RFC 8252 §7.1):
/// at least two labels, none empty, and not one of [`REFUSED_SCHEMES`].
/// The parser has lowercased it and checked its characters.
fn is_private_use(scheme: &str) -> bool {
    !REFUSED_SCHEMES.contains(&scheme)
        && scheme.contains('.')
        && scheme.split('.').all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A variant of [`Refused`], as its constructor.
    type Why = fn(String) -> Refused;

    /// Asserts that `uri` is refused with the variant `why`.
    fn refused(uri: &str, why: Why) {
        assert_eq!(
            check(uri),
            Err(why(uri.escape_debug().to_string())),
            "{uri:?}"
        );
    }

    #[test]
    fn accepted() {
        for uri in [
            "https://app.example/cb",
            "https://app.example",
            "https://app.example:8443/cb?tenant=a&x=%20y",
            "https://10.0.0.5/cb",
            "https://[2001:db8::1]/cb",
            "https://localhost/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:9999/callback",
            "http://127.1.2.3:80/cb",
            "http://[::1]:8080/cb",
            "http://localhost:3000/cb",
            "http://LOCALHOST/cb",
            "com.example.app:/oauth2redirect/example-provider",
            "com.example.app://callback",
            "com.example.app:callback",
            "io.github.someone.tool:/cb?x=1",
        ] {
            assert_eq!(check(uri), Ok(()), "{uri}");
        }
    }

    #[test]
    fn refused_schemes() {
        for uri in [
            "javascript:alert(1)",
            "JavaScript:alert(document.domain)//https://app.example/cb",
            "vbscript:msgbox(1)",
            "data:text/html,<script>alert(1)</script>",
            "data:text/html;base64,PHNjcmlwdD4=",
            "blob:https://app.example/1234",
            "file:///etc/passwd",
            "file://host/share",
            "filesystem:https://app.example/temporary/x",
            "about:blank",
            "view-source:https://app.example/",
            "ftp://files.example/cb",
            "ws://127.0.0.1/cb",
            "wss://app.example/cb",
            "mailto:someone@example.com",
            "myapp:/cb",
            "myapp://cb",
            "com.:/cb",
            "urn:ietf:wg:oauth:2.0:oob",
        ] {
            refused(uri, Refused::Scheme);
        }
    }

    #[test]
    fn http_only_on_loopback() {
        for uri in [
            "http://app.example/cb",
            "http://evil.example/cb",
            "http://10.0.0.1/cb",
            "http://192.168.1.1/cb",
            "http://0.0.0.0/cb",
            "http://[::]/cb",
            "http://[::ffff:127.0.0.1]/cb",
            "http://localhost.evil.example/cb",
            "http://localhost./cb",
            "http://127.0.0.1.nip.io/cb",
        ] {
            refused(uri, Refused::HttpNotLoopback);
        }
    }

    #[test]
    fn no_userinfo_fragment_or_odd_characters() {
        let cases: &[(&str, Why)] = &[
            ("https://user:pw@app.example/cb", Refused::Userinfo),
            ("https://app.example@evil.example/cb", Refused::Userinfo),
            ("http://user@127.0.0.1/cb", Refused::Userinfo),
            ("com.example.app://user@cb", Refused::Userinfo),
            ("https://app.example/cb#frag", Refused::Fragment),
            ("https://app.example/cb#", Refused::Fragment),
            ("com.example.app:/cb#x", Refused::Fragment),
            ("https://app.example/c b", Refused::Characters),
            (" https://app.example/cb", Refused::Characters),
            ("https://app.example/cb\n", Refused::Characters),
            ("https://app.exa\tmple/cb", Refused::Characters),
            ("https://evil.example\\@app.example/cb", Refused::Characters),
            ("/relative", Refused::NotAbsolute),
            ("app.example/cb", Refused::NotAbsolute),
            ("", Refused::NotAbsolute),
            ("https://", Refused::NotAbsolute),
        ];
        for (uri, why) in cases {
            refused(uri, *why);
        }
    }

    #[test]
    fn a_backchannel_uri_is_https_or_loopback_http() {
        for uri in [
            "https://app.example/logout",
            "https://app.example:8443/bc?tenant=a",
            "http://127.0.0.1:9999/bc",
            "http://[::1]/bc",
            "http://localhost/bc",
        ] {
            assert_eq!(check_backchannel(uri), Ok(()), "{uri}");
        }
        let refused = |uri: &str| check_backchannel(uri).unwrap_err();
        assert!(matches!(refused("com.example.app:/bc"), Refused::NotWeb(_)));
        assert!(matches!(
            refused("http://app.example/bc"),
            Refused::HttpNotLoopback(_)
        ));
        assert!(matches!(
            refused("https://app.example/bc#x"),
            Refused::Fragment(_)
        ));
        assert!(matches!(refused("javascript:x"), Refused::Scheme(_)));
    }

    #[test]
    fn messages_are_one_line_and_say_what_to_do() {
        let e = check("javascript:x").unwrap_err().to_string();
        assert_eq!(
            e,
            "redirect URI 'javascript:x' is refused: use https, http on a loopback address \
             (127.0.0.1, [::1], localhost), or a private-use scheme like \
             com.example.app:/callback"
        );
        let e = check("https://app.example/cb\n#x").unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("https://app.example/cb\\n#x"), "{e}");
        let e = check("http://app.example/cb").unwrap_err().to_string();
        assert!(e.ends_with("use https"), "{e}");
    }
}
