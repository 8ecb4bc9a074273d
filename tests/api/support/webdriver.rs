//! A real browser for the page tests: headless Chromium driven by
//! chromedriver over the W3C WebDriver protocol
//! (<https://www.w3.org/TR/webdriver2/>).
//!
//! The client is the few WebDriver commands the tests need, sent with the
//! `reqwest` that the tests already build; a WebDriver crate (fantoccini)
//! would add hyper's client stack and more to every test build for the
//! same dozen requests.
//!
//! ```ignore
//! let Some(chrome) = Chrome::start("my-test").await else { return };
//! chrome.goto(&app.url("/login")).await;
//! chrome.fill("username", "alice").await;
//! chrome.fill("password", "correct horse").await;
//! chrome.click("button[type=submit]").await; // waits for the next page
//! assert!(chrome.current_url().await.ends_with("/console"));
//! chrome.screenshot("console").await; // target/screenshots/my-test-console.png
//! ```
//!
//! With `AUTHD_SCREENSHOTS=1`, [`Chrome::screenshot_for_docs`] also
//! refreshes the README's pictures under `docs/screenshots/`.
//!
//! Each [`Chrome`] has its own chromedriver on a free port and a fresh
//! profile directory; dropping it ends the browser and the driver. When
//! Chromium or chromedriver is not installed the test is skipped with a
//! message, except under `CI=true`, where that is a failure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::support::helpers::command;

/// The W3C name of an element reference in a response.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's flags: headless, no sandbox (containers run as root), and
/// nothing that talks to the network on its own or keeps state between
/// runs.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// The window's size unless a test asks for another.
const WINDOW: (u32, u32) = (1200, 1000);

/// How long chromedriver may take to answer its first status request.
const DRIVER_START: Duration = Duration::from_secs(30);

/// How long a click may take to bring the next page.
const NAVIGATION: Duration = Duration::from_secs(20);

/// A headless Chromium with one open window.
pub struct Chrome {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    driver_addr: String,
    session_id: String,
    driver: Child,
    name: String,
    _profile: tempfile::TempDir,
}

/// `name` as found on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Where screenshots go: `target/screenshots/` (next to the tests' own
/// temporary folder, so that it follows CARGO_TARGET_DIR).
pub fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("screenshots")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port for chromedriver")
}

impl Chrome {
    /// Starts chromedriver and Chromium for the test `name` (which
    /// prefixes its screenshots). `None`, after saying so on stderr, when
    /// they are not installed and `CI` is not `true`.
    pub async fn start(name: &str) -> Option<Chrome> {
        Chrome::start_sized(name, WINDOW).await
    }

