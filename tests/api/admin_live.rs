//! Admin commands against a running server (docs/interface.md
//! "Administration"): a deleted user's session and tokens stop working at
//! once, and a client's update takes effect on its next request. On every
//! backend.

use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::fixtures::{password_grant, post, reply, role, user, ClientSpec, Reply};
use crate::support::helpers::{authd_json, on_every_backend, TestApp};

async fn userinfo(app: &TestApp, access: &str) -> Reply {
    let req = app.http.get(app.url("/oauth/userinfo")).bearer_auth(access);
    reply(req.send().await.unwrap()).await
}

fn token<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {}", r.raw))
}

#[actix_web::test]
async fn deleting_a_user_ends_their_session_and_tokens_at_once() {
    on_every_backend(|db| async move {
        let label = db.label();
        role(&db, "member", "openid posts:read");
        user(&db, "alice", "correct horse", &["member"]);
        let c = ClientSpec::new(&db)
            .grants(&["password", "refresh_token"])
            .scopes("openid posts:read")
            .create();
        let app = TestApp::spawn(&db).await;

        let browser = Browser::new(&app);
        browser.log_in("alice", "correct horse").await;
        assert_eq!(browser.get("/account").await.status, 200, "[{label}]");
        let tokens = password_grant(&app, &c, &[("scope", "openid posts:read")]).await;
        assert_eq!(tokens.status, 200, "{}", tokens.raw);
        let (access, refresh) = (
            token(&tokens, "access_token"),
            token(&tokens, "refresh_token"),
        );
        let introspect = |t: String| {
            let (app, c) = (&app, &c);
            async move {
                post(app, "/oauth/introspect", Some(c), &[("token", &t)])
                    .await
                    .body
            }
        };
        assert_eq!(introspect(access.into()).await["active"], true, "[{label}]");
        assert_eq!(userinfo(&app, access).await.status, 200, "[{label}]");

        authd_json(&db, &["user", "delete", "alice"], None);

        let page = browser.get("/account").await;
        assert_eq!(page.status, 303, "[{label}] session ended: {}", page.raw);
        assert_eq!(page.header("location"), Some("/login?next=%2Faccount"));
        assert_eq!(browser.signed_in().await, None, "[{label}]");
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
        post(&app, "/oauth/token", Some(&c), &form)
            .await
            .assert_error(400, "invalid_grant");
        let expected: Value = json!({"active": false});
        assert_eq!(
            introspect(access.into()).await,
            expected,
            "[{label}] access"
        );
        assert_eq!(
            introspect(refresh.into()).await,
            expected,
            "[{label}] refresh"
        );
        let r = userinfo(&app, access).await;
        assert_eq!(r.status, 401, "[{label}] {}", r.raw);
        assert_eq!(r.body["error"], "invalid_token");

        // A new user of the same name is someone else: the old token
        // stays dead, and the new user's work.
        user(&db, "alice", "another password", &["member"]);
        assert_eq!(
            introspect(access.into()).await,
            expected,
            "[{label}] reused name"
        );
        assert_eq!(userinfo(&app, access).await.status, 401, "[{label}]");
        let form = [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "another password"),
            ("scope", "openid"),
        ];
        let fresh = post(&app, "/oauth/token", Some(&c), &form).await;
        assert_eq!(
            userinfo(&app, token(&fresh, "access_token")).await.status,
            200
        );
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_client_update_takes_effect_on_a_running_server() {
    on_every_backend(|db| async move {
        let label = db.label();
        let c = ClientSpec::new(&db)
            .grants(&["client_credentials"])
            .scopes("reports:read reports:write")
            .create();
        let app = TestApp::spawn(&db).await;
        let grant = |scope: Option<&'static str>| {
            let (app, c) = (&app, &c);
            async move {
                let mut form = vec![("grant_type", "client_credentials")];
                form.extend(scope.map(|s| ("scope", s)));
                post(app, "/oauth/token", Some(c), &form).await
            }
        };
        let r = grant(Some("reports:write")).await;
        assert_eq!(r.status, 200, "[{label}] {}", r.raw);

        authd_json(
            &db,
            &["client", "update", &c.id, "--scope", "reports:read"],
            None,
        );
        grant(Some("reports:write"))
            .await
            .assert_error(400, "invalid_scope");
        let r = grant(None).await;
        assert_eq!(r.body["scope"], "reports:read", "[{label}] {}", r.raw);

        authd_json(
            &db,
            &["client", "update", &c.id, "--grant", "password"],
            None,
        );
        grant(None).await.assert_error(400, "unauthorized_client");
        app.stop().await;
    })
    .await;
}
