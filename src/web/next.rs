//! Where a browser goes after logging in: the `next` query parameter, only
//! when it is a path on this server. Anything that a browser could read as
//! another site (`//evil.example`, `/\evil.example`, `https://…`, or a
//! path that turns into one once the browser drops tabs and newlines) is
//! an open redirect and is ignored.

use actix_web::HttpRequest;

use crate::http::urlencoded;

/// Where a login goes when it names no (acceptable) `next`.
pub const DEFAULT: &str = "/";

/// The longest `next` kept; a real path of ours is far shorter.
const MAX_LEN: usize = 2048;

/// `candidate` if it is a local path: it starts with one `/` followed by
/// neither `/` nor `\`, and holds only printable ASCII without `\`
/// (browsers treat `\` as `/`, and ignore tabs and newlines in URLs).
pub fn local_path(candidate: &str) -> Option<&str> {
    let b = candidate.as_bytes();
    let rooted = b.first() == Some(&b'/') && !matches!(b.get(1), Some(b'/' | b'\\'));
    let plain = b.iter().all(|&c| c.is_ascii_graphic() && c != b'\\');
    (rooted && plain && b.len() <= MAX_LEN).then_some(candidate)
}

/// The request's `next` query parameter, if it is a local path (one
/// `next`, decoded strictly).
pub fn from_query(req: &HttpRequest) -> Option<String> {
    unique(req, "next").filter(|n| local_path(n).is_some())
}

/// The login page's `login_hint` query parameter (one, decoded strictly,
/// at most 256 bytes): the username an app suggested.
pub fn login_hint(req: &HttpRequest) -> Option<String> {
    unique(req, "login_hint").filter(|h| h.len() <= 256)
}

/// The query parameter `name` if it is there once.
fn unique(req: &HttpRequest, name: &str) -> Option<String> {
    let mut found = None;
    for pair in urlencoded::pairs(req.query_string().as_bytes()) {
        match pair {
            Ok((n, value)) if n == name => {
                if found.is_some() {
                    return None;
                }
                found = Some(value);
            }
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    found
}

/// The login page's URL, carrying `next` when there is one.
pub fn login_url(next: Option<&str>) -> String {
    with_next("/login", next)
}

/// `path` (one of our pages, without a query), carrying `next` when
/// there is one.
pub fn with_next(path: &str, next: Option<&str>) -> String {
    match next.and_then(local_path) {
        Some(n) => format!(
            "{path}?next={}",
            url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
        ),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_local_paths_are_kept() {
        for good in ["/", "/console", "/console?tab=clients&x=%2F%2Fy", "/a//b"] {
            assert_eq!(local_path(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "console",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            "/a\\b",
            "/é",
            " /x",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(MAX_LEN))), None);
    }

    #[test]
    fn next_comes_from_the_query_once_and_decoded() {
        let req = TestRequest::with_uri("/login?next=%2Fconsole%3Fa%3D1").to_http_request();
        assert_eq!(from_query(&req).as_deref(), Some("/console?a=1"));
        for uri in [
            "/login?next=%2F%2Fevil.example",
            "/login?next=https%3A%2F%2Fevil.example",
            "/login?next=%2F%5Cevil",
            "/login?next=/a&next=/b",
            "/login?next=%FF",
            "/login",
        ] {
            let req = TestRequest::with_uri(uri).to_http_request();
            assert_eq!(from_query(&req), None, "{uri}");
        }
    }

    #[test]
    fn login_url_encodes_next() {
        assert_eq!(login_url(None), "/login");
        assert_eq!(login_url(Some("//evil")), "/login");
        assert_eq!(
            login_url(Some("/console?a=1&b=2")),
            "/login?next=%2Fconsole%3Fa%3D1%26b%3D2"
        );
    }
}
