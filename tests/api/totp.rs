//! TOTP enrolment and recovery codes on `/account/security`
//! (docs/interface.md "Second factors"): a new secret as an `otpauth://`
//! URI and an inline SVG QR code, confirmed by a first code; only then
//! stored, sealed under the key file; ten recovery codes shown once;
//! regenerating them and turning TOTP off need a current code. On every
//! backend, on a manual clock.

use authd::clock::Clock;
use diesel::prelude::*;

use crate::support::browser::Browser;
use crate::support::code_flow::logged_in;
use crate::support::fixtures::{conn, user};
use crate::support::helpers::{on_every_backend, TestApp};
use crate::support::totp::{code, code_at, enrol, offer, recovery_codes};

/// The stored secret of `user_id`, as the database holds it.
fn stored_secret(db: &crate::support::helpers::TestDb, user_id: &str) -> Option<String> {
    use authd::db::schema::totp_secrets as t;
    t::table
        .find(user_id)
        .select(t::secret_sealed)
        .get_result(&mut conn(db))
        .optional()
        .unwrap()
}

#[actix_web::test]
async fn enrolment_needs_a_right_first_code_and_shows_ten_recovery_codes_once() {
    on_every_backend(|db| async move {
        let alice = user(&db, "alice", "correct horse", &[]);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        // Signed in only.
        let anonymous = Browser::new(&app).get("/account/security").await;
        assert_eq!(anonymous.status, 303);
        assert_eq!(
            anonymous.header("location"),
            Some("/login?next=%2Faccount%2Fsecurity")
        );

        let browser = logged_in(&app, "alice").await;
        let page = browser.get("/account/security").await;
        assert_eq!(page.status, 200, "{}", page.raw);
        let first = offer(&page);
        let host = url::Url::parse(&app.issuer).unwrap();
        let issuer = host.host_str().unwrap();
        assert!(
            first
                .uri
                .starts_with(&format!("otpauth://totp/{issuer}:alice?secret=")),
            "{}",
            first.uri
        );
        assert!(
            first.uri.ends_with(&format!(
                "&issuer={issuer}&algorithm=SHA1&digits=6&period=30"
            )),
            "{}",
            first.uri
        );
        assert_eq!(first.secret.len(), 32, "160 bits in base32");
        // The QR code is inline SVG, and the page runs no script.
        assert!(page.raw.contains("<svg "), "{}", page.raw);
        assert!(!page.raw.contains("<script"), "{}", page.raw);
        // The form carries the secret only sealed.
        assert!(!first.sealed.contains(&first.secret));
        // Each visit offers a new secret; nothing is stored yet.
        let again = offer(&browser.get("/account/security").await);
        assert_ne!(again.secret, first.secret);
        assert_eq!(stored_secret(&db, &alice), None);

        // A wrong code: the same secret again, nothing stored.
        let now = app.clock.now();
        let wrong = (code_at(&first.secret, now).parse::<u32>().unwrap() + 1) % 1_000_000;
        let r = browser
            .post(
                "/account/security/totp",
                &[
                    ("csrf_token", &first.csrf),
                    ("secret", &first.sealed),
                    ("code", &format!("{wrong:06}")),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("does not match"), "{}", r.raw);
        assert_eq!(offer(&r).secret, first.secret, "the same secret to retry");
        assert!(recovery_codes(&r).is_empty());
        assert_eq!(stored_secret(&db, &alice), None);

        // Without the session's CSRF token: refused.
        let r = browser
            .post(
                "/account/security/totp",
                &[
                    ("secret", &first.sealed),
                    ("code", &code(&app, &first.secret)),
                ],
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.raw);

        // The right code (the clock a step on: the window takes it).
        app.clock.advance(30);
        let r = browser
            .post(
                "/account/security/totp",
                &[
                    ("csrf_token", &first.csrf),
                    ("secret", &first.sealed),
                    ("code", &code_at(&first.secret, now)),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let codes = recovery_codes(&r);
        assert_eq!(codes.len(), 10, "{}", r.raw);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        // Stored sealed, never in the clear.
        let sealed = stored_secret(&db, &alice).expect("stored");
        assert!(sealed.starts_with("enc:v1:"), "{sealed}");
        assert!(!sealed.contains(&first.secret));

        // The page now says it is on, shows no secret and no codes.
        let page = browser.get("/account/security").await;
        assert!(page.raw.contains("unused recovery codes"), "{}", page.raw);
        assert!(page.raw.contains("You have 10 unused"), "{}", page.raw);
        assert!(!page.raw.contains("otpauth://"), "{}", page.raw);
        assert!(recovery_codes(&page).is_empty());
        for c in &codes {
            assert!(!page.raw.contains(c.as_str()));
        }
        // Posting the form again changes nothing.
        let r = browser
            .post(
                "/account/security/totp",
                &[
                    ("csrf_token", &first.csrf),
                    ("secret", &first.sealed),
                    ("code", &code(&app, &first.secret)),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert_eq!(stored_secret(&db, &alice), Some(sealed));
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn the_pending_secret_cannot_be_altered_or_taken_from_another_user() {
    on_every_backend(|db| async move {
        user(&db, "alice", "correct horse", &[]);
        let bob = user(&db, "bob", "correct horse", &[]);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let alice_browser = logged_in(&app, "alice").await;
        let bob_browser = logged_in(&app, "bob").await;
        let alice_offer = offer(&alice_browser.get("/account/security").await);
        let bob_offer = offer(&bob_browser.get("/account/security").await);

        // A secret of the attacker's choosing, in place of the sealed one.
        let r = bob_browser
            .post(
                "/account/security/totp",
                &[
                    ("csrf_token", &bob_offer.csrf),
                    ("secret", &bob_offer.secret),
                    ("code", &code(&app, &bob_offer.secret)),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("expired"), "{}", r.raw);
        // The sealed value altered by one character.
        let mut altered = bob_offer.sealed.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        let r = bob_browser
            .post(
                "/account/security/totp",
                &[
                    ("csrf_token", &bob_offer.csrf),
                    ("secret", &altered),
                    ("code", &code(&app, &bob_offer.secret)),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        // Alice's sealed secret, with its right code, in Bob's session.
        let r = bob_browser
            .post(
                "/account/security/totp",
                &[
                    ("csrf_token", &bob_offer.csrf),
                    ("secret", &alice_offer.sealed),
                    ("code", &code(&app, &alice_offer.secret)),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert_eq!(stored_secret(&db, &bob), None);
        // An offer older than half an hour is stale (in a new session:
        // the old one has ended by then).
        app.clock.advance(31 * 60);
        let bob_browser = logged_in(&app, "bob").await;
        let csrf = offer(&bob_browser.get("/account/security").await).csrf;
        let r = bob_browser
            .post(
                "/account/security/totp",
                &[
                    ("csrf_token", &csrf),
                    ("secret", &bob_offer.sealed),
                    ("code", &code(&app, &bob_offer.secret)),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert_eq!(stored_secret(&db, &bob), None);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn new_recovery_codes_and_turning_off_need_a_current_code() {
    on_every_backend(|db| async move {
        let alice = user(&db, "alice", "correct horse", &[]);
        let app = TestApp::spawn_clocked(&db, &[], Clock::manual_from_now()).await;
        let browser = logged_in(&app, "alice").await;
        let (secret, old_codes) = enrol(&app, &browser).await;
        let page = browser.get("/account/security").await;
        let csrf = crate::support::browser::csrf_token(&page.raw).unwrap();

        // No code, or a wrong one: nothing changes.
        for wrong in ["", "000000", "abcd-efgh-ijkl-mnop"] {
            let r = browser
                .post(
                    "/account/security/recovery-codes",
                    &[("csrf_token", &csrf), ("code", wrong)],
                )
                .await;
            assert_eq!(r.status, 400, "{wrong:?}: {}", r.raw);
            assert!(recovery_codes(&r).is_empty());
        }
        // The code that confirmed the enrolment was used: not again.
        let used = code_at(&secret, app.clock.now() - 30);
        let r = browser
            .post(
                "/account/security/recovery-codes",
                &[("csrf_token", &csrf), ("code", &used)],
            )
            .await;
        assert_eq!(r.status, 400, "a replayed code: {}", r.raw);
        // Without the CSRF token: refused before the code is looked at.
        let r = browser
            .post(
                "/account/security/recovery-codes",
                &[("code", &code(&app, &secret))],
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.raw);

        // A current code: ten new codes, the old ones void.
        let r = browser
            .post(
                "/account/security/recovery-codes",
                &[("csrf_token", &csrf), ("code", &code(&app, &secret))],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let new_codes = recovery_codes(&r);
        assert_eq!(new_codes.len(), 10);
        assert!(new_codes.iter().all(|c| !old_codes.contains(c)));
        let hashes: i64 = {
            use authd::db::schema::recovery_codes as rc;
            rc::table
                .filter(rc::user_id.eq(&alice))
                .count()
                .get_result(&mut conn(&db))
                .unwrap()
        };
        assert_eq!(hashes, 10, "the old set is gone");
        // An old recovery code no longer proves anything here.
        let r = browser
            .post(
                "/account/security/totp/remove",
                &[("csrf_token", &csrf), ("code", &old_codes[0])],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(stored_secret(&db, &alice).is_some());

        // A new recovery code turns it off: secret and codes gone.
        let r = browser
            .post(
                "/account/security/totp/remove",
                &[("csrf_token", &csrf), ("code", &new_codes[3])],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.raw);
        assert_eq!(stored_secret(&db, &alice), None);
        let page = browser.get("/account/security").await;
        assert!(
            page.raw.contains("otpauth://totp/"),
            "a new offer: {}",
            page.raw
        );
        app.stop().await;
    })
    .await;
}