    /// [`Chrome::start`] with a window of `(width, height)` (a long page
    /// shot whole: headless Chromium shoots the window).
    pub async fn start_sized(name: &str, (width, height): (u32, u32)) -> Option<Chrome> {
        let (Some(chromium), Some(chromedriver)) = (
            on_path("chromium").or_else(|| on_path("chromium-browser")),
            on_path("chromedriver"),
        ) else {
            let message = "browser test skipped: install chromium and chromium-driver \
                           (apt-get install -y chromium chromium-driver) to run it";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but {message}");
            }
            let _ = writeln!(std::io::stderr(), "{message}");
            return None;
        };
        let port = free_port();
        let driver = command(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let driver_addr = format!("127.0.0.1:{port}");
        let base = format!("http://{driver_addr}");
        wait_ready(&http, &base).await;
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},{height}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let started = send(http.post(format!("{base}/session")).json(&caps)).await;
        let session_id = started["sessionId"]
            .as_str()
            .expect("a WebDriver session id")
            .to_string();
        Some(Chrome {
            session: format!("{base}/session/{session_id}"),
            http,
            driver_addr,
            session_id,
            driver,
            name: name.to_string(),
            _profile: profile,
        })
    }

    async fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.session);
        send(self.http.get(url)).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        send(self.http.post(url).json(&body)).await
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The address of the page shown.
    pub async fn current_url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The path (and query) of the page shown.
    pub async fn current_path(&self) -> String {
        let url = self.current_url().await;
        let parsed = reqwest::Url::parse(&url).expect("the browser's URL");
        match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        }
    }

    /// The page's HTML as the browser holds it now.
    pub async fn source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Reloads the page.
    pub async fn refresh(&self) {
        self.post("/refresh", json!({})).await;
    }

    /// Goes back one page in the history.
    pub async fn back(&self) {
        self.post("/back", json!({})).await;
    }

    /// The first element matching the CSS selector, if any.
    pub async fn find(&self, css: &str) -> Option<String> {
        let url = format!("{}/element", self.session);
        let res = self
            .http
            .post(url)
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .expect("chromedriver answers");
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        let body: Value = res.json().await.expect("a WebDriver answer");
        body["value"][ELEMENT_KEY].as_str().map(str::to_string)
    }

    async fn element(&self, css: &str) -> String {
        self.find(css)
            .await
            .unwrap_or_else(|| panic!("{}: no element {css} on the page", self.name))
    }

    /// Types `value` into the field `name`, replacing what it held.
    pub async fn fill(&self, name: &str, value: &str) {
        self.fill_css(&format!("[name=\"{name}\"]"), value).await;
    }

    /// Types `value` into the field the CSS selector finds.
    pub async fn fill_css(&self, css: &str, value: &str) {
        let el = self.element(css).await;
        self.post(&format!("/element/{el}/clear"), json!({})).await;
        self.post(&format!("/element/{el}/value"), json!({ "text": value }))
            .await;
    }

    /// Clicks the element the CSS selector finds (a link, or a button
    /// that submits a form) and waits until the next page has replaced
    /// this one: WebDriver's click does not reliably wait for a navigation
    /// (the spec only says "try"), and a form answered on the same URL
    /// (a refused POST) would look unchanged.
    pub async fn click(&self, css: &str) {
        let page = self.element("html").await;
        self.press(css).await;
        let deadline = Instant::now() + NAVIGATION;
        loop {
            // The old document's root turns stale once the new one is in.
            let url = format!("{}/element/{page}/name", self.session);
            let res = self
                .http
                .get(url)
                .send()
                .await
                .expect("chromedriver answers");
            if !res.status().is_success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: clicking {css} led to no new page within {NAVIGATION:?}",
                self.name
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// On the login page: types `username` and `password` and signs in,
    /// waiting for the page that follows.
    pub async fn sign_in(&self, username: &str, password: &str) {
        let at = self.current_path().await;
        assert!(
            at.starts_with("/login"),
            "{}: not the login page: {at}",
            self.name
        );
        self.fill("username", username).await;
        self.fill("password", password).await;
        self.click("button[type=submit]").await;
    }

    /// Clicks the element the CSS selector finds and returns at once (a
    /// checkbox, or anything that does not load a page).
    pub async fn press(&self, css: &str) {
        let el = self.element(css).await;
        self.post(&format!("/element/{el}/click"), json!({})).await;
    }

    /// The current `value` of the input the CSS selector finds.
    pub async fn value(&self, css: &str) -> String {
        let el = self.element(css).await;
        let v = self.get(&format!("/element/{el}/property/value")).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The visible text of the element the CSS selector finds.
    pub async fn text(&self, css: &str) -> String {
        let el = self.element(css).await;
        let v = self.get(&format!("/element/{el}/text")).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Saves a PNG of the window as `target/screenshots/NAME-what.png`.
    pub async fn screenshot(&self, what: &str) -> PathBuf {
        self.save_png(what, "/screenshot".to_string()).await
    }

    async fn save_png(&self, what: &str, command: String) -> PathBuf {
        let png = self.get(&command).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("a base64 screenshot"))
            .expect("base64");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        let path = dir.join(format!("{}-{what}.png", self.name));
        std::fs::write(&path, bytes).expect("the screenshot is saved");
        path
    }

    /// [`Chrome::screenshot`], and with `AUTHD_SCREENSHOTS=1` a copy as
    /// `docs/screenshots/FILE.png`, the README's picture of the page.
    /// Off by default, so that test runs do not rewrite tracked files.
    pub async fn screenshot_for_docs(&self, what: &str, file: &str) {
        let shot = self.screenshot(what).await;
        for_docs(&shot, file);
    }
}

/// With `AUTHD_SCREENSHOTS=1`, copies `shot` to `docs/screenshots/FILE.png`.
fn for_docs(shot: &Path, file: &str) {
    if std::env::var("AUTHD_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::copy(shot, docs.join(format!("{file}.png")))
            .expect("the screenshot is copied into docs/screenshots");
    }
}

/// A virtual authenticator of the browser (W3C WebAuthn Level 2 §11):
/// a passkey device the tests control.
pub struct Authenticator {
    id: String,
}

impl Chrome {
    /// Adds a virtual authenticator that holds passkeys: CTAP2 on an
    /// internal transport, resident keys, user verification that always
    /// passes (WebAuthn Level 2 §11.3).
    pub async fn add_authenticator(&self) -> Authenticator {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        let id = self.post("/webauthn/authenticator", options).await;
        Authenticator {
            id: id.as_str().expect("an authenticator id").to_string(),
        }
    }

    /// The credentials the authenticator holds (§11.7), as WebDriver
    /// describes them (`credentialId`, `isResidentCredential`, `rpId`,
    /// `userHandle`, `signCount`, ...).
    pub async fn credentials(&self, a: &Authenticator) -> Vec<Value> {
        let path = format!("/webauthn/authenticator/{}/credentials", a.id);
        let list = self.get(&path).await;
        list.as_array().cloned().unwrap_or_default()
    }

    /// Sets whether the authenticator's user verification passes
    /// (§11.10).
    pub async fn set_user_verified(&self, a: &Authenticator, verified: bool) {
        let path = format!("/webauthn/authenticator/{}/uv", a.id);
        self.post(&path, json!({ "isUserVerified": verified }))
            .await;
    }

    /// Waits until the element the CSS selector finds shows text (a
    /// script's message), and returns it.
    pub async fn wait_for_text(&self, css: &str) -> String {
        let deadline = Instant::now() + NAVIGATION;
        loop {
            let text = self.text(css).await;
            if !text.is_empty() {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {css} showed no text within {NAVIGATION:?}",
                self.name
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Sends a WebDriver command and returns its `value`; a WebDriver error
/// fails the test with its message.
async fn send(req: reqwest::RequestBuilder) -> Value {
    let res = req.send().await.expect("chromedriver answers");
    let status = res.status();
    let body: Value = res.json().await.expect("a WebDriver answer");
    if !status.is_success() {
        panic!(
            "WebDriver error {status}: {} ({})",
            body["value"]["error"], body["value"]["message"]
        );
    }
    body["value"].clone()
}

/// Polls chromedriver's status until it is ready.
async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + DRIVER_START;
    loop {
        if let Ok(res) = http.get(format!("{base}/status")).send().await {
            if let Ok(body) = res.json::<Value>().await {
                if body["value"]["ready"] == json!(true) {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start within {DRIVER_START:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for Chrome {
    /// Ends the session (which closes Chromium), then the driver. Drop
    /// cannot wait on the async client, so the DELETE is written by hand.
    fn drop(&mut self) {
        if let Ok(mut s) = TcpStream::connect(&self.driver_addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session_id, self.driver_addr
            );
            if s.write_all(request.as_bytes()).is_ok() {
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
