//! The log of a whole run, at debug level: the admin commands' and the
//! server's. It holds an `authd::audit` line for each security event and
//! no password, client secret or token.

use serde_json::Value;

use crate::support::fixtures::{reply, Reply};
use crate::support::helpers::{authd_logging, on_every_backend, TestDb};
use crate::support::process::ServerProcess;

const PASSWORD: &str = "correct horse battery staple";
const WRONG_PASSWORD: &str = "Tr0ub4dor&3 not it";

/// Runs an admin command with `--json` at debug level, appends its stderr
/// to `log`, and returns its output.
fn admin(db: &TestDb, log: &mut String, args: &[&str], stdin: Option<&str>) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = authd_logging(db, &all, stdin, "debug");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "[{}] {args:?}: {stderr}", db.label());
    log.push_str(&stderr);
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

struct Client {
    base: String,
    id: String,
    secret: String,
    http: reqwest::Client,
}

impl Client {
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.id, Some(&self.secret))
            .form(form);
        reply(req.send().await.expect("request")).await
    }

    async fn login(&self, password: &str) -> Reply {
        let form = [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", password),
        ];
        self.post("/oauth/token", &form).await
    }

    async fn refresh(&self, token: &str) -> Reply {
        let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
        self.post("/oauth/token", &form).await
    }
}

/// The access and refresh tokens of a successful token response.
fn tokens(r: &Reply) -> [String; 2] {
    assert_eq!(r.status, 200, "{}", r.raw);
    ["access_token", "refresh_token"].map(|k| r.body[k].as_str().expect(k).to_string())
}

/// The audit lines of `log` for `event`.
fn events<'a>(log: &'a str, event: &str) -> Vec<&'a str> {
    let field = format!("event={event} ");
    log.lines()
        .filter(|l| l.contains("authd::audit") && l.contains(&field))
        .collect()
}

#[actix_web::test]
async fn a_whole_run_logs_audit_events_and_no_secret() {
    on_every_backend(|db| async move {
        let label = db.label();
        let server = ServerProcess::start_logging(&db, &[], "debug");
        let mut log = String::new();
        admin(
            &db,
            &mut log,
            &["role", "add", "writer", "--scope", "posts:read"],
            None,
        );
        let user = admin(
            &db,
            &mut log,
            &[
                "user",
                "add",
                "alice",
                "--role",
                "writer",
                "--password-stdin",
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        let created = admin(
            &db,
            &mut log,
            &["client", "add", "app", "--scope", "posts:read"],
            None,
        );
        admin(&db, &mut log, &["keys", "rotate"], None);
        let client = Client {
            base: server.base.clone(),
            id: created["client_id"].as_str().unwrap().to_string(),
            secret: created["client_secret"].as_str().unwrap().to_string(),
            http: reqwest::Client::new(),
        };

        let [access1, refresh1] = tokens(&client.login(PASSWORD).await);
        let [access2, refresh2] = tokens(&client.refresh(&refresh1).await);
        client
            .refresh(&refresh1)
            .await
            .assert_error(400, "invalid_grant");
        let [access3, refresh3] = tokens(&client.login(PASSWORD).await);
        for token in [&refresh3, &access3] {
            let r = client.post("/oauth/revoke", &[("token", token)]).await;
            assert_eq!(r.status, 200, "[{label}] {}", r.raw);
        }
        client
            .login(WRONG_PASSWORD)
            .await
            .assert_error(400, "invalid_grant");
        log.push_str(&server.stop());

        let mut secrets = vec![
            PASSWORD.to_string(),
            WRONG_PASSWORD.to_string(),
            client.secret.clone(),
        ];
        for jwt in [&access1, &access2, &access3] {
            secrets.push(jwt.clone());
            // A leak of the signature alone is a leak too.
            secrets.push(jwt.rsplit('.').next().unwrap().to_string());
        }
        secrets.extend([refresh1, refresh2, refresh3]);
        for secret in &secrets {
            assert!(
                !log.contains(secret.as_str()),
                "[{label}] {secret:?} in the log:\n{log}"
            );
        }

        for event in [
            "login",
            "role_added",
            "user_added",
            "client_added",
            "key_rotated",
            "refresh_token_reused",
            "token_revoked",
        ] {
            assert!(
                !events(&log, event).is_empty(),
                "[{label}] no {event}:\n{log}"
            );
        }
        let user_id = format!("user_id=\"{}\"", user["id"].as_str().unwrap());
        let client_id = format!("client_id=\"{}\"", client.id);
        let reuse = events(&log, "refresh_token_reused");
        assert_eq!(reuse.len(), 1, "[{label}] {reuse:?}");
        assert!(
            reuse[0].contains(&user_id) && reuse[0].contains(&client_id),
            "{reuse:?}"
        );
        assert!(
            reuse[0].contains("revoked=2"),
            "the used token and its successor: {reuse:?}"
        );
        let logins = events(&log, "login");
        assert!(
            logins
                .iter()
                .any(|l| l.contains("outcome=success") && l.contains(&user_id)),
            "[{label}] {logins:?}"
        );
        assert!(
            logins.iter().any(|l| l.contains("outcome=failure")
                && l.contains("reason=wrong_password")
                && l.contains("remote=127.0.0.1")),
            "[{label}] {logins:?}"
        );
        let revoked = events(&log, "token_revoked");
        for kind in ["kind=refresh_token", "kind=access_token"] {
            assert!(
                revoked.iter().any(|l| l.contains(kind)
                    && l.contains(&client_id)
                    && l.contains("remote=127.0.0.1")),
                "[{label}] {kind}: {revoked:?}"
            );
        }
    })
    .await;
}
