//! Two instances serving one database behind a round-robin client
//! (docs/OPERATIONS.md "One instance or several"): each request goes to
//! the other instance, and the answers are those of one server. A token
//! issued by one is refreshed, introspected and revoked at the other;
//! reuse detection, revocation, the username lockout and the JWKS are
//! shared. On every backend.

use std::cell::Cell;

use serde_json::Value;

use crate::support::fixtures::{login_as, post, standard, verify_with_jwks};
use crate::support::fixtures::{Reply, TestClient};
use crate::support::helpers::{on_every_backend, TestApp};

const ISSUER: &str = "https://id.example.com";

/// Two instances, and the one the next request goes to.
struct RoundRobin {
    apps: [TestApp; 2],
    turn: Cell<usize>,
}

impl RoundRobin {
    fn next(&self) -> &TestApp {
        let i = self.turn.get();
        self.turn.set((i + 1) % 2);
        &self.apps[i]
    }

    async fn post(&self, c: &TestClient, path: &str, form: &[(&str, &str)]) -> Reply {
        post(self.next(), path, Some(c), form).await
    }

    async fn refresh(&self, c: &TestClient, token: &str) -> Reply {
        let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
        self.post(c, "/oauth/token", &form).await
    }

    async fn introspect(&self, asker: &TestClient, token: &str) -> Value {
        let r = self
            .post(asker, "/oauth/introspect", &[("token", token)])
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        r.body
    }
}

fn field(r: &Reply, name: &str) -> String {
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body[name].as_str().expect(name).to_string()
}

#[actix_web::test]
async fn two_instances_behind_a_round_robin_client_act_as_one_server() {
    on_every_backend(|db| async move {
        let c = standard(&db);
        // One public URL for both, as behind a load balancer.
        let settings = ["--login-max-failures", "3", "--issuer", ISSUER];
        let lb = RoundRobin {
            apps: [
                TestApp::spawn_with(&db, &settings).await,
                TestApp::spawn_with(&db, &settings).await,
            ],
            turn: Cell::new(0),
        };

        // Issued by one, refreshed at the other, again and again.
        let first = login_as(lb.next(), &c, "alice", "correct horse").await;
        let mut refresh = field(&first, "refresh_token");
        let original = refresh.clone();
        for _ in 0..4 {
            refresh = field(&lb.refresh(&c, &refresh).await, "refresh_token");
        }
        // A token used at one instance is reuse at the other: the family
        // (the latest token too) is revoked everywhere.
        lb.refresh(&c, &original)
            .await
            .assert_error(400, "invalid_grant");
        lb.refresh(&c, &refresh)
            .await
            .assert_error(400, "invalid_grant");

        // An access token from one verifies against the other's JWKS, and
        // a revocation at one is seen by introspection at the other.
        let r = login_as(lb.next(), &c, "alice", "correct horse").await;
        let access = field(&r, "access_token");
        verify_with_jwks(lb.next(), &access, ISSUER).await;
        assert_eq!(lb.introspect(&c, &access).await["active"], true);
        let revoked = lb.post(&c, "/oauth/revoke", &[("token", &access)]).await;
        assert_eq!(revoked.status, 200, "{}", revoked.raw);
        assert_eq!(lb.introspect(&c, &access).await["active"], false);

        // Wrong passwords at both count toward one lock.
        for _ in 0..3 {
            login_as(lb.next(), &c, "alice", "wrong")
                .await
                .assert_error(400, "invalid_grant");
        }
        for _ in 0..2 {
            login_as(lb.next(), &c, "alice", "correct horse")
                .await
                .assert_error(400, "invalid_grant");
        }
        let [one, two] = lb.apps;
        one.stop().await;
        two.stop().await;
    })
    .await;
}
