//! The log of the authorization code flow, from the real binary at debug
//! level: an audit line for each consent and for a reused code, and no
//! code, verifier, CSRF token, session id, password or token anywhere.

use crate::support::browser::{csrf_token, Browser};
use crate::support::code_flow::{param, pkce, redirected, request, setup, REDIRECT};
use crate::support::fixtures::reply;
use crate::support::helpers::on_every_backend;
use crate::support::process::ServerProcess;

#[actix_web::test]
async fn the_code_flow_logs_consents_and_reuse_but_no_secret() {
    on_every_backend(|db| async move {
        let label = db.label();
        let c = setup(&db);
        let server = ServerProcess::start_logging(&db, &[], "debug");
        let browser = Browser::at(&server.base);
        let login = browser.log_in("alice", "correct horse").await;
        assert_eq!(login.status, 303, "[{label}] {}", login.raw);
        let p = pkce();
        let path = request(&c.id, &p.challenge, &[]);
        let mut secrets = vec![
            "correct horse".to_string(),
            p.verifier.clone(),
            browser.cookie("authd_session").expect("a session"),
        ];

        for decision in ["deny", "allow"] {
            let page = browser.get(&path).await;
            let token = csrf_token(&page.raw).expect("a consent form");
            secrets.push(token.clone());
            let r = browser
                .post(&path, &[("csrf_token", &token), ("decision", decision)])
                .await;
            let pairs = redirected(&r);
            if decision == "allow" {
                secrets.push(param(&pairs, "code"));
            }
        }
        let code = secrets.last().unwrap().clone();
        let exchange = || async {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", p.verifier.as_str()),
            ];
            let req = browser
                .http
                .post(format!("{}/oauth/token", server.base))
                .basic_auth(&c.id, c.secret.as_deref())
                .form(&form);
            reply(req.send().await.unwrap()).await
        };
        let first = exchange().await;
        assert_eq!(first.status, 200, "[{label}] {}", first.raw);
        for key in ["access_token", "refresh_token"] {
            let token = first.body[key].as_str().unwrap().to_string();
            secrets.push(token.rsplit('.').next().unwrap().to_string());
            secrets.push(token);
        }
        exchange().await.assert_error(400, "invalid_grant");
        let log = server.stop();

        for secret in &secrets {
            assert!(
                !log.contains(secret.as_str()),
                "[{label}] {secret:?} in:\n{log}"
            );
        }
        let audit = |event: &str| -> Vec<String> {
            log.lines()
                .filter(|l| l.contains("authd::audit") && l.contains(&format!("event={event} ")))
                .map(str::to_string)
                .collect()
        };
        let client_id = format!("client_id=\"{}\"", c.id);
        let consents = audit("consent");
        assert_eq!(consents.len(), 2, "[{label}] {consents:?}");
        assert!(consents[0].contains("outcome=denied") && consents[0].contains(&client_id));
        assert!(consents[1].contains("outcome=allowed"), "{consents:?}");
        let reused = audit("authorization_code_reused");
        assert_eq!(reused.len(), 1, "[{label}] {log}");
        assert!(
            reused[0].contains(&client_id)
                && reused[0].contains("revoked_refresh=1")
                && reused[0].contains("revoked_access=true"),
            "{reused:?}"
        );
    })
    .await;
}
