//! The account page (docs/interface.md "OpenID Connect", "Consent is
//! remembered"): `GET /account` lists the apps the user allowed and no
//! one else's; Revoke forgets the consent and revokes that app's refresh
//! tokens of that user only, and needs the session's CSRF token; the
//! page lists the user's live sessions, and Sign out everywhere ends
//! them all. On every backend.

use authd::clock::Clock;

use crate::support::browser::{csrf_token, set_cookie, Browser};
use crate::support::code_flow::{
    assert_redirected_error, code_for, consent_page, exchange, logged_in, pkce, refresh, request,
    REDIRECT,
};
use crate::support::fixtures::{login_as, role, user, ClientSpec, Reply, TestClient};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};
use crate::support::process::ServerProcess;

const SCOPES: &str = "openid posts:read";

/// Role `member` with [`SCOPES`], alice and bob with it, and two apps
/// for code, password and refresh: Blog and Photos.
fn setup(db: &TestDb) -> (TestClient, TestClient) {
    role(db, "member", SCOPES);
    user(db, "alice", "correct horse", &["member"]);
    user(db, "bob", "correct horse", &["member"]);
    let app = |name: &str| {
        ClientSpec::new(db)
            .name(name)
            .grants(&["authorization_code", "password", "refresh_token"])
            .scopes(SCOPES)
            .redirect_uri(REDIRECT)
            .create()
    };
    (app("Blog"), app("Photos"))
}

/// The authorization request of `c` for [`SCOPES`], and its verifier.
fn asking(c: &TestClient, extra: &[(&str, &str)]) -> (String, String) {
    let p = pkce();
    let mut pairs = vec![("scope", SCOPES)];
    pairs.extend_from_slice(extra);
    (request(&c.id, &p.challenge, &pairs), p.verifier)
}

/// Allows `c` in `browser` (or takes the code at once when remembered)
/// and exchanges the code: a refresh token of a new family.
async fn allowed(app: &TestApp, browser: &Browser, c: &TestClient) -> String {
    let (path, verifier) = asking(c, &[]);
    let code = code_for(browser, &path).await;
    let r = exchange(app, c, &code, REDIRECT, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .into()
}

/// A refresh that works; returns the new token.
async fn refreshes(app: &TestApp, c: &TestClient, token: &str) -> String {
    let r = refresh(app, c, token).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .into()
}

/// The account page, signed in.
async fn account(browser: &Browser) -> Reply {
    let page = browser.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.raw);
    page
}

/// Posts the Revoke button of `c` with `token` as its CSRF token.
async fn revoke(browser: &Browser, c: &TestClient, token: &str) -> Reply {
    let form = [("csrf_token", token), ("client_id", c.id.as_str())];
    browser.post("/account/revoke", &form).await
}

