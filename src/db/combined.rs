//! The storage work that goes through threads of its own rather than the
//! pool ([`super::lane`]): refresh rotations (PostgreSQL's rotation thread, or
//! SQLite's single writer), client lookups, access tokens' standing, and
//! on SQLite the other reads. Work a thread cannot take is done on the
//! pool.

use std::time::Duration;

use tokio::sync::oneshot;

use super::lane::{Lane, Work};
use super::{access_standing, clients, refresh_batch, refresh_tokens, AnyConnection, Db, DbError};

/// The pauses before a lone rotation that lost a deadlock is made again:
/// long enough for the winning transaction's queued lock to be granted.
const DEADLOCK_PAUSES_MS: [u64; 2] = [20, 100];

impl Db {
    /// Claims the token with hash `rotation.hash` and, if this caller
    /// claimed it, stores `rotation.successor`: both or neither, committed
    /// before this returns ([`refresh_tokens::rotate`]). On SQLite through
    /// the single writer; on PostgreSQL combined with the rotations of
    /// other requests into one statement ([`super::rotator`]).
    pub async fn rotate(
        &self,
        rotation: refresh_batch::Rotation,
    ) -> Result<refresh_tokens::Claim, DbError> {
        match &self.rotator {
            Some(rotator) => match rotator.rotate(rotation).await? {
                Ok(claim) => Ok(claim),
                // Its token was locked elsewhere, or the thread could not
                // take it (its queue full, no connection of its own):
                // alone, on a connection of the requests', waiting for any
                // lock.
                Err(r) => {
                    // At most half the pool waits for locked tokens: a long
                    // lock elsewhere (a client's removal) must not take the
                    // connections every other request needs.
                    let turn = self.lock_waits.clone().acquire_owned();
                    let Ok(Ok(turn)) = tokio::time::timeout(self.timeout, turn).await else {
                        let why = "too many refreshes wait for locked tokens".to_string();
                        return Err(self.timed_out(why));
                    };
                    self.run(move |conn| {
                        let _turn = turn;
                        // Alone, it can lose a deadlock to a transaction
                        // that locks its user or client row, then its token
                        // (40P01). Its one statement left nothing behind, so
                        // it is made again, after a pause that lets the
                        // winner take the lock it was waiting for (made at
                        // once, it can grab the token first and lose the
                        // same deadlock again). A third loss is a 503.
                        let mut made = r.make_alone(conn);
                        for pause_ms in DEADLOCK_PAUSES_MS {
                            match &made {
                                Err(e) if super::is_deadlock(e) => {
                                    std::thread::sleep(Duration::from_millis(pause_ms));
                                    made = r.make_alone(conn);
                                }
                                _ => break,
                            }
                        }
                        made.map_err(DbError::Query)
                    })
                    .await
                }
            },
            None => {
                self.write(move |conn| rotation.make_alone(conn).map_err(DbError::Query))
                    .await
            }
        }
    }

    /// The client with this id, read in one statement with the lookups of
    /// concurrent requests ([`super::client_reader`]).
    pub async fn client(&self, client_id: &str) -> Result<Option<clients::Client>, DbError> {
        let mut id = client_id.to_string();
        match self.on_lane(self.client_reader.find(id)).await {
            Ok(found) => return found,
            Err(unread) => id = unread,
        }
        self.run(move |conn| clients::find(conn, &id).map_err(DbError::Query))
            .await
    }

    /// What the database says now of a verified access token
    /// ([`access_standing`]), read with those of concurrent requests (in
    /// one statement on PostgreSQL).
    pub async fn access_standing(
        &self,
        mut asked: access_standing::Asked,
    ) -> Result<access_standing::Standing, DbError> {
        match self.on_lane(self.standing_reader.read(asked)).await {
            Ok(found) => return found,
            Err(unread) => asked = unread,
        }
        self.run(move |conn| access_standing::read(conn, &asked).map_err(DbError::Query))
            .await
    }

    /// A read queued on a lane, waited for at most as long as a pooled
    /// connection would be (then a 503). `Err(item)`: the lane could not
    /// take it (its queue full, no connection of its own), for the pool.
    async fn on_lane<T, I>(
        &self,
        read: impl std::future::Future<Output = Result<Result<T, DbError>, I>>,
    ) -> Result<Result<T, DbError>, I> {
        // A read given up on is withdrawn, or its answer dropped: nothing
        // depends on it.
        match tokio::time::timeout(self.wait(), read).await {
            Ok(answer) => answer,
            Err(_) => {
                let why = "the database did not answer a read in time".to_string();
                Ok(Err(self.timed_out(why)))
            }
        }
    }

    /// Runs read-only storage work: on SQLite on the read thread
    /// ([`SqliteReads`]), which saves the hop through the blocking pool and
    /// the checkout that [`Db::run`] costs for a read of microseconds; on
    /// PostgreSQL, whose reads are round trips best made in parallel, on
    /// the pool.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let Some(reads) = &self.sqlite_reads else {
            return self.run(f).await;
        };
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            // The caller may have gone: nobody to tell.
            let _ = reply.send(f(conn));
        });
        match self.on_lane(reads.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(E::from(e)),
            // Not taken: on the pool.
            Err(job) => {
                self.run(move |conn| {
                    job(conn);
                    Ok::<_, DbError>(())
                })
                .await?
            }
        }
        answer.await.map_err(|_| E::from(DbError::Blocking))?
    }
}

/// A read for SQLite's read thread; it sends its own typed answer.
type ReadJob = Box<dyn FnOnce(&mut AnyConnection) + Send>;

/// SQLite's read thread's work: each job in turn, on its connection.
pub(super) struct SqliteReads;

impl Work for SqliteReads {
    type Item = ReadJob;
    type Answer = ();
    const NAME: &'static str = "reads";

    fn prepare(_: &mut AnyConnection) -> Result<(), DbError> {
        Ok(())
    }

    fn run(conn: &mut AnyConnection, jobs: Vec<ReadJob>) -> Vec<Result<(), DbError>> {
        jobs.into_iter()
            .map(|job| {
                job(conn);
                Ok(())
            })
            .collect()
    }
}

/// SQLite's read thread, `None` on PostgreSQL.
pub(super) fn sqlite_reads(
    url: &super::DatabaseUrl,
    timeout: std::time::Duration,
) -> Result<Option<Lane<SqliteReads>>, DbError> {
    match url.backend() {
        super::Backend::Sqlite => Lane::start(url, timeout).map(Some),
        super::Backend::Postgres => Ok(None),
    }
}
