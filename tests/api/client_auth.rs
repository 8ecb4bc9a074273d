//! Client authentication wherever clients authenticate (token, revoke,
//! introspect): Basic credentials decode as a whole, nothing that is not
//! UTF-8 once percent-decoded is accepted, and a confidential client that
//! sends no secret is `invalid_client` (docs/interface.md "Strict decoding").

use authd::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::support::fixtures::{conn, reply, ClientSpec, Reply};
use crate::support::helpers::{on_every_backend, TestApp};

/// Each endpoint with a request that succeeds for an authenticated client.
const ENDPOINTS: [(&str, &str); 3] = [
    ("/oauth/token", "grant_type=client_credentials"),
    ("/oauth/revoke", "token=anything"),
    ("/oauth/introspect", "token=anything"),
];

/// The secret given to the client: `&` and `=` would split a form pair.
const ODD_SECRET: &str = "s3cret&more=stuff";

async fn send(app: &TestApp, path: &str, basic: Option<&[u8]>, body: &str) -> Reply {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(raw) = basic {
        req = req.header("authorization", format!("Basic {}", STANDARD.encode(raw)));
    }
    reply(req.send().await.unwrap()).await
}

#[actix_web::test]
async fn strict_client_authentication_at_every_endpoint() {
    on_every_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let c = ClientSpec::new(&db)
            .grants(&["client_credentials"])
            .create();
        let now = authd::clock::Clock::system().now();
        let hash = Secret::new(ODD_SECRET).hash();
        authd::db::clients::set_secret_hash(&mut conn(&db), &c.id, &hash, now).unwrap();
        let id = c.id.as_str();
        let label = db.label();

        for (path, params) in ENDPOINTS {
            let ok = |r: &Reply, what: &str| {
                assert_eq!(r.status, 200, "[{label}] {path} {what}: {}", r.raw);
            };
            // The secret as sent raw, and form-urlencoded (§2.3.1): both
            // decode to the whole secret.
            let raw = format!("{id}:{ODD_SECRET}");
            ok(&send(&app, path, Some(raw.as_bytes()), params).await, "raw");
            let encoded = format!("{id}:s3cret%26more%3Dstuff");
            ok(
                &send(&app, path, Some(encoded.as_bytes()), params).await,
                "encoded",
            );
            let post = format!("{params}&client_id={id}&client_secret=s3cret%26more%3Dstuff");
            ok(&send(&app, path, None, &post).await, "client_secret_post");

            // What precedes the `&` is not the secret.
            let prefix = format!("{id}:s3cret");
            send(&app, path, Some(prefix.as_bytes()), params)
                .await
                .assert_error(401, "invalid_client");
            // No secret at all from a confidential client.
            let r = send(&app, path, None, &format!("{params}&client_id={id}")).await;
            r.assert_error(401, "invalid_client");
            assert_eq!(
                r.header("www-authenticate"),
                Some(r#"Basic realm="authd""#),
                "[{label}] {path}"
            );
            // Not UTF-8 once percent-decoded: in Basic, in the body.
            let broken = format!("{id}:s3cret%FE");
            send(&app, path, Some(broken.as_bytes()), params)
                .await
                .assert_error(400, "invalid_request");
            send(&app, path, Some(raw.as_bytes()), &format!("{params}&x=%FE"))
                .await
                .assert_error(400, "invalid_request");
        }
        app.stop().await;
    })
    .await;
}
