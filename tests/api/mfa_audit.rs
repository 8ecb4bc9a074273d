//! The audit trail of second factors, from the real binary at debug
//! level (docs/interface.md "Second factors"): enrolment, a login
//! waiting for its second step, a wrong and a right code, new recovery
//! codes, turning TOTP off; and never a TOTP secret or a recovery code in
//! the log. Codes follow the system clock here, so each TOTP code is used
//! once and recovery codes do the rest.

use crate::support::browser::{csrf_token, Browser};
use crate::support::helpers::{authd_logging, on_every_backend};
use crate::support::process::ServerProcess;
use crate::support::totp::{code_at, offer, recovery_codes, second_step};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The audit lines of `log` for `event` with `outcome`.
fn events<'a>(log: &'a str, event: &str, outcome: &str) -> Vec<&'a str> {
    let field = format!("event={event} outcome={outcome}");
    log.lines()
        .filter(|l| l.contains("authd::audit") && l.contains(&field))
        .collect()
}

#[actix_web::test]
async fn second_factors_are_audited_and_never_logged() {
    on_every_backend(|db| async move {
        let server = ServerProcess::start_logging(&db, &[], "debug");
        let out = authd_logging(
            &db,
            &["user", "add", "alice", "--password-stdin"],
            Some("correct horse battery\n"),
            "warn",
        );
        assert!(out.status.success());
        let browser = Browser::at(&server.base);
        let r = browser.log_in("alice", "correct horse battery").await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let page = browser.get("/account/security").await;
        let o = offer(&page);
        let r = browser
            .post(
                "/account/security/totp",
                &[
                    ("csrf_token", &o.csrf),
                    ("secret", &o.sealed),
                    ("code", &code_at(&o.secret, now())),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let first = recovery_codes(&r);

        let other = Browser::at(&server.base);
        let r = other.log_in("alice", "correct horse battery").await;
        let step = r.header("location").unwrap().to_string();
        assert_eq!(
            second_step(&other, &step, "aaaa-aaaa-aaaa-aaaa")
                .await
                .status,
            400
        );
        assert_eq!(second_step(&other, &step, &first[0]).await.status, 303);
        let csrf = csrf_token(&other.get("/account/security").await.raw).unwrap();
        let r = other
            .post(
                "/account/security/recovery-codes",
                &[("csrf_token", &csrf), ("code", &first[1])],
            )
            .await;
        let second = recovery_codes(&r);
        assert_eq!(second.len(), 10, "{}", r.raw);
        let r = other
            .post(
                "/account/security/totp/remove",
                &[("csrf_token", &csrf), ("code", &second[0])],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let log = server.stop();

        for (event, outcome, field) in [
            ("totp_enrolled", "success", "actor=account"),
            ("recovery_codes_generated", "success", "count=10"),
            ("login", "pending", "next=code"),
            ("second_factor", "failure", "reason=wrong_code"),
            ("second_factor", "success", "method=recovery_code"),
            ("totp_removed", "success", "recovery_codes=9"),
        ] {
            let lines = events(&log, event, outcome);
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains(field) && l.contains("remote=127.0.0.1")),
                "[{}] no {event} {outcome} with {field}: {lines:?}\n{log}",
                db.label()
            );
        }
        assert_eq!(events(&log, "recovery_codes_generated", "success").len(), 2);
        for secret in first.iter().chain(&second).chain([&o.secret]) {
            assert!(!log.contains(secret.as_str()), "{secret} in the log");
        }
        assert!(!log.contains(&o.sealed), "the sealed secret in the log");
    })
    .await;
}
