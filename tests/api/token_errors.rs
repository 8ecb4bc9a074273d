//! Every error of INTERFACE.md's token-endpoint table, on every backend.

use crate::fixtures::{self, password_grant, post, standard, user, ClientSpec};
use crate::helpers::{backends, TestApp};

async fn assert_invalid_client(r: &fixtures::Reply) {
    assert_eq!(r.status, 401, "{}", r.raw);
    assert_eq!(r.error(), "invalid_client");
    assert_eq!(r.header("www-authenticate"), Some(r#"Basic realm="authd""#));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.body["error_description"].is_string());
}

#[actix_web::test]
async fn every_error_of_the_table() {
    for db in backends() {
        let app = TestApp::spawn(&db).await;
        let c = standard(&db);

        // invalid_client: wrong secret, unknown client, no authentication,
        // a confidential client without its secret, a malformed header.
        let wrong = fixtures::TestClient {
            id: c.id.clone(),
            secret: Some("wrong".into()),
        };
        assert_invalid_client(&password_grant(&app, &wrong, &[]).await).await;
        let unknown = fixtures::TestClient {
            id: "nope".into(),
            secret: Some("x".into()),
        };
        assert_invalid_client(&password_grant(&app, &unknown, &[]).await).await;
        let r = post(
            &app,
            "/oauth/token",
            None,
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_invalid_client(&r).await;
        let r = post(
            &app,
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct horse"),
                ("client_id", &c.id),
            ],
        )
        .await;
        assert_invalid_client(&r).await;
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .header("authorization", "Basic !!!not-base64")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_invalid_client(&fixtures::reply(res).await).await;

        // invalid_grant: wrong password, unknown user, disabled user — the
        // same bytes for all three.
        let bad_pw = password_grant(&app, &c, &[]).await;
        assert_eq!(bad_pw.status, 200);
        let wrong_pw = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wrong horse"),
            ],
        )
        .await;
        let no_user = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "nobody"),
                ("password", "correct horse"),
            ],
        )
        .await;
        user(&db, "dora", "correct horse", &["writer"]);
        authd::manage::users::set_disabled(
            &mut fixtures::conn(&db),
            "dora",
            true,
            authd::clock::Clock::system().now(),
        )
        .unwrap();
        let disabled = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "dora"),
                ("password", "correct horse"),
            ],
        )
        .await;
        for r in [&wrong_pw, &no_user, &disabled] {
            r.assert_error(400, "invalid_grant");
            assert_eq!(r.header("cache-control"), Some("no-store"));
        }
        assert_eq!(wrong_pw.raw, no_user.raw, "unknown user is distinguishable");
        assert_eq!(
            wrong_pw.raw, disabled.raw,
            "disabled user is distinguishable"
        );

        // unsupported_grant_type
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[("grant_type", "implicit")],
        )
        .await;
        r.assert_error(400, "unsupported_grant_type");

        // unauthorized_client: a grant the client is not registered for;
        // client_credentials from a public client.
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[("grant_type", "client_credentials")],
        )
        .await;
        r.assert_error(400, "unauthorized_client");
        let public = ClientSpec::new(&db)
            .grants(&["password"])
            .scopes("posts:read")
            .public()
            .create();
        let r = post(
            &app,
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &public.id),
            ],
        )
        .await;
        r.assert_error(400, "unauthorized_client");

        // invalid_scope: outside the client's scopes; none left after the
        // user's roles; malformed.
        let r = password_grant(&app, &c, &[("scope", "admin")]).await;
        r.assert_error(400, "invalid_scope");
        let r = password_grant(&app, &c, &[("scope", "posts:delete")]).await;
        r.assert_error(400, "invalid_scope");
        let r = password_grant(&app, &c, &[("scope", "bad\"scope")]).await;
        r.assert_error(400, "invalid_scope");

        // invalid_request: missing parameter, repeated parameter, no
        // grant_type, a JSON body, a body that is not UTF-8.
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[("grant_type", "password"), ("username", "alice")],
        )
        .await;
        r.assert_error(400, "invalid_request");
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("username", "bob"),
                ("password", "x"),
            ],
        )
        .await;
        r.assert_error(400, "invalid_request");
        let r = post(&app, "/oauth/token", Some(&c), &[("username", "alice")]).await;
        r.assert_error(400, "invalid_request");
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .json(&serde_json::json!({"grant_type": "password"}))
            .send()
            .await
            .unwrap();
        let r = fixtures::reply(res).await;
        r.assert_error(400, "invalid_request");
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("pragma"), Some("no-cache"));
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![0xff, 0xfe, b'=', 0x80])
            .send()
            .await
            .unwrap();
        let r = fixtures::reply(res).await;
        r.assert_error(400, "invalid_request");
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=".repeat(20_000))
            .send()
            .await
            .unwrap();
        let r = fixtures::reply(res).await;
        r.assert_error(400, "invalid_request");

        // Input that a database could choke on is still a 4xx, never a 500.
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "al\0ice"),
                ("password", "x"),
            ],
        )
        .await;
        r.assert_error(400, "invalid_request");
        let nul_client = fixtures::TestClient {
            id: "a\0b".into(),
            secret: Some("s".into()),
        };
        assert_invalid_client(&password_grant(&app, &nul_client, &[]).await).await;
        let long_user = "u".repeat(10_000);
        let r = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", &long_user),
                ("password", "x"),
            ],
        )
        .await;
        r.assert_error(400, "invalid_grant");

        // GET: 405 with Allow: POST.
        let res = app.http.get(app.url("/oauth/token")).send().await.unwrap();
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers().get("allow").unwrap(), "POST");
        app.stop().await;
    }
}
