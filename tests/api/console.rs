//! The developer console (`/console`): a user's own clients, created,
//! shown (the secret once), rotated and deleted through CSRF-protected
//! POSTs; other users' and the CLI's clients out of reach.

use authd::db::{clients as stored_clients, users};
use authd::manage::clients::ClientView;

use crate::login_form::assert_safe_page;
use crate::support::browser::{csrf_token, set_cookie, Browser};
use crate::support::fixtures::{conn, post, role, user, ClientSpec, Reply, TestClient};
use crate::support::helpers::{on_every_backend, TestApp, TestDb};

const REDIRECT: &str = "https://app.example/callback";

/// alice (role writer: posts:read posts:write) and bob (no role).
fn people(db: &TestDb) {
    role(db, "writer", "posts:read posts:write");
    user(db, "alice", "correct horse", &["writer"]);
    user(db, "bob", "battery staple", &[]);
}

/// A browser logged in as `username`.
pub(crate) async fn logged_in(app: &TestApp, username: &str, password: &str) -> Browser {
    let browser = Browser::new(app);
    let r = browser.log_in(username, password).await;
    assert_eq!(r.status, 303, "{username} logs in: {}", r.raw);
    browser
}

/// The console page and its CSRF token.
pub(crate) async fn console(browser: &Browser) -> (Reply, String) {
    let page = browser.get("/console").await;
    assert_eq!(page.status, 200, "{}", page.raw);
    let token = csrf_token(&page.raw).expect("the console has a csrf_token");
    (page, token)
}

/// A confidential client for authorization code + refresh token.
fn code_client<'a>(name: &'a str, scope: &'a str, token: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("grant", "authorization_code"),
        ("grant", "refresh_token"),
        ("scope", scope),
        ("redirect_uri", REDIRECT),
        ("redirect_uri", ""),
        ("csrf_token", token),
    ]
}

/// The clients `owner` has, from the database.
fn owned(db: &TestDb, owner: &str) -> Vec<ClientView> {
    authd::manage::clients::list(&mut conn(db), Some(owner)).unwrap()
}

fn user_id(db: &TestDb, name: &str) -> String {
    users::by_username(&mut conn(db), name)
        .unwrap()
        .expect("the user exists")
        .id
}

/// Creates a client through the form; returns its page's path.
pub(crate) async fn create(browser: &Browser, form: &[(&str, &str)]) -> String {
    let r = browser.post("/console/clients", form).await;
    assert_eq!(r.status, 303, "{}", r.raw);
    let to = r.header("location").expect("a Location").to_string();
    assert!(to.starts_with("/console/clients/"), "{to}");
    to
}

/// The secret a client page shows, if any.
pub(crate) fn shown_secret(page: &Reply) -> Option<String> {
    let start = r#"id="client_secret" type="text" value=""#;
    let from = page.raw.find(start)? + start.len();
    let len = page.raw[from..].find('"')?;
    Some(page.raw[from..from + len].to_string())
}

/// Whether `secret` authenticates `client_id` (introspection answers 200
/// to an authenticated client, 401 otherwise).
async fn authenticates(app: &TestApp, client_id: &str, secret: &str) -> bool {
    let c = TestClient {
        id: client_id.to_string(),
        secret: Some(secret.to_string()),
    };
    let r = post(app, "/oauth/introspect", Some(&c), &[("token", "x")]).await;
    match r.status {
        200 => true,
        401 => false,
        other => panic!("introspection answered {other}: {}", r.raw),
    }
}

#[actix_web::test]
async fn the_console_needs_a_login() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db).await;
    let r = Browser::new(&app).get("/console").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?next=%2Fconsole"));
    let r = Browser::new(&app)
        .post("/console/clients", &[("name", "x")])
        .await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    app.stop().await;
}