/// The hidden field a Revoke form of `c` carries.
fn revoke_field(c: &TestClient) -> String {
    format!(r#"name="client_id" value="{}""#, c.id)
}

#[actix_web::test]
async fn the_page_lists_the_apps_the_user_allowed_and_no_one_elses() {
    on_every_backend(|db| async move {
        let (blog, photos) = setup(&db);
        let app = TestApp::spawn(&db).await;
        let (alice, bob) = (logged_in(&app, "alice").await, logged_in(&app, "bob").await);
        let none = account(&alice).await;
        assert!(
            none.raw.contains("You have not allowed any app"),
            "{}",
            none.raw
        );
        allowed(&app, &alice, &blog).await;
        allowed(&app, &bob, &photos).await;

        let page = account(&alice).await;
        for needle in [
            "<strong>Blog</strong>",
            &format!("<code>{}</code>", blog.id),
            "Confirm who you are <code>openid</code>",
            "See your posts <code>posts:read</code>",
            &revoke_field(&blog),
            r#"<a href="/console">"#,
            r#"<a href="/account/security">"#,
        ] {
            assert!(page.raw.contains(needle), "[{}] no {needle}", db.label());
        }
        // Its only inputs are hidden; each button says what it does to
        // which app, to a screen reader too.
        for input in page.raw.split("<input").skip(1) {
            assert!(input.starts_with(r#" type="hidden""#), "{input}");
        }
        let named = r#">Revoke<span class="visually-hidden"> Blog</span></button>"#;
        assert!(page.raw.contains(named), "{}", page.raw);
        for absent in ["Photos", photos.id.as_str()] {
            assert!(!page.raw.contains(absent), "[{}] {absent}", db.label());
        }
        assert_eq!(
            page.header("content-security-policy"),
            Some(authd::web::page::CONTENT_SECURITY_POLICY)
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        let theirs = account(&bob).await;
        assert!(
            theirs.raw.contains(&revoke_field(&photos)),
            "{}",
            theirs.raw
        );
        assert!(!theirs.raw.contains(&blog.id), "{}", theirs.raw);
        // The signed-in pages lead here.
        for path in ["/", "/console", "/account/security"] {
            let r = alice.get(path).await;
            assert!(
                r.raw.contains(r#"<a href="/account">"#),
                "{path}: {}",
                r.raw
            );
        }
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn revoke_forgets_the_consent_and_that_apps_refresh_tokens_of_that_user() {
    on_every_backend(|db| async move {
        let (blog, photos) = setup(&db);
        let app = TestApp::spawn(&db).await;
        let (alice, bob) = (logged_in(&app, "alice").await, logged_in(&app, "bob").await);
        // Alice's families with Blog: a code's (rotated once), a second
        // code's, the password grant's; a code not yet exchanged.
        let first = allowed(&app, &alice, &blog).await;
        let first = refreshes(&app, &blog, &first).await;
        let second = allowed(&app, &alice, &blog).await;
        let password = login_as(&app, &blog, "alice", "correct horse").await;
        let password = password.body["refresh_token"].as_str().unwrap().to_string();
        let (path, verifier) = asking(&blog, &[]);
        let pending = code_for(&alice, &path).await;
        // What must survive: her Photos, and bob's Blog.
        let hers = allowed(&app, &alice, &photos).await;
        let his = allowed(&app, &bob, &blog).await;

        let token = csrf_token(&account(&alice).await.raw).expect("a token");
        let r = revoke(&alice, &blog, &token).await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        let back = r.header("location").expect("a Location").to_string();
        assert_eq!(back, format!("/account?revoked={}", blog.id));
        let page = alice.get(&back).await;
        assert!(
            page.raw
                .contains("<strong>Blog</strong> no longer has access"),
            "[{}] the notice: {}",
            db.label(),
            page.raw
        );
        assert!(!page.raw.contains(&revoke_field(&blog)), "{}", page.raw);
        assert!(page.raw.contains(&revoke_field(&photos)), "{}", page.raw);

        for token in [&first, &second, &password] {
            refresh(&app, &blog, token)
                .await
                .assert_error(400, "invalid_grant");
        }
        exchange(&app, &blog, &pending, REDIRECT, &verifier)
            .await
            .assert_error(400, "invalid_grant");
        refreshes(&app, &photos, &hers).await;
        refreshes(&app, &blog, &his).await;

        // Blog must ask alice again, and only alice.
        let (path, _) = asking(&blog, &[]);
        consent_page(&alice, &path).await;
        let (silent, _) = asking(&blog, &[("prompt", "none")]);
        assert_redirected_error(&alice.get(&silent).await, "consent_required");
        assert_eq!(bob.get(&path).await.status, 302, "bob's is remembered");

        // The notice is only for an app that has no access.
        let other = alice.get(&format!("/account?revoked={}", photos.id)).await;
        assert!(!other.raw.contains("no longer has access"), "{}", other.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_revoke_without_the_sessions_csrf_token_is_403_and_changes_nothing() {
    on_every_backend(|db| async move {
        let (blog, _) = setup(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        let token = allowed(&app, &alice, &blog).await;
        // Her other browser's token, and bob's, are not this session's.
        let elsewhere = logged_in(&app, "alice").await;
        let bob = logged_in(&app, "bob").await;
        let mut wrong = vec!["".to_string(), "wrong".to_string()];
        for other in [&elsewhere, &bob] {
            wrong.push(csrf_token(&account(other).await.raw).expect("a token"));
        }
        for csrf in &wrong {
            let r = revoke(&alice, &blog, csrf).await;
            assert_eq!(r.status, 403, "[{}] {csrf:?}: {}", db.label(), r.raw);
        }
        let bare = alice
            .post("/account/revoke", &[("client_id", blog.id.as_str())])
            .await;
        assert_eq!(bare.status, 403, "[{}] {}", db.label(), bare.raw);

        assert!(account(&alice).await.raw.contains(&revoke_field(&blog)));
        let (path, _) = asking(&blog, &[]);
        assert_eq!(alice.get(&path).await.status, 302, "still remembered");
        refreshes(&app, &blog, &token).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn signed_out_the_account_page_sends_to_the_login_page() {
    on_every_backend(|db| async move {
        let (blog, _) = setup(&db);
        let app = TestApp::spawn(&db).await;
        let browser = Browser::new(&app);
        let r = browser.get("/account").await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        assert_eq!(r.header("location"), Some("/login?next=%2Faccount"));
        let r = browser
            .log_in_to(Some("/account"), "alice", "correct horse")
            .await;
        assert_eq!(r.header("location"), Some("/account"), "back after login");

        // The POSTs too: to the login page, with nothing to come back to.
        let stranger = Browser::new(&app);
        for (path, form) in [
            ("/account/revoke", vec![("client_id", blog.id.as_str())]),
            ("/account/logout-everywhere", vec![]),
        ] {
            let r = stranger.post(path, &form).await;
            assert_eq!(r.status, 303, "[{}] {path}: {}", db.label(), r.raw);
            assert_eq!(r.header("location"), Some("/login"), "{path}");
        }
        app.stop().await;
    })
    .await;
}

/// The rows of the page's sessions table.
fn session_rows(page: &str) -> Vec<&str> {
    page.split(r#"<tr class="sign-in">"#)
        .skip(1)
        .map(|row| row.split("</tr>").next().unwrap_or(""))
        .collect()
}

/// The one row marked as this browser's.
fn this_browser(page: &str) -> &str {
    let marked: Vec<&str> = session_rows(page)
        .into_iter()
        .filter(|r| r.contains("This browser"))
        .collect();
    assert_eq!(marked.len(), 1, "{page}");
    marked[0]
}

/// 2026-12-06 14:03:05 UTC.
const START: i64 = 1_796_565_785;

#[actix_web::test]
async fn two_browsers_are_listed_and_sign_out_everywhere_ends_both() {
    on_every_backend(|db| async move {
        setup(&db);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual(START)).await;
        // A session that has ended (idle too long) is not listed.
        let gone = logged_in(&app, "alice").await;
        app.clock.advance(1801);
        let first = logged_in(&app, "alice").await; // 14:33:06
        app.clock.advance(600);
        let second = logged_in(&app, "alice").await; // 14:43:06
        let bob = logged_in(&app, "bob").await;
        app.clock.advance(60);

        let page = account(&first).await.raw;
        assert_eq!(session_rows(&page).len(), 2, "[{}] {page}", db.label());
        assert!(
            this_browser(&page)
                .contains(r#"<time datetime="2026-12-06T14:33:06Z">2026-12-06 14:33 UTC</time>"#),
            "{page}"
        );
        let mine = account(&second).await.raw;
        assert_eq!(session_rows(&mine).len(), 2, "[{}] {mine}", db.label());
        assert!(
            this_browser(&mine).contains("2026-12-06 14:43 UTC"),
            "{mine}"
        );
        // Never a session's id, nor its hash.
        for b in [&gone, &first, &second] {
            let id = b.cookie("authd_session").expect("a session cookie");
            for secret in [id.clone(), authd::secret::hash_str(&id)] {
                assert!(!page.contains(&secret) && !mine.contains(&secret));
            }
        }

        // Without the token: 403, and nobody is signed out.
        let r = first.post("/account/logout-everywhere", &[]).await;
        assert_eq!(r.status, 403, "[{}] {}", db.label(), r.raw);
        assert!(second.signed_in().await.is_some());
        let token = csrf_token(&page).expect("a token");
        let r = first
            .post("/account/logout-everywhere", &[("csrf_token", &token)])
            .await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        assert_eq!(r.header("location"), Some("/login"));
        let cleared = set_cookie(&r, "authd_session").expect("the cookie is cleared");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        for b in [&first, &second] {
            assert!(b.signed_in().await.is_none(), "[{}]", db.label());
            assert_eq!(b.get("/account").await.status, 303);
        }
        assert!(bob.signed_in().await.is_some(), "another user stays");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn revoke_and_sign_out_everywhere_are_audited() {
    on_every_backend(|db| async move {
        let label = db.label();
        let (blog, _) = setup(&db);
        let server = ServerProcess::start_logging(&db, &[], "debug");
        let alice = Browser::at(&server.base);
        assert_eq!(alice.log_in("alice", "correct horse").await.status, 303);
        let (path, _) = asking(&blog, &[]);
        code_for(&alice, &path).await;
        let page = alice.get("/account").await;
        let token = csrf_token(&page.raw).expect("a token");
        let session = alice.cookie("authd_session").expect("a session");
        assert_eq!(revoke(&alice, &blog, &token).await.status, 303);
        let form = [("csrf_token", token.as_str())];
        let r = alice.post("/account/logout-everywhere", &form).await;
        assert_eq!(r.status, 303, "[{label}] {}", r.raw);
        let log = server.stop();

        let line = |event: &str| {
            log.lines()
                .find(|l| l.contains("authd::audit") && l.contains(&format!("event={event} ")))
                .unwrap_or_else(|| panic!("[{label}] no {event} in\n{log}"))
                .to_string()
        };
        let revoked = line("app_revoked");
        let expected = format!(
            r#"client_id="{}" consent=true revoked_refresh=0 revoked_codes=1 remote=127.0.0.1"#,
            blog.id
        );
        assert!(revoked.contains(&expected), "[{label}] {revoked}");
        let ended = line("logout_everywhere");
        assert!(
            ended.contains("sessions=1 remote=127.0.0.1"),
            "[{label}] {ended}"
        );
        for secret in [&token, &session] {
            assert!(
                !log.contains(secret.as_str()),
                "[{label}] a secret in the log"
            );
        }
    })
    .await;
}
