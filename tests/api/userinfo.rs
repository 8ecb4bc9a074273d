//! `GET`/`POST /oauth/userinfo` (OpenID Connect Core 1.0 §5.3) with the
//! Bearer errors of RFC 6750 §3: the claims the token releases, as the
//! user is now, and every way a token stops being good enough. On every
//! backend.

use crate::support::fixtures::{password_grant, post, reply, role, user, ClientSpec, Reply};
use crate::support::helpers::{authd_json, on_every_backend, TestApp};

async fn userinfo(app: &TestApp, post: bool, authorization: Option<&str>) -> Reply {
    let url = app.url("/oauth/userinfo");
    let mut req = match post {
        true => app.http.post(url),
        false => app.http.get(url),
    };
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    reply(req.send().await.unwrap()).await
}

fn challenge(r: &Reply) -> &str {
    r.header("www-authenticate")
        .expect("a WWW-Authenticate challenge")
}

/// 401 with a Bearer challenge naming `invalid_token`.
fn assert_invalid_token(r: &Reply, why: &str) {
    assert_eq!(r.status, 401, "{why}: {}", r.raw);
    let c = challenge(r);
    assert!(
        c.starts_with(r#"Bearer realm="authd", error="invalid_token""#),
        "{why}: {c}"
    );
    assert_eq!(r.body["error"], "invalid_token", "{why}");
}

#[actix_web::test]
async fn userinfo_answers_for_the_user_as_the_scopes_allow() {
    on_every_backend(|db| async move {
        role(&db, "member", "openid profile posts:read");
        let alice = user(&db, "alice", "correct horse", &["member"]);
        let c = ClientSpec::new(&db)
            .scopes("openid profile posts:read")
            .create();
        let app = TestApp::spawn_clocked(&db, &[], authd::clock::Clock::manual_from_now()).await;
        let token = |r: &Reply| format!("Bearer {}", r.body["access_token"].as_str().unwrap());
        let full = token(&password_grant(&app, &c, &[("scope", "openid profile")]).await);
        for method_post in [false, true] {
            let r = userinfo(&app, method_post, Some(&full)).await;
            assert_eq!(r.status, 200, "{}", r.raw);
            assert_eq!(
                r.body,
                serde_json::json!({"sub": alice, "preferred_username": "alice"})
            );
            assert_eq!(r.header("cache-control"), Some("no-store"));
        }
        // The scheme's case is free (RFC 9110 §11.1).
        let lower = full.replacen("Bearer", "bearer", 1);
        assert_eq!(userinfo(&app, false, Some(&lower)).await.status, 200);
        // Without profile: only sub.
        let openid = token(&password_grant(&app, &c, &[("scope", "openid")]).await);
        let r = userinfo(&app, false, Some(&openid)).await;
        assert_eq!(r.body, serde_json::json!({"sub": alice}));

        // Without openid: 403 naming the scope needed.
        let plain = token(&password_grant(&app, &c, &[("scope", "posts:read")]).await);
        let r = userinfo(&app, false, Some(&plain)).await;
        assert_eq!(r.status, 403, "{}", r.raw);
        let c403 = challenge(&r);
        assert!(
            c403.contains(r#"error="insufficient_scope""#) && c403.ends_with(r#"scope="openid""#),
            "{c403}"
        );

        // No token, or another scheme: a bare challenge (RFC 6750 §3.1).
        for auth in [None, Some("Basic YTpi")] {
            let r = userinfo(&app, false, auth).await;
            assert_eq!(r.status, 401, "{}", r.raw);
            assert_eq!(challenge(&r), r#"Bearer realm="authd""#);
        }
        assert_invalid_token(
            &userinfo(&app, false, Some("Bearer not.a.jwt")).await,
            "junk",
        );
        // Expired, by the server's clock.
        app.clock.advance(901);
        assert_invalid_token(&userinfo(&app, true, Some(&full)).await, "expired");
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn userinfo_refuses_tokens_that_no_longer_stand() {
    on_every_backend(|db| async move {
        role(&db, "member", "openid profile");
        user(&db, "alice", "correct horse", &["member"]);
        let c = ClientSpec::new(&db).scopes("openid profile").create();
        let machine = ClientSpec::new(&db)
            .grants(&["client_credentials"])
            .scopes("openid")
            .create();
        let app = TestApp::spawn(&db).await;
        let grant = || async { password_grant(&app, &c, &[("scope", "openid")]).await };
        let bearer = |r: &Reply| format!("Bearer {}", r.body["access_token"].as_str().unwrap());

        // Revoked (RFC 7009).
        let revoked = grant().await;
        let token = revoked.body["access_token"].as_str().unwrap();
        let r = post(&app, "/oauth/revoke", Some(&c), &[("token", token)]).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_invalid_token(
            &userinfo(&app, false, Some(&bearer(&revoked))).await,
            "revoked",
        );

        // A client's own token names no user.
        let own = post(
            &app,
            "/oauth/token",
            Some(&machine),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(own.status, 200, "{}", own.raw);
        assert_invalid_token(&userinfo(&app, false, Some(&bearer(&own))).await, "client");

        // A new password: tokens from before it are dead, new ones work.
        let before = bearer(&grant().await);
        assert_eq!(userinfo(&app, false, Some(&before)).await.status, 200);
        authd_json(
            &db,
            &["user", "set-password", "alice", "--password-stdin"],
            Some("a brand new secret\n"),
        );
        assert_invalid_token(&userinfo(&app, true, Some(&before)).await, "new password");

        // Disabled.
        let form = [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "a brand new secret"),
            ("scope", "openid"),
        ];
        let r = post(&app, "/oauth/token", Some(&c), &form).await;
        let fresh = bearer(&r);
        assert_eq!(userinfo(&app, false, Some(&fresh)).await.status, 200);
        authd_json(&db, &["user", "disable", "alice"], None);
        assert_invalid_token(&userinfo(&app, false, Some(&fresh)).await, "disabled");
        app.stop().await;
    })
    .await;
}