#[actix_web::test]
async fn a_created_client_is_listed_and_its_secret_shown_once() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let home = alice.get("/").await;
        assert!(home.raw.contains(r#"<a href="/console">"#), "{}", home.raw);
        let (page, token) = console(&alice).await;
        assert_safe_page(&page, "console");
        assert!(page.raw.contains("no client apps yet"), "{}", page.raw);
        for needle in [
            r#"<form method="post" action="/console/clients""#,
            r#"<input id="name" name="name" type="text""#,
            r#"name="grant" type="checkbox" value="authorization_code""#,
            r#"name="grant" type="checkbox" value="client_credentials""#,
            r#"<input id="scope" name="scope" type="text""#,
            r#"name="redirect_uri" type="url""#,
            r#"<input id="public" name="public" type="checkbox""#,
            "<code>posts:read</code>",
        ] {
            assert!(page.raw.contains(needle), "[{}] no {needle}", db.label());
        }

        let r = alice
            .post(
                "/console/clients",
                &code_client("Blog <app>", "posts:read", &token),
            )
            .await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let to = r.header("location").unwrap().to_string();
        let mine = owned(&db, &user_id(&db, "alice"));
        assert_eq!(mine.len(), 1, "[{}]", db.label());
        let c = &mine[0];
        assert_eq!(to, format!("/console/clients/{}", c.client_id));
        assert_eq!(c.name, "Blog <app>");
        assert_eq!(c.grants, ["refresh_token", "authorization_code"]);
        assert_eq!(c.scopes, ["posts:read"]);
        assert_eq!(c.redirect_uris, [REDIRECT]);
        assert!(!c.public);
        let reveal = set_cookie(&r, "authd_reveal").expect("the sealed secret");
        for attribute in ["HttpOnly", "SameSite=Strict"] {
            assert!(reveal.contains(attribute), "{reveal}");
        }

        let shown = alice.get(&to).await;
        assert_eq!(shown.status, 200, "{}", shown.raw);
        assert_safe_page(&shown, "the secret's page");
        let secret = shown_secret(&shown).expect("the secret, once");
        assert_eq!(secret.len(), 43, "256 bits");
        assert!(!to.contains(&secret) && !reveal.contains(&secret));
        assert!(shown.raw.contains("Blog &#60;app&#62;"), "escaped");
        assert!(authenticates(&app, &c.client_id, &secret).await);
        // Only the hash is stored, with its owner.
        let row = stored_clients::find(&mut conn(&db), &c.client_id)
            .unwrap()
            .unwrap();
        assert_eq!(row.owner_id, Some(user_id(&db, "alice")));
        assert_eq!(row.secret_hash, Some(authd::secret::hash_str(&secret)));

        // A reload shows it no more; the list never shows it.
        let again = alice.get(&to).await;
        assert_eq!(again.status, 200);
        assert_eq!(shown_secret(&again), None, "{}", again.raw);
        assert!(again.raw.contains(&c.client_id));
        let (list, _) = console(&alice).await;
        assert!(!list.raw.contains(&secret));
        for needle in [
            "Blog &#60;app&#62;",
            c.client_id.as_str(),
            "authorization_code",
            "posts:read",
            REDIRECT,
        ] {
            assert!(list.raw.contains(needle), "[{}] no {needle}", db.label());
        }
        // The sealed cookie is bound to the client it was made for.
        let r = alice
            .post(
                "/console/clients",
                &code_client("second", "posts:read", &token),
            )
            .await;
        let cookie = set_cookie(&r, "authd_reveal").unwrap();
        let value = crate::support::browser::cookie_value(cookie).to_string();
        alice.set_cookie("authd_reveal", &value);
        assert_eq!(shown_secret(&alice.get(&to).await), None);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn public_clients_have_no_secret_and_cannot_use_client_credentials() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let mut form = code_client("spa", "posts:read", &token);
        form.push(("public", "on"));
        let to = create(&alice, &form).await;
        let page = alice.get(&to).await;
        assert_eq!(shown_secret(&page), None);
        assert!(page.raw.contains("public"), "{}", page.raw);
        assert!(!page.raw.contains("/rotate"), "no secret to rotate");
        let alice_id = user_id(&db, "alice");
        assert!(owned(&db, &alice_id)[0].public);

        let r = alice
            .post(
                "/console/clients",
                &[
                    ("name", "daemon"),
                    ("grant", "client_credentials"),
                    ("public", "on"),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        assert_safe_page(&r, "refused create");
        assert!(r.raw.contains("cannot use client credentials"), "{}", r.raw);
        assert!(r.raw.contains(r#"value="daemon""#), "typed values stay");
        assert_eq!(owned(&db, &alice_id).len(), 1, "nothing created");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn invalid_clients_are_refused_with_a_message_and_nothing_created() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let base = |name: &'static str| vec![("name", name), ("csrf_token", token.as_str())];
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                [base("a"), vec![("grant", "authorization_code")]].concat(),
                "needs at least one redirect URI",
            ),
            (
                [
                    base("a"),
                    vec![
                        ("grant", "authorization_code"),
                        ("redirect_uri", "https://app.example/cb#frag"),
                    ],
                ]
                .concat(),
                "must not contain a fragment",
            ),
            (
                [
                    base("a"),
                    vec![
                        ("grant", "authorization_code"),
                        ("redirect_uri", "/relative"),
                    ],
                ]
                .concat(),
                "is not an absolute URI",
            ),
            (base("a"), "Choose at least one grant type"),
            (
                [base(""), vec![("grant", "password")]].concat(),
                "1 to 100 characters",
            ),
            (
                [base("a"), vec![("grant", "implicit")]].concat(),
                "Unknown grant",
            ),
            (
                [base("a"), vec![("grant", "password"), ("scope", "a\"b")]].concat(),
                "Invalid scope",
            ),
        ];
        for (form, message) in cases {
            let r = alice.post("/console/clients", &form).await;
            assert_eq!(r.status, 400, "[{}] {form:?}: {}", db.label(), r.raw);
            assert!(r.raw.contains(message), "{message}: {}", r.raw);
            assert!(r.raw.contains(r#"role="alert""#));
        }
        assert!(owned(&db, &user_id(&db, "alice")).is_empty());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn scopes_are_limited_to_what_the_users_roles_grant() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let r = alice
            .post(
                "/console/clients",
                &code_client("greedy", "posts:read posts:delete", &token),
            )
            .await;
        assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        assert!(
            r.raw.contains("Your roles do not grant posts:delete"),
            "{}",
            r.raw
        );
        assert!(r.raw.contains(r#"value="posts:read posts:delete""#));
        assert!(owned(&db, &user_id(&db, "alice")).is_empty());
        // Within the roles: fine.
        create(&alice, &code_client("ok", "posts:read posts:write", &token)).await;

        let bob = logged_in(&app, "bob", "battery staple").await;
        let (page, token) = console(&bob).await;
        assert!(page.raw.contains("Your roles grant no scopes"));
        let r = bob
            .post("/console/clients", &code_client("b", "posts:read", &token))
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("your roles grant no scopes"), "{}", r.raw);
        // Without scopes, a client is allowed.
        create(&bob, &code_client("b", "", &token)).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn users_see_and_change_only_their_own_clients() {
    on_every_backend(|db| async move {
        people(&db);
        let cli = ClientSpec::new(&db).scopes("posts:read").create();
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let to = create(&alice, &code_client("alice's", "posts:read", &token)).await;
        let secret = shown_secret(&alice.get(&to).await).unwrap();
        let id = to.trim_start_matches("/console/clients/").to_string();
        // The CLI's client is nobody's: not listed, not reachable.
        let (list, _) = console(&alice).await;
        assert!(!list.raw.contains(&cli.id), "[{}]", db.label());
        for path in [
            format!("/console/clients/{}", cli.id),
            "/console/clients/nope".to_string(),
        ] {
            assert_eq!(alice.get(&path).await.status, 404, "{path}");
            for change in ["rotate", "delete"] {
                let r = alice
                    .post(&format!("{path}/{change}"), &[("csrf_token", &token)])
                    .await;
                assert_eq!(r.status, 404, "[{}] {change} {path}", db.label());
            }
        }
        assert!(authenticates(&app, &cli.id, cli.secret.as_deref().unwrap()).await);

        let bob = logged_in(&app, "bob", "battery staple").await;
        let (list, bob_token) = console(&bob).await;
        assert!(!list.raw.contains(&id) && !list.raw.contains("alice's"));
        let r = bob.get(&to).await;
        assert_eq!(r.status, 404, "[{}] {}", db.label(), r.raw);
        assert_safe_page(&r, "404");
        for change in ["rotate", "delete"] {
            let r = bob
                .post(&format!("{to}/{change}"), &[("csrf_token", &bob_token)])
                .await;
            assert_eq!(r.status, 404, "[{}] bob {change}s alice's", db.label());
        }
        // Alice's client is untouched.
        assert_eq!(owned(&db, &user_id(&db, "alice")).len(), 1);
        assert!(authenticates(&app, &id, &secret).await);
        assert!(owned(&db, &user_id(&db, "bob")).is_empty());
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn rotating_shows_a_new_secret_once_and_deleting_removes_the_client() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let to = create(&alice, &code_client("app", "posts:read", &token)).await;
        let old = shown_secret(&alice.get(&to).await).unwrap();
        let id = to.trim_start_matches("/console/clients/").to_string();

        let r = alice
            .post(&format!("{to}/rotate"), &[("csrf_token", &token)])
            .await;
        assert_eq!((r.status, r.header("location")), (303, Some(to.as_str())));
        let new = shown_secret(&alice.get(&to).await).expect("the new secret");
        assert_ne!(new, old);
        assert_eq!(shown_secret(&alice.get(&to).await), None, "once");
        assert!(!authenticates(&app, &id, &old).await, "[{}]", db.label());
        assert!(authenticates(&app, &id, &new).await);

        let r = alice
            .post(&format!("{to}/delete"), &[("csrf_token", &token)])
            .await;
        assert_eq!((r.status, r.header("location")), (303, Some("/console")));
        assert!(owned(&db, &user_id(&db, "alice")).is_empty());
        assert_eq!(alice.get(&to).await.status, 404);
        assert!(!authenticates(&app, &id, &new).await);
        app.stop().await;
    })
    .await;
}

/// The status of a client_credentials request with this secret.
async fn client_credentials(app: &TestApp, client_id: &str, secret: &str) -> u16 {
    let c = TestClient {
        id: client_id.to_string(),
        secret: Some(secret.to_string()),
    };
    post(
        app,
        "/oauth/token",
        Some(&c),
        &[("grant_type", "client_credentials")],
    )
    .await
    .status
}

#[actix_web::test]
async fn with_the_client_cache_on_rotating_and_deleting_take_effect_at_once() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn_with(&db, &["--client-cache-ttl", "300"]).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let form = [
            ("name", "daemon"),
            ("grant", "client_credentials"),
            ("scope", "posts:read"),
            ("csrf_token", &token),
        ];
        let to = create(&alice, &form).await;
        let old = shown_secret(&alice.get(&to).await).unwrap();
        let id = to.trim_start_matches("/console/clients/").to_string();
        // Twice: the second from the cache (client_cache.rs shows that
        // the cache serves).
        for _ in 0..2 {
            assert_eq!(client_credentials(&app, &id, &old).await, 200);
        }

        alice
            .post(&format!("{to}/rotate"), &[("csrf_token", &token)])
            .await;
        let new = shown_secret(&alice.get(&to).await).expect("the new secret");
        let label = db.label();
        assert_eq!(client_credentials(&app, &id, &old).await, 401, "[{label}]");
        assert_eq!(client_credentials(&app, &id, &new).await, 200);
        assert_eq!(client_credentials(&app, &id, &new).await, 200);

        alice
            .post(&format!("{to}/delete"), &[("csrf_token", &token)])
            .await;
        assert_eq!(client_credentials(&app, &id, &new).await, 401, "[{label}]");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn every_console_post_needs_the_sessions_csrf_token() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let to = create(&alice, &code_client("app", "posts:read", &token)).await;
        let secret = shown_secret(&alice.get(&to).await).unwrap();
        let id = to.trim_start_matches("/console/clients/").to_string();
        // Another session's token, and the login form's, are not this one's.
        let bob = logged_in(&app, "bob", "battery staple").await;
        let (_, bobs) = console(&bob).await;
        let (_, login_token) = Browser::new(&app).login_page(None).await;
        for wrong in [
            None,
            Some(""),
            Some(bobs.as_str()),
            Some(login_token.as_str()),
        ] {
            let with = |mut form: Vec<(&'static str, String)>| {
                if let Some(t) = wrong {
                    form.push(("csrf_token", t.to_string()));
                }
                form
            };
            let posts = [
                (
                    "/console/clients".to_string(),
                    with(vec![
                        ("name", "forged".into()),
                        ("grant", "password".into()),
                    ]),
                ),
                (format!("{to}/rotate"), with(vec![])),
                (format!("{to}/delete"), with(vec![])),
            ];
            for (path, form) in posts {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let r = alice.post(&path, &form).await;
                assert_eq!(r.status, 403, "[{}] {path} {wrong:?}", db.label());
                assert_safe_page(&r, "403");
            }
        }
        assert_eq!(owned(&db, &user_id(&db, "alice")).len(), 1, "none forged");
        assert!(authenticates(&app, &id, &secret).await, "neither rotated");
        app.stop().await;
    })
    .await;
}

/// Tries to open a reveal cookie with a key derived from `token`, the
/// CSRF token that every console page shows, the way the console once
/// sealed it: AES-256-GCM under HMAC-SHA256(token, label), the client id
/// as associated data.
fn open_with_page_token(token: &str, client_id: &str, cookie: &str) -> Option<String> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
    use aws_lc_rs::hmac;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let raw = URL_SAFE_NO_PAD.decode(cookie).ok()?;
    let (nonce, sealed) = raw.split_at_checked(NONCE_LEN)?;
    for label in [
        &b"authd console secret reveal v1"[..],
        b"authd console secret reveal v2",
    ] {
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes()), label);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, derived.as_ref()).ok()?);
        let mut data = sealed.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        if let Ok(plain) = key.open_in_place(nonce, Aad::from(client_id.as_bytes()), &mut data) {
            return String::from_utf8(plain.to_vec()).ok();
        }
    }
    None
}

