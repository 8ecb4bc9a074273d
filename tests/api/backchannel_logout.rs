//! Back-channel logout (docs/interface.md "Back-channel logout"): when a
//! session ends, every app that got an ID token in it and registered a
//! `backchannel_logout_uri` gets a signed logout token, by a delivery that
//! retries with back-off, survives a restart, is sent once by one of
//! several instances, and never holds up the logout. On every backend.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use authd::backchannel::{backoff_secs, BACKCHANNEL_LOGOUT_EVENT, MAX_ATTEMPTS};
use authd::clock::Clock;
use authd::db::logout_notices::{self, Notice};
use authd::db::session_clients::{self, SessionClient};
use authd::db::AnyConnection;
use authd::keys::SigningAlg;
use diesel::RunQueryDsl;
use serde_json::Value;

use crate::support::code_flow::{
    code_for, exchange, id_token_for, logged_in, pkce, request, REDIRECT,
};
use crate::support::fixtures::{
    conn, password_grant, role, user, verify_with_jwks, ClientSpec, TestClient,
};
use crate::support::helpers::{authd, every_backend, on_every_backend, TestApp, TestDb};
use crate::support::receiver::Receiver;

/// Long enough for a delivery that is due to arrive.
const SOON: Duration = Duration::from_secs(10);

/// Long enough to be fairly sure that nothing more is coming (the queue is
/// read every second).
const QUIET: Duration = Duration::from_millis(2500);

fn people(db: &TestDb) {
    role(db, "member", "openid posts:read");
    user(db, "alice", "correct horse", &["member"]);
    user(db, "bob", "correct horse", &["member"]);
}

/// An app for the code flow with `openid posts:read` that listens at
/// `receiver`.
fn listening(db: &TestDb, name: &str, receiver: &Receiver) -> TestClient {
    ClientSpec::new(db)
        .name(name)
        .grants(&["authorization_code"])
        .scopes("openid posts:read")
        .redirect_uri(REDIRECT)
        .backchannel_logout_uri(&receiver.uri())
        .create()
}

/// The verified claims of a token, for `audience`.
async fn claims_of(app: &TestApp, token: &str, audience: &str) -> Value {
    verify_with_jwks(app, token, audience).await.1
}

