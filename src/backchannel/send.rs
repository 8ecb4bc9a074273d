//! The POST of a logout token to an app's `backchannel_logout_uri`
//! (Back-Channel Logout 1.0 §2.5): form-encoded `logout_token`, bounded
//! in time, never following a redirect (the URI registered is the only
//! place the token goes).

use std::time::Duration;

/// The longest wait for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a whole delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of the deliveries (HTTPS through rustls on the
/// aws-lc-rs provider that signing already builds).
pub fn client() -> Result<reqwest::Client, String> {
    authd_resource::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("authd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the back-channel HTTP client: {e}"))
}

/// Posts the token. §2.8: a 200 (or 204, which some apps answer) is
/// success; any other status, or no answer, is worth a retry. The error
/// names the status or the failure, never the token.
pub async fn post(http: &reqwest::Client, uri: &str, token: &str) -> Result<(), String> {
    let response = http
        .post(uri)
        .form(&[("logout_token", token)])
        .send()
        .await
        .map_err(|e| describe(&e))?;
    match response.status().as_u16() {
        200 | 204 => Ok(()),
        status => Err(format!("the app answered {status}")),
    }
}

/// A request failure in a few words (reqwest's own text may carry the
/// URL, which is the app's and no secret, but is long).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{what}: {}", crate::error_chain::chain(e))
}
