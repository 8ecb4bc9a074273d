//! Users' profiles (email, name): set from the command line and the
//! registration form, listed, and released as OpenID Connect claims by
//! the `profile` and `email` scopes, always as the profile is now. On
//! every backend.

use crate::support::browser::{csrf_token, Browser};
use crate::support::fixtures::{password_grant, post, reply, role, user, ClientSpec, Reply};
use crate::support::helpers::{authd_fails, authd_json, every_backend, on_every_backend, TestApp};

const PASSWORD: &str = "correct horse battery";

#[test]
fn the_command_line_sets_and_lists_profiles() {
    every_backend(|db| {
        let added = authd_json(
            &db,
            &[
                "user",
                "add",
                "bob",
                "--password-stdin",
                "--email",
                "bob@example.com",
                "--name",
                "Bob Builder",
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        assert_eq!(added["email"], "bob@example.com");
        assert_eq!(added["email_verified"], false);
        assert_eq!(added["name"], "Bob Builder");
        let set = authd_json(
            &db,
            &["user", "set", "bob", "--email-verified", "true"],
            None,
        );
        assert_eq!(set["email_verified"], true, "{set}");
        // A new address is unverified again; an empty name clears it.
        let set = authd_json(
            &db,
            &[
                "user",
                "set",
                "bob",
                "--email",
                "b@example.org",
                "--name",
                "",
            ],
            None,
        );
        assert_eq!(set["email"], "b@example.org");
        assert_eq!(set["email_verified"], false, "{set}");
        assert!(set["name"].is_null(), "{set}");
        let list = authd_json(&db, &["user", "list"], None);
        assert_eq!(list[0]["email"], "b@example.org", "{list}");
        assert!(list[0].get("name").is_some(), "{list}");
        for bad in ["not-an-address", "a b@example.com", "@example.com"] {
            let err = authd_fails(&db, &["user", "set", "bob", "--email", bad], None);
            assert!(err.contains("not an email address"), "{err}");
        }
        let err = authd_fails(&db, &["user", "set", "nobody", "--name", "x"], None);
        assert!(err.contains("nobody"), "{err}");
    });
}

async fn userinfo(app: &TestApp, r: &Reply) -> serde_json::Value {
    let token = r.body["access_token"].as_str().unwrap();
    let res = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let r = reply(res).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body
}

#[actix_web::test]
async fn claims_follow_the_profile_as_it_is_now() {
    on_every_backend(|db| async move {
        role(&db, "member", "openid profile email");
        let alice = user(&db, "alice", "correct horse", &["member"]);
        let c = ClientSpec::new(&db).scopes("openid profile email").create();
        let app = TestApp::spawn(&db).await;
        // No profile yet: neither name nor email.
        let r = password_grant(&app, &c, &[("scope", "openid profile email")]).await;
        assert_eq!(
            userinfo(&app, &r).await,
            serde_json::json!({"sub": alice, "preferred_username": "alice"})
        );
        authd_json(
            &db,
            &[
                "user",
                "set",
                "alice",
                "--email",
                "alice@example.com",
                "--name",
                "Alice A",
            ],
            None,
        );
        // The same token, the profile as it is now.
        assert_eq!(
            userinfo(&app, &r).await,
            serde_json::json!({
                "sub": alice, "preferred_username": "alice", "name": "Alice A",
                "email": "alice@example.com", "email_verified": false,
            })
        );
        // A refresh's ID token says the same; each scope releases its own.
        let refreshed = post(
            &app,
            "/oauth/token",
            Some(&c),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", r.body["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        let claims = id_claims(&app, &refreshed, &c.id).await;
        assert_eq!(claims["name"], "Alice A");
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], false);
        let r = password_grant(&app, &c, &[("scope", "openid email")]).await;
        let claims = id_claims(&app, &r, &c.id).await;
        assert!(claims.get("name").is_none() && claims.get("preferred_username").is_none());
        assert_eq!(claims["email"], "alice@example.com");
        let r = password_grant(&app, &c, &[("scope", "openid profile")]).await;
        let info = userinfo(&app, &r).await;
        assert!(info.get("email").is_none(), "{info}");
        assert_eq!(info["name"], "Alice A");
        app.stop().await;
    })
    .await;
}

async fn id_claims(app: &TestApp, r: &Reply, client_id: &str) -> serde_json::Value {
    assert_eq!(r.status, 200, "{}", r.raw);
    let id_token = r.body["id_token"].as_str().expect("an ID token");
    crate::support::fixtures::verify_with_jwks(app, id_token, client_id)
        .await
        .1
}

#[actix_web::test]
async fn the_registration_form_takes_an_optional_unverified_email() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_with(&db, &["--allow-registration"]).await;
        let browser = Browser::new(&app);
        for (username, email) in [("carol", "carol@example.com"), ("dave", "")] {
            let page = browser.get("/register").await;
            assert!(page.raw.contains(r#"<label for="email">"#), "{}", page.raw);
            let token = csrf_token(&page.raw).unwrap();
            let r = browser
                .post(
                    "/register",
                    &[
                        ("username", username),
                        ("email", email),
                        ("password", PASSWORD),
                        ("password_confirm", PASSWORD),
                        ("csrf_token", &token),
                    ],
                )
                .await;
            assert_eq!(r.status, 303, "{}", r.raw);
        }
        let list = authd_json(&db, &["user", "list"], None);
        let by_name = |n: &str| {
            list.as_array()
                .unwrap()
                .iter()
                .find(|u| u["username"] == n)
                .cloned()
                .unwrap()
        };
        assert_eq!(by_name("carol")["email"], "carol@example.com");
        assert_eq!(by_name("carol")["email_verified"], false);
        assert!(by_name("dave")["email"].is_null());
        // A malformed one re-shows the form with a message, never a 500.
        let page = browser.get("/register").await;
        let token = csrf_token(&page.raw).unwrap();
        let r = browser
            .post(
                "/register",
                &[
                    ("username", "erin"),
                    ("email", "erin at home"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("not an email address"), "{}", r.raw);
        app.stop().await;
    })
    .await;
}
