//! Changes to clients made by the running server (the console and the
//! admin HTTP API), on top of
//! [`super::clients`]: each runs as a write of its own and then forgets the
//! client's cached record ([`ClientCache::forget`]), so that it takes
//! effect at once. The CLI is another process: it calls [`super::clients`]
//! directly, and a server sees its changes within the cache's TTL.

use super::client_update::{self, ClientUpdate, Updated};
use super::clients::{self, ClientView, Created, NewClient};
use super::ManageError;
use crate::clock::Clock;
use crate::db::client_cache::ClientCache;
use crate::db::{AnyConnection, Db, DbError};
use crate::secret::Secret;

/// The server's way to change clients: storage and the client cache
/// together, so that no change can skip the cache. Cheap to clone.
#[derive(Clone)]
pub struct ClientChanges {
    db: Db,
    cache: ClientCache,
    clock: Clock,
}

impl ClientChanges {
    /// Changes made on `db`, forgetting records kept in `cache`, at the
    /// times `clock` tells.
    pub fn new(db: Db, cache: ClientCache, clock: Clock) -> ClientChanges {
        ClientChanges { db, cache, clock }
    }

    /// Registers a client for the user `owner` ([`clients::add_owned`]).
    /// A new client's id has never been cached, but forgetting it tells
    /// what follows every change (the CORS origins, `crate::oauth::cors`)
    /// that its redirect URIs now count.
    pub async fn add_owned(
        &self,
        new: NewClient,
        owner: &str,
        max_clients: u32,
    ) -> Result<Created, ManageError> {
        let (owner, clock) = (owner.to_string(), self.clock.clone());
        let created = self
            .db
            .write(move |conn| clients::add_owned(conn, &new, &owner, max_clients, clock.now()))
            .await?;
        self.cache.forget(&created.client.client_id);
        Ok(created)
    }

    /// Registers an administrator's client ([`clients::add`], the
    /// checks of `authd client add`).
    pub async fn add(&self, new: NewClient) -> Result<Created, ManageError> {
        let new = NewClient {
            owner_id: None,
            ..new
        };
        let clock = self.clock.clone();
        let created = self
            .db
            .write(move |conn| clients::add(conn, &new, clock.now()))
            .await?;
        self.cache.forget(&created.client.client_id);
        Ok(created)
    }

    /// [`client_update::update`], the checks of `authd client update`:
    /// the client's next request sees the change.
    pub async fn update(
        &self,
        client_id: &str,
        change: ClientUpdate,
    ) -> Result<Updated, ManageError> {
        let clock = self.clock.clone();
        self.changing(client_id, move |conn, id| {
            client_update::update(conn, id, &change, clock.now())
        })
        .await
    }

    /// [`clients::rotate_secret`]: the old secret stops working at once.
    pub async fn rotate_secret(
        &self,
        client_id: &str,
        owner: Option<&str>,
    ) -> Result<Secret, ManageError> {
        let (owner, clock) = (owner.map(str::to_string), self.clock.clone());
        self.changing(client_id, move |conn, id| {
            clients::rotate_secret(conn, id, owner.as_deref(), clock.now())
        })
        .await
    }

    /// [`clients::resume`].
    pub async fn resume(
        &self,
        client_id: &str,
        owner: Option<&str>,
    ) -> Result<ClientView, ManageError> {
        let (owner, clock) = (owner.map(str::to_string), self.clock.clone());
        self.changing(client_id, move |conn, id| {
            clients::resume(conn, id, owner.as_deref(), clock.now())
        })
        .await
    }

    /// Removes the client: its refresh tokens first, a chunk per write so
    /// that other writes go in between (a client may hold millions), then
    /// the client itself. In a task of its own, like every change, so that
    /// a caller that goes away does not leave it half done.
    pub async fn remove(&self, client_id: &str, owner: Option<&str>) -> Result<(), ManageError> {
        let (this, id, owner) = (
            self.clone(),
            client_id.to_string(),
            owner.map(str::to_string),
        );
        detached(async move {
            loop {
                let (id, owner) = (id.clone(), owner.clone());
                let deleted = this
                    .db
                    .write(move |conn| clients::remove_token_chunk(conn, &id, owner.as_deref()))
                    .await?;
                if !clients::more_tokens_left(deleted) {
                    break;
                }
            }
            this.changing(&id, move |conn, id| {
                clients::remove(conn, id, owner.as_deref())
            })
            .await
        })
        .await
    }

    /// Runs `f(conn, client_id)` as a write, then forgets the client's
    /// cached record whatever the write answered (it may have committed
    /// before failing to answer).
    async fn changing<T, F>(&self, client_id: &str, f: F) -> Result<T, ManageError>
    where
        F: FnOnce(&mut AnyConnection, &str) -> Result<T, ManageError> + Send + 'static,
        T: Send + 'static,
    {
        let (db, cache, id) = (self.db.clone(), self.cache.clone(), client_id.to_string());
        detached(async move {
            let key = id.clone();
            let result = db.write(move |conn| f(conn, &id)).await;
            cache.forget(&key);
            result
        })
        .await
    }
}

/// Runs `work` in a task of its own: a caller that hangs up cannot stop a
/// change between its commit and the forgetting of the cached record.
async fn detached<T, W>(work: W) -> Result<T, ManageError>
where
    W: std::future::Future<Output = Result<T, ManageError>> + 'static,
    T: 'static,
{
    actix_web::rt::spawn(work)
        .await
        .unwrap_or_else(|_| Err(ManageError::Db(DbError::Blocking)))
}
