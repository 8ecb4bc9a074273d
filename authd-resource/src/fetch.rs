//! Fetching the issuer's JWKS into the key cache: one fetch at a time, at
//! most one attempt per interval (failed or not), each in a task of its own
//! so that requests holding usable keys never wait for the issuer.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use tokio::sync::watch;

use crate::jwks::SharedCache;

/// Refreshes a verifier's keys from its JWKS URL.
pub(crate) struct Fetcher {
    url: String,
    http: reqwest::Client,
    timeout: Duration,
    interval: Duration,
    max_age: Duration,
    cache: SharedCache,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    last_attempt: Option<Instant>,
    /// The fetch under way; it is over when its sender is dropped.
    in_flight: Option<watch::Receiver<()>>,
}

/// Marks the fetch as over when its task ends, also when the task is
/// dropped unfinished (its runtime shutting down), so none stays "under
/// way" forever.
struct InFlight {
    fetcher: Arc<Fetcher>,
    _done: watch::Sender<()>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // Cleared before the sender drops, so a woken waiter may start anew.
        self.fetcher.state().in_flight = None;
    }
}

impl Fetcher {
    /// A fetcher for `url`; the client's own timeout bounds each fetch.
    pub fn new(
        url: String,
        http: reqwest::Client,
        timeout: Duration,
        interval: Duration,
        max_age: Duration,
        cache: SharedCache,
    ) -> Fetcher {
        Fetcher {
            url,
            http,
            timeout,
            interval,
            max_age,
            cache,
            state: Mutex::new(State::default()),
        }
    }

    /// When the keys are older than the issuer's max-age, else `max_age`
    /// (or there are none yet),
    /// starts a fetch that the caller does not wait for.
    pub fn refresh_if_stale(self: &Arc<Self>) {
        let now = Instant::now();
        if self.cache.read(|c| c.is_stale(now, self.max_age)) {
            self.start();
        }
    }

    /// Waits, at most the fetch timeout, for the fetch under way or a new
    /// one if the interval allows; returns whether a fetch ended (so the
    /// cache is worth another look).
    pub async fn refresh_and_wait(self: &Arc<Self>) -> bool {
        let Some(mut done) = self.start() else {
            return false;
        };
        // `changed` fails once the sender is dropped: the fetch is over.
        tokio::time::timeout(self.timeout, done.changed())
            .await
            .is_ok()
    }

    /// Joins the fetch under way, or starts one when the last attempt is
    /// at least the interval old; `None` when neither.
    fn start(self: &Arc<Self>) -> Option<watch::Receiver<()>> {
        let mut state = self.state();
        if let Some(done) = &state.in_flight {
            return Some(done.clone());
        }
        let now = Instant::now();
        if state
            .last_attempt
            .is_some_and(|t| now.duration_since(t) < self.interval)
        {
            return None;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            log::warn!("cannot fetch JWKS from {}: no Tokio runtime", self.url);
            return None;
        };
        let (sender, done) = watch::channel(());
        state.last_attempt = Some(now);
        state.in_flight = Some(done.clone());
        // Unlocked first: a task dropped at once would lock it in InFlight.
        drop(state);
        let in_flight = InFlight {
            fetcher: Arc::clone(self),
            _done: sender,
        };
        runtime.spawn(async move {
            in_flight.fetcher.fetch().await;
            drop(in_flight);
        });
        Some(done)
    }

    async fn fetch(&self) {
        match self.get().await {
            Ok((set, max_age)) => self.cache.write(|c| {
                c.replace(&set, Instant::now());
                c.max_age = max_age;
            }),
            // The last good keys keep serving.
            Err(e) => log::warn!("cannot fetch JWKS from {}: {e}", self.url),
        }
    }

    /// The set and its `Cache-Control` max-age, which then decides when
    /// it is stale (docs/interface.md "Token lifecycle", Keys).
    async fn get(&self) -> Result<(JwkSet, Option<Duration>), String> {
        let res = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        let max_age = res
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::jwks::max_age);
        let set = res.json::<JwkSet>().await.map_err(|e| e.to_string())?;
        Ok((set, max_age))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_dropped_with_its_runtime_is_no_longer_under_way() {
        // Connections queue in the backlog and are never answered.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks", silent.local_addr().unwrap());
        crate::install_crypto_provider();
        let fetcher = Arc::new(Fetcher::new(
            url,
            reqwest::Client::new(),
            Duration::from_secs(30),
            Duration::ZERO,
            Duration::from_secs(300),
            SharedCache::default(),
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { assert!(fetcher.start().is_some()) });
        assert!(fetcher.state().in_flight.is_some());
        drop(runtime);
        assert!(fetcher.state().in_flight.is_none());
        assert!(fetcher.start().is_none(), "no runtime, no fetch");
    }
}