/// Whoever reads a console page (its CSRF token) and holds the reveal
/// cookie still cannot open the cookie: its key is the server's, not the
/// page's. The page itself still shows the secret once.
#[actix_web::test]
async fn the_page_token_does_not_open_the_secret_cookie() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let r = alice
            .post(
                "/console/clients",
                &code_client("app", "posts:read", &token),
            )
            .await;
        assert_eq!(r.status, 303, "[{}] {}", db.label(), r.raw);
        let to = r.header("location").unwrap().to_string();
        let client_id = to.trim_start_matches("/console/clients/").to_string();
        let cookie = set_cookie(&r, "authd_reveal").expect("the sealed secret");
        let value = crate::support::browser::cookie_value(cookie).to_string();
        assert_eq!(
            open_with_page_token(&token, &client_id, &value),
            None,
            "[{}] the page's token opened the cookie",
            db.label()
        );
        let secret = shown_secret(&alice.get(&to).await).expect("the secret, once");
        assert!(authenticates(&app, &client_id, &secret).await);
        app.stop().await;
    })
    .await;
}

/// A user may have only so many clients in the console
/// (`--console-max-clients`); deleting one makes room again. The CLI's
/// clients are not counted.
#[actix_web::test]
async fn console_users_have_a_client_quota() {
    on_every_backend(|db| async move {
        people(&db);
        ClientSpec::new(&db).create();
        let app = TestApp::spawn_with(&db, &["--console-max-clients", "2"]).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let first = create(&alice, &code_client("one", "posts:read", &token)).await;
        create(&alice, &code_client("two", "posts:read", &token)).await;
        let r = alice
            .post(
                "/console/clients",
                &code_client("three", "posts:read", &token),
            )
            .await;
        assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        assert!(
            r.raw.contains("the most one user may have"),
            "[{}] {}",
            db.label(),
            r.raw
        );
        assert_eq!(owned(&db, &user_id(&db, "alice")).len(), 2);
        // Another user has a quota of their own.
        let bob = logged_in(&app, "bob", "battery staple").await;
        let (_, bob_token) = console(&bob).await;
        create(
            &bob,
            &[
                ("name", "bob's"),
                ("grant", "password"),
                ("csrf_token", &bob_token),
            ],
        )
        .await;
        let r = alice
            .post(&format!("{first}/delete"), &[("csrf_token", &token)])
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        create(&alice, &code_client("three", "posts:read", &token)).await;
        app.stop().await;
    })
    .await;
}

