//! "Sign in with authd" with a relying party nobody here wrote, run
//! exactly as README.md configures it: Auth0's express-openid-connect
//! (tests/rp/, under node). Headless Chromium opens the app, signs in on
//! authd's login and consent pages, and lands back in the app signed in
//! as the user (the app verified the ID token and called UserInfo);
//! the app's logout goes through authd's end_session_endpoint with the ID
//! token as hint and back to the app, where authd asks for the password
//! again. On every backend.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};

use crate::support::fixtures::{role, user, ClientSpec};
use crate::support::helpers::{authd_json, command, on_every_backend, TestApp};
use crate::support::webdriver::Chrome;

/// The relying party's folder.
fn rp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/rp")
}

/// The Express app, killed when dropped.
struct Rp {
    child: Child,
    base: String,
}

impl Drop for Rp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts the app for `issuer` with the client's credentials, or `None`
/// (saying why) when node or its modules are missing and `CI` is not
/// `true` (.ci/run installs them: `npm ci --prefix tests/rp`).
fn start_rp(port: u16, issuer: &str, client_id: &str, secret: &str) -> Option<Rp> {
    let ready = rp_dir().join("node_modules/express-openid-connect");
    if !ready.exists()
        || std::process::Command::new("node")
            .arg("-v")
            .output()
            .is_err()
    {
        let message = "express_rp skipped: run `npm ci --prefix tests/rp` (needs node)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {message}"
        );
        eprintln!("{message}");
        return None;
    }
    let mut child = command("node")
        .arg(rp_dir().join("app.js"))
        .env("PORT", port.to_string())
        .env("ISSUER", issuer)
        .env("CLIENT_ID", client_id)
        .env("CLIENT_SECRET", secret)
        .env(
            "SESSION_SECRET",
            "a test session secret of the relying party",
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("node's output");
    assert_eq!(line.trim(), "listening", "the relying party did not start");
    Some(Rp {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

#[actix_web::test]
async fn express_openid_connect_signs_in_reads_userinfo_and_logs_out() {
    on_every_backend(|db| async move {
        let at = |what: &str| format!("[{}] {what}", db.label());
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        role(&db, "member", "openid profile email");
        let alice = user(&db, "alice", "correct horse", &["member"]);
        authd_json(
            &db,
            &[
                "user",
                "set",
                "alice",
                "--name",
                "Alice Liddell",
                "--email",
                "alice@example.com",
            ],
            None,
        );
        // The registration README.md gives for this app.
        let c = ClientSpec::new(&db)
            .name("Wonderland")
            .grants(&["authorization_code", "refresh_token"])
            .scopes("openid profile email")
            .redirect_uri(&format!("{base}/callback"))
            .post_logout_redirect_uri(&base)
            .create();
        let app = TestApp::spawn(&db).await;
        let secret = c.secret.clone().expect("confidential");
        let Some(rp) = start_rp(port, &app.issuer, &c.id, &secret) else {
            return;
        };
        let Some(chrome) = Chrome::start(&format!("express-rp-{}", db.label())).await else {
            return;
        };

        chrome.goto(&rp.base).await;
        chrome.sign_in("alice", "correct horse").await;
        let consent = chrome.source().await;
        assert!(
            consent.contains("Authorize Wonderland"),
            "{}",
            at("consent")
        );
        chrome
            .click("button[name=\"decision\"][value=\"allow\"]")
            .await;
        let url = chrome.current_url().await;
        assert!(
            url.starts_with(&rp.base),
            "{}: at {url}",
            at("back at the app")
        );
        assert_eq!(chrome.text("#sub").await, alice, "{}", at("sub"));
        assert_eq!(
            chrome.text("#name").await,
            "Alice Liddell",
            "{}",
            at("name")
        );
        let email = chrome.text("#email").await;
        assert_eq!(email, "alice@example.com", "{}", at("UserInfo"));

        // The app's logout ends the authd session too (RP-initiated, the
        // ID token as hint): back at the app, whose page needs a sign-in,
        // authd asks for the password instead of signing alice in again.
        chrome.goto(&format!("{}/logout", rp.base)).await;
        let url = chrome.current_url().await;
        assert!(
            url.starts_with(&format!("{}/login?", app.base)),
            "{}: {url}",
            at("signed out of authd")
        );
        app.stop().await;
    })
    .await;
}
