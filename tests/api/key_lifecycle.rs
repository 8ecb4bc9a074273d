//! Signing keys that never break a verifier
//! (docs/interface.md "Token lifecycle", Keys): the JWKS max-age, staging, automatic rotation
//! announced one max-age ahead, revocation, and one rotation among
//! instances sharing a database. On every backend.

use std::time::Duration;

use authd::clock::Clock;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::support::fixtures::{
    conn, password_grant, post, reply, role, user, ClientSpec, TestClient,
};
use crate::support::helpers::{authd_json, every_backend, on_every_backend, TestApp, TestDb};

async fn jwks(app: &TestApp) -> (JwkSet, String) {
    let res = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let cache = res.headers()["cache-control"].to_str().unwrap().to_string();
    (res.json().await.unwrap(), cache)
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// Whether `set` alone verifies `token`'s signature (no refetch).
fn verifies(set: &JwkSet, token: &str) -> bool {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let Some(jwk) = header.kid.as_deref().and_then(|k| set.find(k)) else {
        return false;
    };
    let mut v = Validation::new(header.alg);
    v.validate_aud = false;
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v).is_ok()
}

/// alice (openid posts:read) and a client for her password grant.
fn setup(db: &TestDb) -> TestClient {
    role(db, "member", "openid posts:read");
    user(db, "alice", "correct horse", &["member"]);
    ClientSpec::new(db).scopes("openid posts:read").create()
}

async fn access_token(app: &TestApp, c: &TestClient) -> String {
    let r = password_grant(app, c, &[("scope", "openid posts:read")]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["access_token"].as_str().unwrap().to_string()
}

/// Polls (the key ring rereads within seconds) until `ok` holds.
async fn eventually<F, Fut>(what: &str, mut ok: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..60 {
        if ok().await {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never: {what}");
}

fn access_keys(db: &TestDb) -> Vec<Value> {
    let list = authd_json(db, &["keys", "list"], None);
    list.as_array()
        .unwrap()
        .iter()
        .filter(|k| k["purpose"] == "access")
        .cloned()
        .collect()
}

#[actix_web::test]
async fn the_jwks_max_age_follows_the_setting() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn_with(&db, &[]).await;
        assert_eq!(jwks(&app).await.1, "public, max-age=300");
        drop(app);
        let app = TestApp::spawn_with(&db, &["--jwks-max-age", "42"]).await;
        assert_eq!(jwks(&app).await.1, "public, max-age=42");
    })
    .await;
}

#[actix_web::test]
async fn a_staged_key_is_published_and_signs_only_once_rotated() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn_with(&db, &[]).await;
        let before = access_token(&app, &c).await;
        let staged = authd_json(&db, &["keys", "stage"], None);
        let kid = staged["kid"].as_str().unwrap().to_string();
        assert_eq!(staged["state"], "staged");
        eventually("the staged key is in the JWKS", || async {
            kids(&jwks(&app).await.0).contains(&kid)
        })
        .await;
        let states: Vec<_> = access_keys(&db)
            .iter()
            .map(|k| (k["kid"].as_str().unwrap().to_string(), k["state"].clone()))
            .collect();
        assert!(
            states.contains(&(kid.clone(), "staged".into())),
            "{states:?}"
        );
        assert!(states.contains(&(kid_of(&before), "active".into())));
        // Staged: still the old key signs.
        assert_eq!(kid_of(&access_token(&app, &c).await), kid_of(&before));
        let rotated = authd_json(&db, &["keys", "rotate"], None);
        assert_eq!(rotated["kid"], kid, "rotate activates the staged key");
        eventually("new tokens carry the staged kid", || async {
            kid_of(&access_token(&app, &c).await) == kid
        })
        .await;
        let list = access_keys(&db);
        assert_eq!(list.iter().filter(|k| k["state"] == "active").count(), 1);
        assert!(list
            .iter()
            .any(|k| k["kid"] == kid_of(&before) && k["state"] == "retired"));
    })
    .await;
}

