//! Client lookups, combined: requests that authenticate a client
//! (client_credentials, introspection, revocation) queue its id on a
//! [`Lane`], whose thread reads everything queued with one statement
//! (`SELECT … WHERE client_id = ANY($1)` on PostgreSQL, `IN (…)` on
//! SQLite). Each lookup on the pool cost a hop through the blocking pool
//! and a checkout, and on PostgreSQL a round trip and a statement; under
//! load, one statement now serves many.

use std::collections::HashMap;
use std::time::Duration;

use super::clients::{self, Client};
use super::lane::{self, Lane, Work};
use super::{AnyConnection, DatabaseUrl, DbError};

/// The queue's sending end; cheap to clone.
#[derive(Clone)]
pub struct ClientReader {
    lane: Lane<Lookups>,
}

impl ClientReader {
    /// Starts the lookup thread; it connects to `url` when it first has
    /// work, waiting at most `connect_timeout`.
    pub fn start(url: &DatabaseUrl, connect_timeout: Duration) -> Result<ClientReader, DbError> {
        Ok(ClientReader {
            lane: Lane::start(url, connect_timeout)?,
        })
    }

    /// The client with this id, as the statement holding the lookup read
    /// it. `Err(client_id)`: the thread has gone, and nothing was read.
    pub async fn find(&self, client_id: String) -> Result<Result<Option<Client>, DbError>, String> {
        self.lane.send(client_id).await
    }
}

/// The lookup thread's work.
struct Lookups;

impl Work for Lookups {
    type Item = String;
    type Answer = Option<Client>;
    const NAME: &'static str = "clients";

    fn prepare(_: &mut AnyConnection) -> Result<(), DbError> {
        Ok(())
    }

    fn run(conn: &mut AnyConnection, ids: Vec<String>) -> Vec<Result<Option<Client>, DbError>> {
        let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        match clients::find_many(conn, &wanted) {
            Ok(found) => {
                let by_id: HashMap<String, Client> = found
                    .into_iter()
                    .map(|c| (c.client_id.clone(), c))
                    .collect();
                ids.iter().map(|id| Ok(by_id.get(id).cloned())).collect()
            }
            Err(e) => lane::failed_all::<Self>(ids.len(), DbError::Query(e)),
        }
    }
}