/// The `aud` and `sid` of each token, unverified (for sets).
fn aud_sid(tokens: &[String]) -> BTreeSet<(String, String)> {
    use base64::Engine;
    tokens
        .iter()
        .map(|t| {
            let part = t.split('.').nth(1).expect("a JWT");
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap();
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            (
                v["aud"].as_str().unwrap().into(),
                v["sid"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// The queued notices now.
fn queued(c: &mut AnyConnection) -> Vec<Notice> {
    logout_notices::all(c).unwrap()
}

/// Waits (letting the server run) until the queue satisfies `done`.
async fn wait_for_queue(c: &mut AnyConnection, what: &str, done: impl Fn(&[Notice]) -> bool) {
    let deadline = Instant::now() + SOON;
    loop {
        let notices = queued(c);
        if done(&notices) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {notices:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server on a manual clock, and an app `a` listening at a receiver.
struct Clocked {
    receiver: Receiver,
    a: TestClient,
    clock: Clock,
    app: TestApp,
}

async fn clocked(db: &TestDb) -> Clocked {
    people(db);
    let receiver = Receiver::start();
    let a = listening(db, "a", &receiver);
    let clock = Clock::manual_from_now();
    let app = TestApp::spawn_clocked(db, &[], clock.clone()).await;
    Clocked {
        receiver,
        a,
        clock,
        app,
    }
}

/// Signs alice in to `a` on `app`, takes `receiver` down and logs her
/// out; returns once the first delivery has failed, with a connection to
/// watch the queue.
async fn first_attempt_failed(
    db: &TestDb,
    app: &TestApp,
    receiver: &mut Receiver,
    a: &TestClient,
) -> AnyConnection {
    let alice = logged_in(app, "alice").await;
    id_token_for(app, &alice, a, "openid").await;
    receiver.stop();
    alice.log_out().await;
    let mut c = conn(db);
    wait_for_queue(&mut c, "a first failed attempt", |q| {
        q.len() == 1 && q[0].attempts == 1
    })
    .await;
    c
}

#[actix_web::test]
async fn the_logout_token_is_signed_like_id_tokens_and_names_the_session() {
    on_every_backend(|db| async move {
        people(&db);
        let receiver = Receiver::start();
        let a = ClientSpec::new(&db)
            .name("a")
            .grants(&["authorization_code"])
            .scopes("openid posts:read")
            .redirect_uri(REDIRECT)
            .backchannel_logout_uri(&receiver.uri())
            .id_token_alg(SigningAlg::Es256)
            .create();
        let elsewhere = listening(&db, "signed in another session", &receiver);
        let no_id_token = listening(&db, "no openid", &receiver);
        let app = TestApp::spawn(&db).await;

        let alice = logged_in(&app, "alice").await;
        let id_token = id_token_for(&app, &alice, &a, "openid posts:read").await;
        // Signed in to this one without openid: no ID token, nothing to tell.
        let p = pkce();
        let path = request(&no_id_token.id, &p.challenge, &[("scope", "posts:read")]);
        let code = code_for(&alice, &path).await;
        let r = exchange(&app, &no_id_token, &code, REDIRECT, &p.verifier).await;
        assert!(r.body.get("id_token").is_none(), "{}", r.raw);
        // An ID token in another session of alice's.
        let other = logged_in(&app, "alice").await;
        id_token_for(&app, &other, &elsewhere, "openid").await;

        let r = alice.log_out().await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let tokens = receiver.wait_for(1, SOON).await;
        receiver.assert_no_more_than(1, QUIET).await;

        let token = &tokens[0];
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
        assert_eq!(
            header.alg,
            jsonwebtoken::Algorithm::ES256,
            "the client's ID-token algorithm"
        );
        let claims = claims_of(&app, token, &a.id).await;
        let id_claims = claims_of(&app, &id_token, &a.id).await;
        assert_eq!(claims["iss"], app.issuer);
        assert_eq!(claims["aud"], a.id.as_str());
        assert_eq!(claims["sub"], id_claims["sub"]);
        assert_eq!(claims["sid"], id_claims["sid"]);
        assert_eq!(
            claims["events"],
            serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} })
        );
        assert!(claims.get("nonce").is_none(), "{claims}");
        assert!(!claims["jti"].as_str().unwrap_or("").is_empty(), "{claims}");
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!((1..=300).contains(&lifetime), "{claims}");
        // Delivered: nothing left queued.
        wait_for_queue(&mut conn(&db), "the queue empties", |q| q.is_empty()).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn rp_initiated_logout_tells_the_apps() {
    on_every_backend(|db| async move {
        people(&db);
        let receiver = Receiver::start();
        let a = listening(&db, "a", &receiver);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        let hint = id_token_for(&app, &alice, &a, "openid").await;
        let r = alice
            .get(&format!("/oauth/logout?id_token_hint={hint}"))
            .await;
        assert_eq!(r.status, 200, "signed out, on our page: {}", r.raw);
        let tokens = receiver.wait_for(1, SOON).await;
        let sid = claims_of(&app, &hint, &a.id).await["sid"].clone();
        assert_eq!(claims_of(&app, &tokens[0], &a.id).await["sid"], sid);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_disable_or_a_new_password_tells_every_session_of_the_user() {
    on_every_backend(|db| async move {
        people(&db);
        let receiver = Receiver::start();
        let a = listening(&db, "a", &receiver);
        let by_password = ClientSpec::new(&db)
            .name("password app")
            .grants(&["password"])
            .scopes("openid")
            .backchannel_logout_uri(&receiver.uri())
            .create();
        let app = TestApp::spawn(&db).await;
        let mut expected = BTreeSet::new();
        for _ in 0..2 {
            let alice = logged_in(&app, "alice").await;
            let id = id_token_for(&app, &alice, &a, "openid").await;
            expected.insert((
                a.id.clone(),
                claims_of(&app, &id, &a.id).await["sid"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ));
        }
        // The password grant has no browser session, but its sign-in has
        // a sid, which an app may keep.
        let r = password_grant(&app, &by_password, &[("scope", "openid")]).await;
        let id = r.body["id_token"]
            .as_str()
            .expect("an id_token")
            .to_string();
        let sid = claims_of(&app, &id, &by_password.id).await["sid"]
            .as_str()
            .unwrap()
            .to_string();
        expected.insert((by_password.id.clone(), sid));
        let bob = logged_in(&app, "bob").await;
        let bobs = id_token_for(&app, &bob, &a, "openid").await;
        let bobs_sid = claims_of(&app, &bobs, &a.id).await["sid"]
            .as_str()
            .unwrap()
            .to_string();

        // From the command line, another process: the server finds the
        // notices in the queue.
        run_cli(&db, &["user", "disable", "alice"], None);
        let tokens = receiver.wait_for(3, SOON).await;
        receiver.assert_no_more_than(3, QUIET).await;
        assert_eq!(aud_sid(&tokens), expected);

        run_cli(
            &db,
            &["user", "set-password", "bob", "--password-stdin"],
            Some("a brand new password\n"),
        );
        let tokens = receiver.wait_for(4, SOON).await;
        assert_eq!(
            aud_sid(&tokens[3..]),
            BTreeSet::from([(a.id.clone(), bobs_sid)])
        );
        assert!(bob.signed_in().await.is_none());
        app.stop().await;
    })
    .await;
}

/// A deleted user's sessions end before the user row goes, so their apps
/// are told as for a disable.
#[actix_web::test]
async fn deleting_a_user_tells_the_apps_of_their_sessions() {
    on_every_backend(|db| async move {
        people(&db);
        let receiver = Receiver::start();
        let a = listening(&db, "a", &receiver);
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        let id = id_token_for(&app, &alice, &a, "openid").await;
        let sid = claims_of(&app, &id, &a.id).await["sid"]
            .as_str()
            .unwrap()
            .to_string();

        run_cli(&db, &["user", "delete", "alice"], None);
        let tokens = receiver.wait_for(1, SOON).await;
        receiver.assert_no_more_than(1, QUIET).await;
        assert_eq!(aud_sid(&tokens), BTreeSet::from([(a.id.clone(), sid)]));
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_receiver_that_is_down_gets_the_token_once_it_is_back() {
    on_every_backend(|db| async move {
        let Clocked {
            mut receiver,
            a,
            clock,
            app,
        } = clocked(&db).await;
        let mut c = first_attempt_failed(&db, &app, &mut receiver, &a).await;
        let failed = &queued(&mut c)[0];
        assert_eq!(failed.next_attempt_at, clock.now() + backoff_secs(1));
        assert!(failed.last_error.is_some());

        receiver.restart();
        // Not due yet: nothing is sent before the back-off has passed.
        receiver.assert_no_more_than(0, QUIET).await;
        clock.advance(backoff_secs(1));
        receiver.wait_for(1, SOON).await;
        wait_for_queue(&mut c, "the queue empties", |q| q.is_empty()).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_pending_delivery_survives_a_restart() {
    on_every_backend(|db| async move {
        people(&db);
        let mut receiver = Receiver::start();
        let a = listening(&db, "a", &receiver);
        let clock = Clock::manual_from_now();
        // One issuer for both runs, as a deployment has.
        let settings = ["--issuer", "https://id.example"];
        let first = TestApp::spawn_clocked(&db, &settings, clock.clone()).await;
        let mut c = first_attempt_failed(&db, &first, &mut receiver, &a).await;
        let sid = queued(&mut c)[0].sid.clone();
        first.stop().await;

        receiver.restart();
        clock.advance(backoff_secs(1));
        let second = TestApp::spawn_clocked(&db, &settings, clock.clone()).await;
        let tokens = receiver.wait_for(1, SOON).await;
        assert_eq!(
            claims_of(&second, &tokens[0], &a.id).await["sid"],
            sid.as_str()
        );
        second.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_slow_receiver_does_not_hold_up_the_logout() {
    on_every_backend(|db| async move {
        people(&db);
        let receiver = Receiver::start();
        let a = listening(&db, "a", &receiver);
        let app = TestApp::spawn(&db).await;
        receiver.delay(Duration::from_secs(8));
        for _ in 0..2 {
            let alice = logged_in(&app, "alice").await;
            let hint = id_token_for(&app, &alice, &a, "openid").await;
            let started = Instant::now();
            let r = alice
                .get(&format!("/oauth/logout?id_token_hint={hint}"))
                .await;
            assert_eq!(r.status, 200, "{}", r.raw);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "the logout took {:?}",
                started.elapsed()
            );
        }
        // Both were sent, and are being answered slowly.
        receiver.wait_for(2, SOON).await;
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_delivery_is_given_up_after_the_last_attempt() {
    on_every_backend(|db| async move {
        let Clocked {
            receiver,
            a,
            clock,
            app,
        } = clocked(&db).await;
        receiver.answer(500);
        let alice = logged_in(&app, "alice").await;
        id_token_for(&app, &alice, &a, "openid").await;
        alice.log_out().await;
        let mut c = conn(&db);
        for attempt in 1..=MAX_ATTEMPTS as usize {
            receiver.wait_for(attempt, SOON).await;
            if attempt < MAX_ATTEMPTS as usize {
                wait_for_queue(&mut c, "the attempt recorded", |q| {
                    q.len() == 1 && q[0].attempts == attempt as i64
                })
                .await;
                clock.advance(backoff_secs(attempt as i64));
            }
        }
        wait_for_queue(&mut c, "given up", |q| q.is_empty()).await;
        clock.advance(3600);
        receiver
            .assert_no_more_than(MAX_ATTEMPTS as usize, QUIET)
            .await;
        // A fresh token for every attempt.
        let jtis: BTreeSet<String> = receiver
            .tokens()
            .iter()
            .map(|t| {
                use base64::Engine;
                let part = t.split('.').nth(1).unwrap();
                let v: Value = serde_json::from_slice(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(part)
                        .unwrap(),
                )
                .unwrap();
                v["jti"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(jtis.len(), MAX_ATTEMPTS as usize);
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn two_instances_on_one_database_send_each_notice_once() {
    on_every_backend(|db| async move {
        people(&db);
        let receiver = Receiver::start();
        let a = listening(&db, "a", &receiver);
        let one = TestApp::spawn(&db).await;
        let two = TestApp::spawn(&db).await;
        let mut sids = BTreeSet::new();
        for app in [&one, &two, &one, &two, &one] {
            let alice = logged_in(app, "alice").await;
            let id = id_token_for(app, &alice, &a, "openid").await;
            sids.insert((
                a.id.clone(),
                claims_of(app, &id, &a.id).await["sid"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ));
        }
        // Queued by another process: both instances find them polling.
        run_cli(&db, &["user", "disable", "alice"], None);
        let tokens = receiver.wait_for(sids.len(), SOON).await;
        receiver.assert_no_more_than(sids.len(), QUIET).await;
        assert_eq!(aud_sid(&tokens), sids);
        one.stop().await;
        two.stop().await;
    })
    .await;
}

#[test]
fn a_claimed_notice_is_not_claimed_again_until_its_lease_lapses() {
    every_backend(|db| {
        let (mut first, mut second) = (conn(&db), conn(&db));
        let notice = Notice {
            id: "n1".into(),
            client_id: "c".into(),
            user_id: "u".into(),
            sid: "s".into(),
            created_at: 100,
            attempts: 0,
            next_attempt_at: 100,
            lease_until: 0,
            last_error: None,
        };
        logout_notices::queue(&mut first, std::slice::from_ref(&notice)).unwrap();
        assert_eq!(logout_notices::due(&mut second, 100, 10).unwrap().len(), 1);
        assert!(logout_notices::claim(&mut first, "n1", 100, 160).unwrap());
        assert!(!logout_notices::claim(&mut second, "n1", 100, 160).unwrap());
        assert!(logout_notices::due(&mut second, 159, 10)
            .unwrap()
            .is_empty());
        // An instance that died holding it: the lease lapses.
        assert!(logout_notices::claim(&mut second, "n1", 160, 220).unwrap());
        // Not due before its next attempt.
        logout_notices::retry_at(&mut second, "n1", 1, 300, "down").unwrap();
        assert!(!logout_notices::claim(&mut first, "n1", 299, 359).unwrap());
        assert!(logout_notices::claim(&mut first, "n1", 300, 360).unwrap());
    });
}

#[actix_web::test]
async fn a_family_that_no_exchange_recorded_is_recorded_at_its_refresh() {
    on_every_backend(|db| async move {
        people(&db);
        let receiver = Receiver::start();
        let a = ClientSpec::new(&db)
            .grants(&["authorization_code", "refresh_token"])
            .scopes("openid posts:read")
            .redirect_uri(REDIRECT)
            .backchannel_logout_uri(&receiver.uri())
            .create();
        let app = TestApp::spawn(&db).await;
        let alice = logged_in(&app, "alice").await;
        let p = pkce();
        let code = code_for(
            &alice,
            &request(&a.id, &p.challenge, &[("scope", "openid")]),
        )
        .await;
        let r = exchange(&app, &a, &code, REDIRECT, &p.verifier).await;
        let sid = claims_of(&app, r.body["id_token"].as_str().unwrap(), &a.id).await["sid"]
            .as_str()
            .unwrap()
            .to_string();
        let mut c = conn(&db);
        assert!(session_clients::exists(&mut c, &sid, &a.id).unwrap());
        // A family from before the record existed.
        diesel::delete(authd::db::schema::session_clients::table)
            .execute(&mut c)
            .unwrap();
        let refreshed =
            crate::refresh::refresh(&app, &a, r.body["refresh_token"].as_str().unwrap(), None)
                .await;
        assert_eq!(refreshed.status, 200, "{}", refreshed.raw);
        assert!(refreshed.body["id_token"].is_string(), "{}", refreshed.raw);
        assert!(session_clients::exists(&mut c, &sid, &a.id).unwrap());

        alice.log_out().await;
        let tokens = receiver.wait_for(1, SOON).await;
        assert_eq!(aud_sid(&tokens), BTreeSet::from([(a.id.clone(), sid)]));
        app.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_removed_client_is_not_told() {
    on_every_backend(|db| async move {
        let Clocked {
            mut receiver,
            a,
            clock,
            app,
        } = clocked(&db).await;
        let mut c = first_attempt_failed(&db, &app, &mut receiver, &a).await;
        run_cli(&db, &["client", "remove", &a.id], None);
        receiver.restart();
        clock.advance(backoff_secs(1));
        wait_for_queue(&mut c, "the notice dropped", |q| q.is_empty()).await;
        receiver.assert_no_more_than(0, QUIET).await;
        app.stop().await;
    })
    .await;
}

#[test]
fn what_a_sign_in_reached_is_forgotten_once_it_cannot_be_alive() {
    every_backend(|db| {
        people(&db);
        let a = ClientSpec::new(&db).create();
        let mut c = conn(&db);
        let alice = authd::db::users::by_username(&mut c, "alice")
            .unwrap()
            .unwrap();
        let row = SessionClient {
            sid: "s".into(),
            client_id: a.id.clone(),
            user_id: alice.id,
            created_at: 100,
            expires_at: 1000,
        };
        session_clients::record(&mut c, &row).unwrap();
        authd::janitor::sweep(&mut c, 999).unwrap();
        assert!(session_clients::exists(&mut c, "s", &a.id).unwrap());
        authd::janitor::sweep(&mut c, 1001).unwrap();
        assert!(!session_clients::exists(&mut c, "s", &a.id).unwrap());
    });
}

#[actix_web::test]
async fn a_new_login_continues_the_same_users_session_and_ends_anothers() {
    on_every_backend(|db| async move {
        people(&db);
        let receiver = Receiver::start();
        let a = listening(&db, "a", &receiver);
        let app = TestApp::spawn(&db).await;
        let sid_of = |token: String| {
            let app = &app;
            let a = &a;
            async move {
                claims_of(app, &token, &a.id).await["sid"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        };
        let browser = logged_in(&app, "alice").await;
        let alices = sid_of(id_token_for(&app, &browser, &a, "openid").await).await;
        // Alice signs in again (say, for prompt=login): a new session id,
        // the same sign-in session.
        let r = browser.log_in("alice", "correct horse").await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let again = sid_of(id_token_for(&app, &browser, &a, "openid").await).await;
        assert_eq!(again, alices);

        // Bob signs in on the same browser: alice's session ends, and the
        // app she signed in to is told.
        let r = browser.log_in("bob", "correct horse").await;
        assert_eq!(r.status, 303, "{}", r.raw);
        let tokens = receiver.wait_for(1, SOON).await;
        assert_eq!(
            aud_sid(&tokens),
            BTreeSet::from([(a.id.clone(), alices.clone())])
        );
        let bobs = sid_of(id_token_for(&app, &browser, &a, "openid").await).await;
        assert_ne!(bobs, alices);
        browser.log_out().await;
        let tokens = receiver.wait_for(2, SOON).await;
        assert_eq!(
            aud_sid(&tokens[1..]),
            BTreeSet::from([(a.id.clone(), bobs)])
        );
        app.stop().await;
    })
    .await;
}

/// Runs the real binary against `db` (another process: the server finds
/// what it queued in the database), which must succeed.
fn run_cli(db: &TestDb, args: &[&str], stdin: Option<&str>) {
    let out = authd(db, args, stdin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
