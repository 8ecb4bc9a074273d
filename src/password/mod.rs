//! User passwords: policy, Argon2id hashing (PHC strings), verification with
//! rehash detection, and a bounded pool so hashing never starves the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::{Params, PasswordHash};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::secret::Secret;

mod blocklist;
mod phc;
mod pool;
pub use blocklist::is_common;
use pool::HashPool;

/// Shortest accepted password, in characters (NIST SP 800-63B §3.1.1.2).
pub const MIN_CHARS: usize = 8;
/// Longest accepted password, in bytes; longer input is refused before any
/// hashing so that nobody can make us hash megabytes.
pub const MAX_BYTES: usize = 1024;

/// The stored hash of a user who has no password yet (one `authd apply`
/// made): not a PHC string, so no password verifies against it, and
/// checking one costs what a wrong password costs.
pub const NO_PASSWORD: &str = "!";

/// Why a password was refused or could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("password too short: use at least {MIN_CHARS} characters")]
    TooShort,
    /// More than [`MAX_BYTES`] bytes.
    #[error("password too long: at most {MAX_BYTES} bytes")]
    TooLong,
    /// On the list of common and leaked passwords ([`is_common`]).
    #[error("password is too common (it appears in lists of leaked passwords): choose another")]
    Common,
    /// The Argon2 parameters are invalid.
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    /// Hashing failed, or the worker pool is gone.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// Every hashing slot is taken and the queue in front of them is full.
    #[error("too many password checks waiting")]
    Busy,
}

/// Checks the policy: a length, and not a common or leaked password; no
/// composition rules (SP 800-63B). Every way of setting a password goes
/// through it ([`Passwords::hash`], [`Passwords::hash_blocking`]).
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if is_common(password) {
        return Err(PasswordError::Common);
    }
    Ok(())
}

/// Whether `e` refuses the password itself (the user can fix it by
/// choosing another), rather than the server failing to hash it.
pub fn refuses_password(e: &PasswordError) -> bool {
    matches!(
        e,
        PasswordError::TooShort | PasswordError::TooLong | PasswordError::Common
    )
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for Cost {
    /// OWASP's recommendation: m = 19 MiB, t = 2, p = 1.
    fn default() -> Cost {
        Cost {
            m_kib: 19456,
            t: 2,
            p: 1,
        }
    }
}

/// The Argon2 parameters a PHC string names, if it is an Argon2 hash.
pub fn cost_of(phc: &str) -> Option<Cost> {
    let parsed = PasswordHash::new(phc).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    Some(Cost {
        m_kib: params.m_cost(),
        t: params.t_cost(),
        p: params.p_cost(),
    })
}

/// Outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Correct password; `rehash` holds a new PHC string when the stored
    /// one used other parameters than the configured ones.
    Match {
        /// The replacement hash to store, if any.
        rehash: Option<String>,
    },
    /// Wrong password (or no such user).
    Mismatch,
}

/// Hashes and verifies passwords with a fixed cost: at most `limit` at
/// once (on as many threads of their own), at most `queue` more waiting,
/// the rest refused at once.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    cost: Cost,
    pool: HashPool,
    limit: Arc<Semaphore>,
    queue: usize,
    waiting: Arc<AtomicUsize>,
    running: Arc<Counters>,
    dummy: Arc<OnceLock<String>>,
    /// Dummy hashes at the other costs that stored hashes were found with.
    others: Arc<Mutex<HashMap<Cost, Arc<str>>>>,
}

/// Dummy hashes kept for costs other than the configured one: a database
/// holds few (each past setting), and a bound keeps memory fixed whatever
/// is stored.
const MAX_OTHER_DUMMIES: usize = 8;

/// Hashes running now, the most ever running at once, and how many ran.
#[derive(Default)]
struct Counters {
    now: AtomicUsize,
    peak: AtomicUsize,
    total: AtomicUsize,
}

/// A place in the queue, given back however the wait ends (a client that
/// hangs up drops the future that holds it).
struct QueuePlace(Arc<AtomicUsize>);

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a hash while it runs (for tests and metrics).
struct Running(Arc<Counters>);

