//! The posts example (authd-resource) and Token Status Lists
//! (docs/interface.md "Token lifecycle"): a revoked token is refused
//! within the list's `ttl`, and a list that cannot be fetched past its
//! lifetime refuses every token (fail closed) unless the verifier fails
//! open. On every backend, with a `ttl` of one second: no long sleeps.

use std::time::{Duration, Instant};

use authd::resource::Verifier;
use reqwest::Method as M;

use crate::resource::{call, login, setup, PostsApp, AUD};
use crate::support::fixtures::{post, Reply};
use crate::support::helpers::{on_every_backend, TestApp};

async fn posts(api: &PostsApp, token: &str) -> Reply {
    call(M::GET, format!("{}/posts", api.base), Some(token), None).await
}

fn assert_invalid_token(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.raw);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

#[actix_web::test]
async fn posts_api_refuses_a_revoked_token_within_the_lists_ttl() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let authd = TestApp::spawn_with(&db, &["--status-list-ttl", "1"]).await;
        let api = PostsApp::spawn(&authd.issuer, Duration::from_secs(1)).await;
        let token = login(&authd, &c, "alice").await;
        let other = login(&authd, &c, "alice").await;
        assert_eq!(posts(&api, &token).await.status, 200);
        assert_eq!(posts(&api, &other).await.status, 200);

        let r = post(&authd, "/oauth/revoke", Some(&c), &[("token", &token)]).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let revoked_at = Instant::now();
        // Within the ttl (1 s), the verifier's refresh, and authd's one
        // second of keeping a list made.
        let refused = loop {
            let r = posts(&api, &token).await;
            if r.status != 200 || revoked_at.elapsed() > Duration::from_secs(4) {
                break r;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        assert_invalid_token(&refused);
        assert!(
            revoked_at.elapsed() <= Duration::from_secs(3),
            "[{}]",
            db.label()
        );
        // The other token's bit is not set.
        assert_eq!(posts(&api, &other).await.status, 200, "[{}]", db.label());
        api.handle.stop(false).await;
        authd.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn an_unreachable_list_fails_closed_unless_configured_open() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let authd = TestApp::spawn_with(&db, &["--status-list-ttl", "1"]).await;
        let closed = PostsApp::spawn(&authd.issuer, Duration::from_secs(1)).await;
        let open = Verifier::builder(&authd.issuer, AUD)
            .status_fail_open(true)
            .build()
            .unwrap();
        let open = PostsApp::serve(open).await;
        let token = login(&authd, &c, "alice").await;
        assert_eq!(posts(&closed, &token).await.status, 200);
        assert_eq!(posts(&open, &token).await.status, 200);

        // authd goes away: the lists held answer until they expire (1 s).
        authd.stop().await;
        actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
        assert_invalid_token(&posts(&closed, &token).await);
        assert_eq!(posts(&open, &token).await.status, 200, "[{}]", db.label());
        closed.handle.stop(false).await;
        open.handle.stop(false).await;
    })
    .await;
}
