//! [`Verifier`]'s check of a token's status list: the cached list while
//! its `ttl` lasts (refreshed in the background once three quarters of it
//! have passed), else a fetch that the request waits for; a list that
//! cannot be had refuses the token (fail closed) unless the verifier was
//! built to fail open, and the log says why.

use std::sync::Arc;
use std::time::Instant;

use jsonwebtoken::{decode, decode_header, Validation};

use super::{invalid, Verifier, VerifyError, ALLOWED};
use crate::status::{look, Cached, Entry, Fetched, ListClaims, StatusRef};

/// The media type of a status list token (§10.2).
const MEDIA_TYPE: &str = "application/statuslist+jwt";

/// A token's bit, as the list says: set is revoked.
fn judge(bit: Option<bool>) -> Result<(), VerifyError> {
    match bit {
        Some(false) => Ok(()),
        Some(true) => Err(invalid("the token has been revoked")),
        None => Err(invalid("the token's status index is outside its list")),
    }
}

impl Verifier {
    pub(super) async fn check_status(&self, status: &StatusRef) -> Result<(), VerifyError> {
        // Only the issuer's own lists: a token cannot send the verifier
        // elsewhere.
        if !status
            .uri
            .strip_prefix(&self.inner.issuer)
            .is_some_and(|rest| rest.starts_with('/'))
        {
            return Err(invalid("the token's status list is not its issuer's"));
        }
        let entry = self.inner.lists.entry(&status.uri);
        if let Cached::Usable { revoked, refresh } =
            look(entry.current().as_deref(), status.idx, Instant::now())
        {
            if refresh {
                self.refresh_in_background(&entry, &status.uri);
            }
            return judge(revoked);
        }
        let _turn = entry.fetching.lock().await;
        // Another request may have fetched it while this one waited.
        if let Cached::Usable { revoked, .. } =
            look(entry.current().as_deref(), status.idx, Instant::now())
        {
            return judge(revoked);
        }
        match self.fetch_list(&status.uri).await {
            Ok(fetched) => {
                entry.set(fetched);
                let now = Instant::now();
                match look(entry.current().as_deref(), status.idx, now) {
                    Cached::Usable { revoked, .. } => judge(revoked),
                    // A list whose ttl is zero answers for this request.
                    Cached::Stale => judge(
                        entry
                            .current()
                            .and_then(|f| f.fallback(status.idx, now))
                            .flatten(),
                    ),
                }
            }
            Err(why) => self.unavailable(&entry, status, &why),
        }
    }

    /// The answer when the list could not be fetched: the last one while
    /// within its lifetime, else fail closed (or open, as configured).
    fn unavailable(&self, entry: &Entry, status: &StatusRef, why: &str) -> Result<(), VerifyError> {
        let last = entry.current();
        if let Some(bit) = last.and_then(|f| f.fallback(status.idx, Instant::now())) {
            log::warn!(
                "cannot refresh status list {}: {why}; using the last one",
                status.uri
            );
            return judge(bit);
        }
        if self.inner.status_fail_open {
            log::warn!(
                "cannot fetch status list {}: {why}; accepting the token unchecked (fail open)",
                status.uri
            );
            return Ok(());
        }
        log::warn!(
            "cannot fetch status list {}: {why}; refusing the token (fail closed)",
            status.uri
        );
        Err(invalid("the token's status cannot be checked"))
    }

    /// Fetches the list again in a task of its own, unless one is under way.
    fn refresh_in_background(&self, entry: &Arc<Entry>, uri: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !entry.start_refresh() {
            return;
        }
        let (verifier, entry, uri) = (self.clone(), entry.clone(), uri.to_string());
        runtime.spawn(async move {
            {
                let _turn = entry.fetching.lock().await;
                match verifier.fetch_list(&uri).await {
                    Ok(fetched) => entry.set(fetched),
                    Err(why) => log::warn!("cannot refresh status list {uri}: {why}"),
                }
            }
            entry.end_refresh();
        });
    }

    /// Fetches and verifies the list at `uri`.
    async fn fetch_list(&self, uri: &str) -> Result<Fetched, String> {
        let res = self
            .inner
            .http
            .get(uri)
            .header(reqwest::header::ACCEPT, MEDIA_TYPE)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        let at = Instant::now();
        let jwt = res.text().await.map_err(|e| e.to_string())?;
        let claims = self.verify_list(&jwt).await?;
        if claims.sub != uri {
            return Err("its sub is not its URI".into());
        }
        Fetched::from_claims(claims, at)
    }

    /// Checks a status list token's `typ` and signature with the JWKS keys
    /// (§8.3); its freshness is counted from the fetch ([`Fetched`]).
    async fn verify_list(&self, jwt: &str) -> Result<ListClaims, String> {
        let header = decode_header(jwt).map_err(|_| "a malformed JWT".to_string())?;
        if !ALLOWED.contains(&header.alg) {
            return Err("its algorithm is not accepted".into());
        }
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("statuslist+jwt"))
        {
            return Err("its typ is not statuslist+jwt".into());
        }
        let kid = header.kid.ok_or("it names no key")?;
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_aud = false;
        v.set_required_spec_claims(&["sub", "iat", "exp"]);
        let check = || {
            self.inner.cache.read(|cache| {
                let entry = cache.keys.get(&kid)?;
                if entry.alg.is_some_and(|a| a != header.alg) {
                    return Some(Err("its algorithm does not match its key".to_string()));
                }
                Some(
                    decode::<ListClaims>(jwt, &entry.key, &v)
                        .map(|d| d.claims)
                        .map_err(|e| format!("it does not verify: {e}")),
                )
            })
        };
        if let Some(done) = check() {
            return done;
        }
        if let Some(fetcher) = &self.inner.fetcher {
            if fetcher.refresh_and_wait().await {
                if let Some(done) = check() {
                    return done;
                }
            }
        }
        Err("it is signed by an unknown key".into())
    }
}
