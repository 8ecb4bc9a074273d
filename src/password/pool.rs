//! The threads that hash passwords: a fixed few, apart from the HTTP
//! workers and from the threads that serve the database, at a lower
//! CPU priority. So a flood of logins cannot delay other requests' storage
//! work, and Argon2's memory lives in as many allocator arenas as there
//! are hashing threads (a pool of changing threads leaves 19 MiB behind in
//! each one's arena).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of hashing threads; they end when the last handle goes.
#[derive(Clone)]
pub(super) struct HashPool {
    jobs: mpsc::Sender<Job>,
}

/// Nice value of hashing threads: when the cores are busy, the scheduler
/// gives other threads about nine times their share.
const NICE: i32 = 10;

impl HashPool {
    /// Starts `threads` hashing threads.
    pub(super) fn new(threads: usize) -> std::io::Result<HashPool> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("authd-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match queue.lock() {
                            Ok(rx) => rx.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every handle is gone
                        }
                    }
                })?;
        }
        Ok(HashPool { jobs })
    }

    /// Runs `f` on a hashing thread; `None` if the pool is gone.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move || {
            // The caller may have gone (a client that hung up): the hash
            // was still done, and its result is dropped.
            let _ = tx.send(span.in_scope(f));
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

/// Lowers the calling thread's priority (Linux: per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory effects; on Linux, `who = 0` with
    // PRIO_PROCESS names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
    }
}
