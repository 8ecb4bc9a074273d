//! The admin API against the command line and its description
//! (docs/interface.md "Administration"): the same refusals word for
//! word, the audit trail's actor, the OpenAPI document checked by an
//! independent validator, and `--admin-bind`. On every backend.

use serde_json::{json, Value};

use crate::support::admin::{admin_token, call, call_at, cli_message};
use crate::support::fixtures::{role, user, ClientSpec};
use crate::support::helpers::{authd, authd_fails, on_every_backend, TestApp};
use crate::support::process::ServerProcess;

/// CLI arguments, its stdin; the API's method, path, body; its status.
type Case<'a> = (Vec<&'a str>, Option<&'a str>, &'a str, &'a str, Value, u16);

#[actix_web::test]
async fn refusals_read_as_the_command_line_says_them() {
    on_every_backend(|db| async move {
        let label = db.label();
        role(&db, "writer", "posts:read");
        user(&db, "alice", "correct horse battery", &["writer"]);
        ClientSpec::new(&db).name("taken").create();
        let app = TestApp::spawn(&db).await;
        let t = admin_token(&app, &db).await;
        let pw = Some("correct horse battery\n");
        let short = Some("short\n");
        let cases: Vec<Case> = vec![
            (
                vec!["user", "add", "a b", "--password-stdin"],
                pw,
                "POST",
                "/admin/v1/users",
                json!({"username": "a b", "password": "correct horse battery"}),
                400,
            ),
            (
                vec!["user", "add", "ALICE", "--password-stdin"],
                pw,
                "POST",
                "/admin/v1/users",
                json!({"username": "ALICE", "password": "correct horse battery"}),
                409,
            ),
            (
                vec!["user", "add", "bob", "--password-stdin"],
                short,
                "POST",
                "/admin/v1/users",
                json!({"username": "bob", "password": "short"}),
                400,
            ),
            (
                vec!["user", "add", "bob", "--password-stdin", "--email", "nope"],
                pw,
                "POST",
                "/admin/v1/users",
                json!({"username": "bob", "password": "correct horse battery",
                "email": "nope"}),
                400,
            ),
            (
                vec!["user", "add", "bob", "--password-stdin", "--role", "ghost"],
                pw,
                "POST",
                "/admin/v1/users",
                json!({"username": "bob", "password": "correct horse battery",
                "roles": ["ghost"]}),
                400,
            ),
            (
                vec!["user", "set", "alice", "--email", "no at sign"],
                None,
                "PATCH",
                "/admin/v1/users/alice",
                json!({"email": "no at sign"}),
                400,
            ),
            (
                vec!["user", "show", "ghost"],
                None,
                "GET",
                "/admin/v1/users/ghost",
                json!(null),
                404,
            ),
            (
                vec!["role", "add", "writer", "--scope", "x"],
                None,
                "POST",
                "/admin/v1/roles",
                json!({"name": "writer", "scopes": ["x"]}),
                409,
            ),
            (
                vec!["role", "add", "r2", "--scope", "bad\"scope"],
                None,
                "POST",
                "/admin/v1/roles",
                json!({"name": "r2", "scopes": ["bad\"scope"]}),
                400,
            ),
            (
                vec!["role", "delete", "writer"],
                None,
                "DELETE",
                "/admin/v1/roles/writer",
                json!(null),
                409,
            ),
            (
                vec!["role", "set", "ghost", "--scope", "x"],
                None,
                "PATCH",
                "/admin/v1/roles/ghost",
                json!({"scopes": ["x"]}),
                404,
            ),
            (
                vec![
                    "client",
                    "add",
                    "svc",
                    "--public",
                    "--grant",
                    "client_credentials",
                ],
                None,
                "POST",
                "/admin/v1/clients",
                json!({"name": "svc", "public": true, "grants": ["client_credentials"]}),
                400,
            ),
            (
                vec!["client", "add", "svc", "--grant", "authorization_code"],
                None,
                "POST",
                "/admin/v1/clients",
                json!({"name": "svc", "grants": ["authorization_code"]}),
                400,
            ),
            (
                vec!["client", "add", "svc", "--client-id", "bad id"],
                None,
                "POST",
                "/admin/v1/clients",
                json!({"name": "svc", "client_id": "bad id"}),
                400,
            ),
            (
                vec![
                    "client",
                    "add",
                    "svc",
                    "--redirect-uri",
                    "http://evil.example/cb",
                    "--grant",
                    "authorization_code",
                ],
                None,
                "POST",
                "/admin/v1/clients",
                json!({"name": "svc", "grants": ["authorization_code"],
                "redirect_uris": ["http://evil.example/cb"]}),
                400,
            ),
            (
                vec!["client", "update", "ghost", "--name", "x"],
                None,
                "PATCH",
                "/admin/v1/clients/ghost",
                json!({"name": "x"}),
                404,
            ),
            (
                vec!["client", "rotate-secret", "ghost"],
                None,
                "POST",
                "/admin/v1/clients/ghost/secret",
                json!(null),
                404,
            ),
        ];
        for (args, stdin, method, path, body, status) in cases {
            let said = cli_message(&authd_fails(&db, &args, stdin));
            let body = (!body.is_null()).then_some(body);
            let r = call(&app, method, path, Some(&t), body).await;
            assert_eq!(r.status, status, "[{label}] {method} {path}: {}", r.raw);
            assert_eq!(
                r.body["error_description"].as_str(),
                Some(said.as_str()),
                "[{label}] {args:?} vs {method} {path}"
            );
        }
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn every_change_is_audited_with_its_caller() {
    on_every_backend(|db| async move {
        let label = db.label();
        let server = ServerProcess::start_logging(&db, &[], "info");
        let admin = crate::support::admin::service_client(&db, "authd:admin");
        let http = reqwest::Client::new();
        let token: Value = http
            .post(server.url("/oauth/token"))
            .basic_auth(&admin.id, admin.secret.as_deref())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().expect("a token");
        let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
            let mut req = http.request(method, server.url(path)).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            req.send()
        };
        use reqwest::Method;
        let steps = [
            (
                Method::POST,
                "/admin/v1/roles",
                Some(json!({"name": "ops", "scopes": ["a"]})),
            ),
            (
                Method::PATCH,
                "/admin/v1/roles/ops",
                Some(json!({"scopes": ["b"]})),
            ),
            (
                Method::POST,
                "/admin/v1/users",
                Some(json!({"username": "carol", "roles": ["ops"]})),
            ),
            (
                Method::PATCH,
                "/admin/v1/users/carol",
                Some(json!({"disabled": true, "roles": []})),
            ),
            (Method::DELETE, "/admin/v1/users/carol", None),
            (Method::DELETE, "/admin/v1/roles/ops", None),
            (
                Method::POST,
                "/admin/v1/clients",
                Some(json!({"name": "x", "client_id": "x1"})),
            ),
            (
                Method::PATCH,
                "/admin/v1/clients/x1",
                Some(json!({"name": "y"})),
            ),
            (Method::POST, "/admin/v1/clients/x1/secret", None),
            (Method::DELETE, "/admin/v1/clients/x1", None),
        ];
        for (method, path, body) in steps {
            let r = send(method.clone(), path, body).await.unwrap();
            assert!(
                r.status().is_success(),
                "[{label}] {method} {path}: {}",
                r.status()
            );
        }
        let log = server.stop();
        let actor = format!(
            r#"actor=api actor_id="{0}" actor_client_id="{0}""#,
            admin.id
        );
        for event in [
            "role_added",
            "role_scopes_set",
            "user_added",
            "user_disabled",
            "role_revoked",
            "user_deleted",
            "role_deleted",
            "client_added",
            "client_updated",
            "client_secret_rotated",
            "client_removed",
        ] {
            let field = format!("event={event} ");
            let line = log
                .lines()
                .find(|l| l.contains("authd::audit") && l.contains(&field))
                .unwrap_or_else(|| panic!("[{label}] no {event} line in:\n{log}"));
            assert!(line.contains(&actor), "[{label}] {line}");
        }
        assert!(!log.contains(token), "[{label}] the token is never logged");
    })
    .await;
}

/// The OpenAPI validator: `AUTHD_OPENAPI_VALIDATOR`, else
/// `openapi-spec-validator` on PATH (.ci/run installs it).
fn validator() -> Option<String> {
    let named = std::env::var("AUTHD_OPENAPI_VALIDATOR")
        .unwrap_or_else(|_| "openapi-spec-validator".to_string());
    let runs = std::process::Command::new(&named)
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    runs.then_some(named)
}

#[actix_web::test]
async fn the_openapi_document_is_valid_and_names_every_operation() {
    let Some(validator) = validator() else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true but openapi-spec-validator is missing: the document must be validated"
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"OpenAPI validation skipped: pip install openapi-spec-validator\n",
        );
        return;
    };
    on_every_backend(|db| {
        let validator = validator.clone();
        async move {
            let app = TestApp::spawn(&db).await;
            let r = call(&app, "GET", "/admin/v1/openapi.json", None, None).await;
            assert_eq!(r.status, 200, "{}", r.raw);
            let file = db.dir().join("openapi.json");
            std::fs::write(&file, &r.raw).unwrap();
            let out = std::process::Command::new(&validator)
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let paths = r.body["paths"].as_object().expect("paths");
            let mut operations = Vec::new();
            for (path, item) in paths {
                for method in item.as_object().unwrap().keys() {
                    operations.push(format!("{} {path}", method.to_uppercase()));
                }
            }
            operations.sort();
            assert_eq!(operations.len(), 16, "{operations:?}");
            // Each operation it names is served (a 401 without a token).
            for op in &operations {
                let (method, path) = op.split_once(' ').unwrap();
                let path = path.replace(['{', '}'], "");
                let r = call(&app, method, &path, None, None).await;
                assert_eq!(r.status, 401, "{op}: {}", r.raw);
            }
            app.stop().await;
        }
    })
    .await;
}

#[actix_web::test]
async fn admin_bind_serves_the_api_there_only() {
    on_every_backend(|db| async move {
        let label = db.label();
        let app = TestApp::spawn_with(&db, &["--admin-bind", "127.0.0.1:0"]).await;
        let t = admin_token(&app, &db).await;
        let here = call(&app, "GET", "/admin/v1/users", Some(&t), None).await;
        assert_eq!(here.status, 404, "[{label}] not on --bind: {}", here.raw);
        let base = app.admin_base.clone().expect("an admin listener");
        let there = call_at(&app, &base, "GET", "/admin/v1/users", Some(&t), None).await;
        assert_eq!(there.status, 200, "[{label}] {}", there.raw);
        let none = call_at(&app, &base, "GET", "/admin/v1/users", None, None).await;
        assert_eq!(none.status, 401, "[{label}]");
        app.stop().await;
        let out = authd(&db, &["--admin-bind", "nowhere", "user", "list"], None);
        assert!(!out.status.success(), "[{label}] a bad address is refused");
    })
    .await;
}