#[actix_web::test]
async fn a_jwks_cached_before_an_automatic_rotation_verifies_every_token_across_it() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let clock = Clock::manual_from_now();
        let start = clock.now();
        let (interval, max_age) = (3600, 60);
        let app = TestApp::spawn_clocked(
            &db,
            &[
                "--key-rotation-interval",
                &interval.to_string(),
                "--jwks-max-age",
                &max_age.to_string(),
            ],
            clock.clone(),
        )
        .await;
        let first = access_token(&app, &c).await;
        let before = jwks(&app).await.0;
        // Not yet due: nothing is staged.
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(kids(&jwks(&app).await.0), kids(&before));

        // One max-age (and the publication lag) before the rotation is due,
        // the next keys are staged; a verifier caches the JWKS then.
        clock.set(start + interval - max_age - 5);
        eventually("the next key is staged", || async {
            kids(&jwks(&app).await.0).len() > kids(&before).len()
        })
        .await;
        let cached = jwks(&app).await.0;
        let mut tokens = vec![first, access_token(&app, &c).await];
        assert_eq!(
            kid_of(&tokens[1]),
            kid_of(&tokens[0]),
            "staged keys do not sign"
        );

        clock.set(start + interval);
        eventually("the staged key signs", || async {
            kid_of(&access_token(&app, &c).await) != kid_of(&tokens[0])
        })
        .await;
        tokens.push(access_token(&app, &c).await);
        let id_token = password_grant(&app, &c, &[("scope", "openid posts:read")]).await;
        if let Some(id) = id_token.body["id_token"].as_str() {
            tokens.push(id.to_string());
        }
        for t in &tokens {
            assert!(verifies(&cached, t), "token with kid {} unknown", kid_of(t));
        }
        let list = access_keys(&db);
        assert_eq!(list.iter().filter(|k| k["state"] == "active").count(), 1);
    })
    .await;
}

#[actix_web::test]
async fn a_revoked_key_leaves_the_jwks_and_its_tokens_are_refused() {
    on_every_backend(|db| async move {
        let c = setup(&db);
        let app = TestApp::spawn_with(&db, &[]).await;
        let token = access_token(&app, &c).await;
        let kid = kid_of(&token);
        let bearer = format!("Bearer {token}");
        let userinfo = || async {
            let req = app.http.get(app.url("/oauth/userinfo"));
            reply(req.header("authorization", &bearer).send().await.unwrap()).await
        };
        assert_eq!(userinfo().await.status, 200);

        let revoked = authd_json(&db, &["keys", "revoke", &kid], None);
        assert_eq!(revoked["state"], "revoked");
        let successor = revoked["successor"].as_str().unwrap().to_string();
        assert_ne!(successor, kid);
        eventually("the revoked key leaves the JWKS", || async {
            !kids(&jwks(&app).await.0).contains(&kid)
        })
        .await;
        let r = post(&app, "/oauth/introspect", Some(&c), &[("token", &token)]).await;
        assert_eq!(r.body, serde_json::json!({"active": false}), "{}", r.raw);
        assert_eq!(userinfo().await.status, 401);
        // A new key signs in its place.
        let fresh = access_token(&app, &c).await;
        assert_eq!(kid_of(&fresh), successor);
        let list = access_keys(&db);
        assert!(list
            .iter()
            .any(|k| k["kid"] == kid && k["state"] == "revoked" && k["published"] == false));
        let again = authd_json(&db, &["keys", "list"], None);
        assert!(again
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] != "expired"));
    })
    .await;
}