impl Running {
    fn start(counters: &Arc<Counters>) -> Running {
        let now = counters.now.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak.fetch_max(now, Ordering::SeqCst);
        counters.total.fetch_add(1, Ordering::SeqCst);
        Running(counters.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("cost", &self.cost)
            .finish()
    }
}

impl Passwords {
    /// `limit` bounds concurrent hash/verify operations (0 = number of
    /// cores); `queue` bounds how many more may wait for one.
    pub fn new(cost: Cost, limit: usize, queue: usize) -> Result<Passwords, PasswordError> {
        let params = Params::new(cost.m_kib, cost.t, cost.p, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        let limit = if limit == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            limit
        };
        Ok(Passwords {
            params,
            cost,
            pool: HashPool::new(limit).map_err(|e| PasswordError::Hash(e.to_string()))?,
            limit: Arc::new(Semaphore::new(limit)),
            queue,
            waiting: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(Counters::default()),
            dummy: Arc::new(OnceLock::new()),
            others: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Checks the policy and hashes, blocking the calling thread.
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        check_policy(password)?;
        phc::hash(&self.params, password.as_bytes()).map_err(PasswordError::Hash)
    }

    /// Verifies, blocking the calling thread. `stored = None` (no such
    /// user) verifies against a dummy hash so that it costs the same time.
    pub fn verify_blocking(&self, password: &str, stored: Option<&str>) -> Verified {
        // Over-long input is refused before hashing; it can never match a
        // password that passed the policy.
        if password.len() > MAX_BYTES {
            return Verified::Mismatch;
        }
        let (phc, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy_hash(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            // No password ([`NO_PASSWORD`]): the dummy's work, so that such
            // a user answers in the time of any other.
            return match real {
                true => self.verify_blocking(password, None),
                false => Verified::Mismatch,
            };
        };
        let ok = phc::verify(&parsed, password.as_bytes());
        if !(ok && real) {
            return Verified::Mismatch;
        }
        // Not `hash_blocking`: the policy is for new passwords, and a
        // password set before a rule was added must still be rehashed.
        let rehash = if self.is_current(&parsed) {
            None
        } else {
            phc::hash(&self.params, password.as_bytes()).ok()
        };
        Verified::Match { rehash }
    }

    /// Checks a password for a username that names no user, against a
    /// dummy hash at `like`, the cost of some user's stored hash (the
    /// configured cost when `None`): so an unknown
    /// name costs what a known one may cost, even while stored hashes
    /// still have the cost of an earlier setting (they are upgraded only
    /// at each user's next login). Blocking; never a match.
    pub fn verify_unknown_blocking(&self, password: &str, like: Option<Cost>) -> Verified {
        let cost = like.filter(|c| *c != self.cost);
        let Some(dummy) = cost.and_then(|c| self.other_dummy(c)) else {
            return self.verify_blocking(password, None);
        };
        if password.len() <= MAX_BYTES {
            if let Ok(parsed) = PasswordHash::new(&dummy) {
                phc::verify(&parsed, password.as_bytes());
            }
        }
        Verified::Mismatch
    }

    /// The dummy hash at `cost`, made on first need (blocking: one hash);
    /// `None` when the cache is full or the cost is not usable.
    fn other_dummy(&self, cost: Cost) -> Option<Arc<str>> {
        let cached = |others: &HashMap<Cost, Arc<str>>| others.get(&cost).cloned();
        let lock = || match self.others.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(hit) = cached(&lock()) {
            return Some(hit);
        }
        if lock().len() >= MAX_OTHER_DUMMIES {
            return None;
        }
        let params = Params::new(cost.m_kib, cost.t, cost.p, None).ok()?;
        let filler = Secret::generate();
        let made: Arc<str> = phc::hash(&params, filler.expose().as_bytes()).ok()?.into();
        let mut others = lock();
        Some(others.entry(cost).or_insert(made).clone())
    }

    /// The costs of the dummy hashes made so far for costs other than the
    /// configured one (see [`Passwords::verify_unknown_blocking`]).
    pub fn other_dummy_costs(&self) -> Vec<Cost> {
        match self.others.lock() {
            Ok(map) => map.keys().copied().collect(),
            Err(poisoned) => poisoned.into_inner().keys().copied().collect(),
        }
    }

    fn is_current(&self, parsed: &PasswordHash) -> bool {
        parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(parsed).is_ok_and(|p| {
                p.m_cost() == self.cost.m_kib
                    && p.t_cost() == self.cost.t
                    && p.p_cost() == self.cost.p
            })
    }

    /// Computes the dummy hashes now (blocking): at the configured cost
    /// and at each of `stored`, costs that stored hashes have; so that the
    /// first login of an unknown user does not take two hashes and stand
    /// out.
    pub fn warm_up(&self, stored: &[Cost]) {
        self.dummy_hash();
        for cost in stored.iter().filter(|c| **c != self.cost) {
            self.other_dummy(*cost);
        }
    }

    /// The parameters new hashes are made with.
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// The parameters of the dummy hash that unknown users are checked
    /// against (computing it first if need be: blocking).
    pub fn dummy_cost(&self) -> Option<Cost> {
        cost_of(self.dummy_hash())
    }

    fn dummy_hash(&self) -> &str {
        self.dummy.get_or_init(|| {
            let filler = Secret::generate();
            phc::hash(&self.params, filler.expose().as_bytes()).unwrap_or_default()
        })
    }

    /// Hashes on a hashing thread, within the concurrency limit.
    pub async fn hash(&self, password: Secret) -> Result<String, PasswordError> {
        check_policy(password.expose())?;
        let permit = self.admit().await?;
        let this = self.clone();
        self.pool
            .run(move || {
                // Running drops before the permit: the counter never shows
                // more than the limit.
                let _held = (Running::start(&this.running), permit);
                this.hash_blocking(password.expose())
            })
            .await
            .ok_or_else(|| PasswordError::Hash("the hashing threads are gone".into()))?
    }

    /// Verifies on a hashing thread, within the concurrency limit: against
    /// `stored`, or for a user that does not exist, against a dummy hash at
    /// the cost `like` (see [`Passwords::verify_unknown_blocking`]).
    pub async fn verify(
        &self,
        password: Secret,
        stored: Option<String>,
        like: Option<Cost>,
    ) -> Result<Verified, PasswordError> {
        let permit = self.admit().await?;
        let this = self.clone();
        self.pool
            .run(move || {
                // Running drops before the permit: the counter never shows
                // more than the limit.
                let _held = (Running::start(&this.running), permit);
                match stored {
                    Some(stored) => this.verify_blocking(password.expose(), Some(&stored)),
                    None => this.verify_unknown_blocking(password.expose(), like),
                }
            })
            .await
            .ok_or_else(|| PasswordError::Hash("the hashing threads are gone".into()))
    }

    /// A hashing slot. The permit is owned and moves into the blocking job,
    /// so it is released when the hash is done, not when a client that
    /// hung up drops the request: never more hashes than `limit` run.
    async fn admit(&self) -> Result<OwnedSemaphorePermit, PasswordError> {
        if let Ok(permit) = self.limit.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(PasswordError::Busy);
        }
        let _place = QueuePlace(self.waiting.clone());
        self.limit
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Waits for a hashing slot like a check would, and gives it back at
    /// once (`Busy` when the queue is full): the cost of a refused attempt
    /// looks like a check's from outside, apart from the hash itself.
    pub async fn pass_turn(&self) -> Result<(), PasswordError> {
        self.admit().await.map(drop)
    }

    /// Whether a check now would be refused as `Busy`: every slot taken and
    /// the queue full. Lets a caller shed load before doing other work.
    pub fn saturated(&self) -> bool {
        self.limit.available_permits() == 0 && self.waiting() >= self.queue
    }

    /// Hashes running now.
    pub fn running(&self) -> usize {
        self.running.now.load(Ordering::SeqCst)
    }

    /// The most hashes that ever ran at once.
    pub fn peak_running(&self) -> usize {
        self.running.peak.load(Ordering::SeqCst)
    }

    /// Hashes (and verifications) started so far.
    pub fn total(&self) -> usize {
        self.running.total.load(Ordering::SeqCst)
    }

    /// Checks waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(
            Cost {
                m_kib: 64,
                t: 1,
                p: 1,
            },
            2,
            2,
        )
        .unwrap()
    }

    #[test]
    fn policy_length_and_commonness() {
        assert!(matches!(
            check_policy("short"),
            Err(PasswordError::TooShort)
        ));
        assert!(check_policy("eight ch").is_ok());
        assert!(matches!(
            check_policy("Password1"),
            Err(PasswordError::Common)
        ));
        assert!(check_policy("lowercaseonly").is_ok());
        // Eight characters of multi-byte text count as eight.
        assert!(check_policy("ééééééèè").is_ok());
        assert!(matches!(
            check_policy(&"a".repeat(MAX_BYTES + 1)),
            Err(PasswordError::TooLong)
        ));
    }

    #[test]
    fn hash_is_argon2id_phc() {
        let h = cheap().hash_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
    }

    #[test]
    fn verify_matches_and_rejects() {
        let p = cheap();
        let h = p.hash_blocking("correct horse").unwrap();
        assert_eq!(
            p.verify_blocking("correct horse", Some(&h)),
            Verified::Match { rehash: None }
        );
        assert_eq!(
            p.verify_blocking("wrong horse", Some(&h)),
            Verified::Mismatch
        );
        assert_eq!(p.verify_blocking("correct horse", None), Verified::Mismatch);
        assert_eq!(
            p.verify_blocking("x", Some("not a phc")),
            Verified::Mismatch
        );
    }

    #[test]
    fn no_password_matches_nothing() {
        let p = cheap();
        for given in ["", "!", NO_PASSWORD, "correct horse"] {
            assert_eq!(
                p.verify_blocking(given, Some(NO_PASSWORD)),
                Verified::Mismatch,
                "{given:?}"
            );
        }
    }

    #[test]
    fn rehash_when_parameters_change() {
        let old = cheap().hash_blocking("correct horse").unwrap();
        let newer = Passwords::new(
            Cost {
                m_kib: 128,
                t: 1,
                p: 1,
            },
            1,
            1,
        )
        .unwrap();
        match newer.verify_blocking("correct horse", Some(&old)) {
            Verified::Match { rehash: Some(h) } => assert!(h.contains("m=128,t=1,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_user_is_checked_at_the_cost_of_a_stored_hash() {
        let p = cheap();
        let other = Passwords::new(
            Cost {
                m_kib: 128,
                t: 1,
                p: 1,
            },
            1,
            1,
        )
        .unwrap();
        let like = other.hash_blocking("someone's password").unwrap();
        assert_eq!(
            p.verify_unknown_blocking("correct horse", cost_of(&like)),
            Verified::Mismatch
        );
        assert_eq!(p.other_dummy_costs(), [other.cost()]);
        // The configured cost, or none: the usual dummy.
        p.verify_unknown_blocking("correct horse", Some(p.cost()));
        p.verify_unknown_blocking("correct horse", cost_of("not a phc"));
        p.verify_unknown_blocking("correct horse", None);
        assert_eq!(p.other_dummy_costs(), [other.cost()]);
    }

    fn slow() -> Passwords {
        Passwords::new(
            Cost {
                m_kib: 8192,
                t: 20,
                p: 1,
            },
            1,
            1,
        )
        .unwrap()
    }

    #[actix_web::test]
    async fn a_dropped_check_keeps_its_slot_until_its_hash_is_done() {
        use std::future::Future;
        use std::task::Poll;
        let p = slow();
        let stored = p.hash_blocking("correct horse").unwrap();
        // A check whose request is dropped while its hash runs (a client
        // that hung up).
        let mut first =
            Box::pin(p.verify(Secret::new("correct horse"), Some(stored.clone()), None));
        futures_util::future::poll_fn(|cx| {
            assert!(first.as_mut().poll(cx).is_pending(), "hash too fast");
            if p.running() == 1 {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
        drop(first);
        assert_eq!(p.running(), 1, "the hash goes on");
        let second = p
            .verify(Secret::new("correct horse"), Some(stored), None)
            .await;
        assert!(matches!(second, Ok(Verified::Match { .. })));
        assert_eq!(p.peak_running(), 1, "two hashes ran at once");
    }

    #[actix_web::test]
    async fn the_queue_is_bounded_and_a_dropped_wait_frees_its_place() {
        use std::future::Future;
        let p = slow();
        let held = p.admit().await.unwrap();
        let mut waiting = Box::pin(p.admit());
        futures_util::future::poll_fn(|cx| {
            assert!(waiting.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        assert_eq!(p.waiting(), 1);
        assert!(matches!(p.admit().await, Err(PasswordError::Busy)));
        drop(waiting);
        assert_eq!(p.waiting(), 0, "a dropped wait gives its place back");
        let mut again = Box::pin(p.admit());
        futures_util::future::poll_fn(|cx| {
            assert!(again.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        drop(held);
        assert!(again.await.is_ok());
    }
}
