//! A client a user registered in the console is bounded by that user at
//! every issuance and introspection: it stops when the owner is disabled,
//! deleted or given a new password (until re-keyed), and it never gets
//! more than the owner's roles grant now.

use serde_json::Value;

use crate::console::{console, create, logged_in, shown_secret};
use crate::support::browser::Browser;
use crate::support::code_flow::{
    assert_not_redirected, consent_page, exchange, param, pkce, redirected, request, REDIRECT,
};
use crate::support::fixtures::{conn, login_as, post, role, user, ClientSpec, Reply, TestClient};
use crate::support::helpers::{authd, authd_json, on_every_backend, TestApp, TestDb};

/// carol (role writer: posts:read posts:write, and reader: posts:read)
/// registers clients; dave (reader) signs in through them.
fn people(db: &TestDb) {
    role(db, "writer", "posts:read posts:write");
    role(db, "reader", "posts:read");
    user(
        db,
        "carol",
        "carol's long passphrase",
        &["writer", "reader"],
    );
    user(db, "dave", "dave's long passphrase", &["writer"]);
}

/// Runs the CLI and checks that it succeeded.
fn cli(db: &TestDb, args: &[&str], stdin: Option<&str>) {
    let out = authd(db, args, stdin);
    assert!(
        out.status.success(),
        "authd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client carol registers in the console with these grants; its id and
/// secret.
async fn carol_registers(app: &TestApp, grants: &[&str], scope: &str) -> TestClient {
    let carol = logged_in(app, "carol", "carol's long passphrase").await;
    let (_, token) = console(&carol).await;
    let mut form = vec![("name", "carol's daemon"), ("scope", scope)];
    form.extend(grants.iter().map(|g| ("grant", *g)));
    if grants.contains(&"authorization_code") {
        form.push(("redirect_uri", REDIRECT));
    }
    form.push(("csrf_token", &token));
    let to = create(&carol, &form).await;
    TestClient {
        id: to.trim_start_matches("/console/clients/").to_string(),
        secret: shown_secret(&carol.get(&to).await),
    }
}

async fn client_credentials(app: &TestApp, c: &TestClient) -> Reply {
    post(
        app,
        "/oauth/token",
        Some(c),
        &[("grant_type", "client_credentials")],
    )
    .await
}

/// Whether `c` hears that `token` is active.
async fn active(app: &TestApp, c: &TestClient, token: &str) -> bool {
    let r = post(app, "/oauth/introspect", Some(c), &[("token", token)]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["active"] == Value::Bool(true)
}

fn access_token(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["access_token"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn disabling_the_owner_stops_the_client_and_its_tokens() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let c = carol_registers(&app, &["client_credentials"], "posts:read posts:write").await;
        let token = access_token(&client_credentials(&app, &c).await);
        assert!(active(&app, &c, &token).await);

        cli(&db, &["user", "disable", "carol"], None);
        let label = db.label();
        client_credentials(&app, &c)
            .await
            .assert_error(401, "invalid_client");
        assert!(
            !active(&app, &c, &token).await,
            "[{label}] a disabled owner's token"
        );

        // Enabled again, the client stays suspended until carol re-keys it:
        // its secret was in the hands of whoever had the account.
        cli(&db, &["user", "enable", "carol"], None);
        client_credentials(&app, &c)
            .await
            .assert_error(401, "invalid_client");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_new_password_suspends_the_client_until_its_secret_is_rotated() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let c = carol_registers(&app, &["client_credentials"], "posts:read").await;
        let old_token = access_token(&client_credentials(&app, &c).await);

        let new_password = "carol's second passphrase\n";
        cli(
            &db,
            &["user", "set-password", "carol", "--password-stdin"],
            Some(new_password),
        );
        client_credentials(&app, &c)
            .await
            .assert_error(401, "invalid_client");
        assert!(!active(&app, &c, &old_token).await);
        let listed = authd_json(&db, &["client", "show", &c.id], None);
        assert_eq!(listed["suspended"], true, "{listed}");

        // carol signs in with the new password; the page says why, and a
        // rotation resumes the client under the new secret only.
        let carol = logged_in(&app, "carol", "carol's second passphrase").await;
        let to = format!("/console/clients/{}", c.id);
        let page = carol.get(&to).await;
        assert!(page.raw.contains("Suspended"), "{}", page.raw);
        let (_, csrf) = console(&carol).await;
        let r = carol
            .post(&format!("{to}/rotate"), &[("csrf_token", &csrf)])
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let rekeyed = TestClient {
            id: c.id.clone(),
            secret: shown_secret(&carol.get(&to).await),
        };
        assert_ne!(rekeyed.secret, c.secret);
        let fresh = access_token(&client_credentials(&app, &rekeyed).await);
        assert!(active(&app, &rekeyed, &fresh).await);
        assert!(
            !active(&app, &rekeyed, &old_token).await,
            "[{}] a token from before the password change stays dead",
            db.label()
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_client_never_gets_more_than_its_owner_s_roles_grant_now() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let c = carol_registers(&app, &["client_credentials"], "posts:read posts:write").await;
        let both = client_credentials(&app, &c).await;
        assert_eq!(both.body["scope"], "posts:read posts:write", "{}", both.raw);
        let wide = access_token(&both);

        cli(&db, &["user", "revoke-role", "carol", "writer"], None);
        let narrowed = client_credentials(&app, &c).await;
        assert_eq!(narrowed.body["scope"], "posts:read", "{}", narrowed.raw);
        assert!(active(&app, &c, &access_token(&narrowed)).await);
        assert!(
            !active(&app, &c, &wide).await,
            "[{}] a token with a scope the owner lost",
            db.label()
        );
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "posts:write"),
            ],
        )
        .await;
        r.assert_error(400, "invalid_scope");

        // No role left: nothing to grant, not an empty token.
        cli(&db, &["user", "revoke-role", "carol", "reader"], None);
        client_credentials(&app, &c)
            .await
            .assert_error(400, "invalid_scope");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_user_without_roles_gets_no_empty_token() {
    on_every_backend(|db| async move {
        role(&db, "reader", "posts:read");
        user(&db, "carol", "carol's long passphrase", &[]);
        let app = TestApp::spawn(&db).await;
        let c = carol_registers(&app, &["client_credentials"], "").await;
        client_credentials(&app, &c)
            .await
            .assert_error(400, "invalid_scope");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn other_users_signing_in_through_the_client_are_bounded_by_its_owner() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let c = carol_registers(
            &app,
            &["password", "refresh_token"],
            "posts:read posts:write",
        )
        .await;
        let dave = |c| login_as(&app, c, "dave", "dave's long passphrase");
        let r = dave(&c).await;
        assert_eq!(r.body["scope"], "posts:read posts:write", "{}", r.raw);
        let refresh = r.body["refresh_token"].as_str().unwrap().to_string();

        cli(&db, &["user", "revoke-role", "carol", "writer"], None);
        let r = dave(&c).await;
        assert_eq!(r.body["scope"], "posts:read", "{}", r.raw);
        let form = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
        let r = post(&app, "/oauth/token", Some(&c), &form).await;
        assert_eq!(r.body["scope"], "posts:read", "[{}] {}", db.label(), r.raw);
        let refresh = r.body["refresh_token"].as_str().unwrap().to_string();

        cli(&db, &["user", "disable", "carol"], None);
        dave(&c).await.assert_error(401, "invalid_client");
        let form = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
        let r = post(&app, "/oauth/token", Some(&c), &form).await;
        r.assert_error(401, "invalid_client");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_deleted_owner_leaves_a_stopped_client_not_a_free_one() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let c = carol_registers(&app, &["client_credentials"], "posts:read").await;
        let token = access_token(&client_credentials(&app, &c).await);
        // No command deletes users yet; the foreign key sets owner_id to
        // NULL, which once freed the client of any owner.
        let carol = authd::db::users::by_username(&mut conn(&db), "carol")
            .unwrap()
            .unwrap();
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("DELETE FROM users WHERE id = '{}'", carol.id))
            .execute(&mut conn(&db))
            .unwrap();
        client_credentials(&app, &c)
            .await
            .assert_error(401, "invalid_client");
        assert!(!active(&app, &c, &token).await, "[{}]", db.label());
        let shown = authd_json(&db, &["client", "show", &c.id], None);
        assert_eq!(
            (shown["owner"].clone(), shown["suspended"].clone()),
            (Value::Null, Value::Bool(true))
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn client_list_and_show_name_the_owner() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let c = carol_registers(&app, &["client_credentials"], "posts:read").await;
        app.stop().await;
        let admin = authd_json(&db, &["client", "add", "admin-app"], None);
        let admin_id = admin["client_id"].as_str().unwrap();

        let listed = authd_json(&db, &["client", "list"], None);
        let by_id = |id: &str| {
            listed
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["client_id"] == id)
                .cloned()
                .unwrap()
        };
        assert_eq!(by_id(&c.id)["owner"], "carol", "{listed}");
        assert_eq!(by_id(&c.id)["suspended"], false);
        assert_eq!(by_id(admin_id)["owner"], Value::Null);
        let shown = authd_json(&db, &["client", "show", &c.id], None);
        assert_eq!(shown["owner"], "carol", "{shown}");
        let text = String::from_utf8(authd(&db, &["client", "list"], None).stdout).unwrap();
        assert!(text.contains("owner: carol"), "{text}");
    })
    .await;
}

#[actix_web::test]
async fn a_public_client_cannot_introspect() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let spa = ClientSpec::new(&db)
            .public()
            .grants(&["password", "refresh_token"])
            .scopes("posts:read")
            .create();
        let r = post(
            &app,
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &spa.id),
                ("username", "dave"),
                ("password", "dave's long passphrase"),
            ],
        )
        .await;
        let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
        let ask = [("client_id", spa.id.as_str()), ("token", &refresh)];
        let r = post(&app, "/oauth/introspect", None, &ask).await;
        r.assert_error(401, "invalid_client");
        // The token was not spent by the question.
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", &spa.id),
            ("refresh_token", &refresh),
        ];
        let r = post(&app, "/oauth/token", None, &form).await;
        assert_eq!(r.status, 200, "[{}] {}", db.label(), r.raw);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_authorization_endpoint_follows_the_owner_too() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn(&db).await;
        let grants = ["authorization_code", "refresh_token"];
        let c = carol_registers(&app, &grants, "posts:read posts:write").await;
        let dave = Browser::new(&app);
        let r = dave.log_in("dave", "dave's long passphrase").await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let p = pkce();
        let path = request(&c.id, &p.challenge, &[("scope", "posts:read posts:write")]);
        let (page, _) = consent_page(&dave, &path).await;
        assert!(page.raw.contains("posts:write"), "{}", page.raw);

        // carol loses writer: the consent page offers only what she keeps,
        // and the code carries only that.
        cli(&db, &["user", "revoke-role", "carol", "writer"], None);
        let (page, token) = consent_page(&dave, &path).await;
        assert!(
            !page.raw.contains("posts:write"),
            "[{}] {}",
            db.label(),
            page.raw
        );
        let r = dave
            .post(&path, &[("csrf_token", &token), ("decision", "allow")])
            .await;
        let code = param(&redirected(&r), "code");

        // carol disabled: no code (on authd's page: it is a user's client),
        // and the one issued before is refused.
        cli(&db, &["user", "disable", "carol"], None);
        let r = dave.get(&path).await;
        assert_not_redirected(&r, "(unauthorized_client)");
        let r = exchange(&app, &c, &code, REDIRECT, &p.verifier).await;
        r.assert_error(401, "invalid_client");
        app.stop().await;
    })
    .await;
}

