//! A browser stand-in for the HTML pages: an HTTP client that keeps
//! cookies and does not follow redirects, and helpers to read forms.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};

use crate::support::fixtures::{reply, Reply};
use crate::support::helpers::TestApp;

/// One browser: its own cookies.
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<Jar>,
    base: reqwest::Url,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser::at(&app.base)
    }

    /// A browser for the server at `base` (a server process, say).
    pub fn at(base: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        Browser {
            http: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar,
            base: base.parse().expect("base URL"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    pub async fn get(&self, path: &str) -> Reply {
        reply(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        reply(
            self.http
                .post(self.url(path))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The value of one of the cookies the browser holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let header = self.jar.cookies(&self.base)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }

    /// Plants a cookie, as another site or a previous user could.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &self.base);
    }

    /// Opens the login page (with `?next=` when given) and returns it
    /// with its CSRF token.
    pub async fn login_page(&self, next: Option<&str>) -> (Reply, String) {
        let page = self.get(&login_path(next)).await;
        assert_eq!(page.status, 200, "{}", page.raw);
        let token = csrf_token(&page.raw).expect("the login page has a csrf_token");
        (page, token)
    }

    /// Fills in and submits the login form.
    pub async fn log_in(&self, username: &str, password: &str) -> Reply {
        self.log_in_to(None, username, password).await
    }

    /// [`Browser::log_in`] from `/login?next=NEXT`.
    pub async fn log_in_to(&self, next: Option<&str>, username: &str, password: &str) -> Reply {
        let (_, token) = self.login_page(next).await;
        self.post(
            &login_path(next),
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", &token),
            ],
        )
        .await
    }

    /// Who the start page says is signed in, and the token of its
    /// sign-out form.
    pub async fn signed_in(&self) -> Option<(String, String)> {
        let home = self.get("/").await;
        assert_eq!(home.status, 200, "{}", home.raw);
        let name = between(&home.raw, "Signed in as <strong>", "</strong>")?;
        Some((name, csrf_token(&home.raw).expect("a sign-out token")))
    }

    /// Signs out with the start page's form.
    pub async fn log_out(&self) -> Reply {
        let (_, token) = self.signed_in().await.expect("signed in");
        self.post("/logout", &[("csrf_token", &token)]).await
    }
}

/// `/login`, with `next` percent-encoded into the query.
pub fn login_path(next: Option<&str>) -> String {
    match next {
        Some(n) => format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
        ),
        None => "/login".to_string(),
    }
}

/// The value of the page's hidden `csrf_token` field.
pub fn csrf_token(html: &str) -> Option<String> {
    between(html, r#"name="csrf_token" value=""#, "\"")
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_string())
}

/// The `Set-Cookie` header that sets `name`, if any.
pub fn set_cookie<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The value a `Set-Cookie` header sets.
pub fn cookie_value(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap_or("");
    pair.split_once('=').map(|(_, v)| v).unwrap_or("")
}