/// Redirect URIs are bounded in number and length, in the console as on
/// the command line (it is the same rule).
#[actix_web::test]
async fn redirect_uris_are_bounded_in_number_and_length() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice", "correct horse").await;
        let (_, token) = console(&alice).await;
        let uris: Vec<String> = (0..11)
            .map(|i| format!("https://app.example/cb{i}"))
            .collect();
        let mut form = vec![
            ("name", "many"),
            ("grant", "authorization_code"),
            ("csrf_token", token.as_str()),
        ];
        form.extend(uris.iter().map(|u| ("redirect_uri", u.as_str())));
        let r = alice.post("/console/clients", &form).await;
        assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        assert!(r.raw.contains("at most 10 redirect URIs"), "{}", r.raw);
        form.pop();
        create(&alice, &form).await;

        let long = format!("https://app.example/{}", "a".repeat(2000));
        let r = alice
            .post(
                "/console/clients",
                &[
                    ("name", "long"),
                    ("grant", "authorization_code"),
                    ("redirect_uri", long.as_str()),
                    ("csrf_token", token.as_str()),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "[{}] {}", db.label(), r.raw);
        assert!(r.raw.contains("longer than 2000 bytes"), "{}", r.raw);
        let err = crate::support::helpers::authd_fails(
            &db,
            &[
                "client",
                "add",
                "long",
                "--grant",
                "authorization_code",
                "--redirect-uri",
                &long,
            ],
            None,
        );
        assert!(
            err.contains("longer than 2000 bytes"),
            "[{}] {err}",
            db.label()
        );
        app.stop().await;
    })
    .await;
}