/// The password grant for dave through the public client `id`.
async fn dave_through(app: &TestApp, id: &str) -> Reply {
    let form = [
        ("grant_type", "password"),
        ("client_id", id),
        ("username", "dave"),
        ("password", "dave's long passphrase"),
    ];
    post(app, "/oauth/token", None, &form).await
}

/// Resuming changes the client's row: with the cache on, a record cached
/// while the client was suspended must not outlive the resume.
#[actix_web::test]
async fn with_the_client_cache_on_a_resume_takes_effect_at_once() {
    on_every_backend(|db| async move {
        people(&db);
        let app = TestApp::spawn_with(&db, &["--client-cache-ttl", "300"]).await;
        let carol = logged_in(&app, "carol", "carol's long passphrase").await;
        let (_, token) = console(&carol).await;
        let form = [
            ("name", "carol's app"),
            ("grant", "password"),
            ("scope", "posts:read"),
            ("public", "on"),
            ("csrf_token", &token),
        ];
        let to = create(&carol, &form).await;
        let id = to.trim_start_matches("/console/clients/").to_string();
        // Twice: the second from the cache.
        for _ in 0..2 {
            assert_eq!(dave_through(&app, &id).await.status, 200);
        }

        let new_password = "carol's second passphrase\n";
        cli(
            &db,
            &["user", "set-password", "carol", "--password-stdin"],
            Some(new_password),
        );
        let label = db.label();
        let suspended = dave_through(&app, &id).await;
        assert_eq!(suspended.status, 401, "[{label}] {}", suspended.raw);

        let carol = logged_in(&app, "carol", "carol's second passphrase").await;
        let (_, csrf) = console(&carol).await;
        let r = carol
            .post(&format!("{to}/resume"), &[("csrf_token", &csrf)])
            .await;
        assert_eq!(r.status, 303, "[{label}] {}", r.raw);
        let resumed = dave_through(&app, &id).await;
        assert_eq!(resumed.status, 200, "[{label}] {}", resumed.raw);
        app.stop().await;
    })
    .await;
}