#[actix_web::test]
async fn instances_sharing_a_database_rotate_once() {
    on_every_backend(|db| async move {
        let clock = Clock::manual_from_now();
        let start = clock.now();
        let args = ["--key-rotation-interval", "600", "--jwks-max-age", "0"];
        let a = TestApp::spawn_clocked(&db, &args, clock.clone()).await;
        let b = TestApp::spawn_clocked(&db, &args, clock.clone()).await;
        let first = access_keys(&db);
        assert_eq!(first.len(), 1);
        clock.set(start + 600);
        // Staged, then (the publication lag later) rotated, each once.
        eventually("a staged key", || async {
            access_keys(&db).iter().any(|k| k["state"] == "staged")
        })
        .await;
        clock.set(start + 700);
        eventually("one rotation", || async {
            access_keys(&db).iter().any(|k| k["state"] == "retired")
        })
        .await;
        actix_web::rt::time::sleep(Duration::from_secs(5)).await;
        let list = access_keys(&db);
        assert_eq!(
            list.iter().filter(|k| k["state"] == "active").count(),
            1,
            "{list:?}"
        );
        assert_eq!(list.len(), 2, "one rotation, not two: {list:?}");
        drop((a, b));
    })
    .await;
}

/// The automatic rotation's write stores the keys made before it (their
/// generation, RSA's above all, never holds the database), refuses a step
/// whose keys it was not given, writing nothing, and still decides from
/// what it reads itself.
#[test]
fn an_automatic_step_stores_keys_generated_before_its_write() {
    use authd::db::signing_keys;
    use authd::keys::schedule::{run_once, to_prepare, Schedule};
    use authd::keys::{generate, state, KeyError, KeyState, KeyVault, SigningAlg};
    every_backend(|db| {
        let mut c = conn(&db);
        let vault = KeyVault::from_bytes(&[7u8; 32]).unwrap();
        let start = 1_000_000;
        authd::keys::ensure_active(&mut c, &vault, SigningAlg::Es256, start).unwrap();
        authd::keys::ensure_id_keys(&mut c, &vault, start).unwrap();
        let schedule = Schedule {
            rotation_interval: 3600,
            jwks_max_age: 60,
        };
        // One max-age and the publication lag before the rotation is due.
        let staging = start + 3600 - 65;
        let before = signing_keys::list(&mut c).unwrap();
        let algs = to_prepare(&before, staging, schedule).unwrap();
        assert_eq!(
            algs,
            [SigningAlg::Es256, SigningAlg::Rs256],
            "[{}]",
            db.label()
        );
        assert!(to_prepare(&before, staging - 1, schedule)
            .unwrap()
            .is_empty());

        let short = vec![generate(SigningAlg::Es256).unwrap()];
        let refused = run_once(&mut c, &vault, schedule, staging, short);
        assert!(
            matches!(refused, Err(KeyError::Unprepared(SigningAlg::Rs256))),
            "[{}] {refused:?}",
            db.label()
        );
        assert_eq!(signing_keys::list(&mut c).unwrap().len(), before.len());

        let made: Vec<_> = algs.iter().map(|a| generate(*a).unwrap()).collect();
        let mut kids: Vec<String> = made.iter().map(|k| k.kid.clone()).collect();
        assert!(run_once(&mut c, &vault, schedule, staging, made).unwrap());
        let rows = signing_keys::list(&mut c).unwrap();
        let mut staged: Vec<String> = rows
            .iter()
            .filter(|r| state(r) == KeyState::Staged)
            .map(|r| r.kid.clone())
            .collect();
        kids.sort();
        staged.sort();
        assert_eq!(staged, kids, "[{}] the keys made before", db.label());

        // The rotation activates what is staged: nothing to make.
        let due = start + 3600;
        assert!(to_prepare(&rows, due, schedule).unwrap().is_empty());
        assert!(run_once(&mut c, &vault, schedule, due, Vec::new()).unwrap());
        let rows = signing_keys::list(&mut c).unwrap();
        let active: Vec<&str> = rows
            .iter()
            .filter(|r| state(r) == KeyState::Active)
            .map(|r| r.kid.as_str())
            .collect();
        assert_eq!(active.len(), 2, "[{}]", db.label());
        assert!(active.iter().all(|k| kids.iter().any(|m| m == k)));
        // Once rotated, nothing is due: the conditional update is not
        // made twice.
        assert!(!run_once(&mut c, &vault, schedule, due, Vec::new()).unwrap());
    });
}
