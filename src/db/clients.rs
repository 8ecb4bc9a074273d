//! The `clients` table.

use diesel::prelude::*;

use super::schema::clients;
use super::AnyConnection;

/// A registered client app. No `Debug`: it carries the secret's hash.
#[derive(Queryable, Selectable, Insertable, Clone, Default)]
#[diesel(table_name = clients)]
pub struct Client {
    /// Public identifier.
    pub client_id: String,
    /// SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    /// Display name.
    pub name: String,
    /// Allowed grant types, space-separated.
    pub grants: String,
    /// Allowed scopes, space-separated.
    pub scopes: String,
    /// Registered redirect URIs, space-separated.
    pub redirect_uris: String,
    /// `aud` of its access tokens; `None` means the issuer.
    pub audience: Option<String>,
    /// The user who created it in the console, if any.
    pub owner_id: Option<String>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
    /// Audiences whose access tokens it may introspect besides its own,
    /// space-separated (a resource server's).
    pub introspects: String,
    /// For a client a user registered: the owner's credential generation
    /// when it was registered or last re-keyed (see [`Client::is_owned`]).
    pub owner_generation: Option<i64>,
    /// The JWS algorithm of its ID tokens; `None` is RS256
    /// (docs/interface.md "OpenID Connect").
    pub id_token_alg: Option<String>,
    /// Registered with `--first-party`: never shows the consent page
    /// (docs/interface.md "OpenID Connect").
    pub first_party: bool,
    /// Where RP-initiated logout may send the browser, space-separated
    /// (`--post-logout-redirect-uri`).
    pub post_logout_redirect_uris: String,
    /// Where it hears of the end of a session in which it got an ID token
    /// (`--backchannel-logout-uri`, Back-Channel Logout 1.0 §2.2).
    pub backchannel_logout_uri: Option<String>,
}

impl Client {
    /// Whether a user registered it (the console): then it is bounded by
    /// that user at every issuance and introspection
    /// ([`super::owners::bound`]), even after the user row is gone.
    pub fn is_owned(&self) -> bool {
        self.owner_generation.is_some()
    }

    /// Whether the client has no secret.
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// The allowed grant types.
    pub fn grant_list(&self) -> Vec<String> {
        split(&self.grants)
    }

    /// The allowed scopes.
    pub fn scope_list(&self) -> Vec<String> {
        split(&self.scopes)
    }

    /// The registered redirect URIs.
    pub fn redirect_uri_list(&self) -> Vec<String> {
        split(&self.redirect_uris)
    }

    /// The registered post-logout redirect URIs.
    pub fn post_logout_redirect_uri_list(&self) -> Vec<String> {
        split(&self.post_logout_redirect_uris)
    }

    /// The audiences whose access tokens it may introspect.
    pub fn introspect_list(&self) -> Vec<String> {
        split(&self.introspects)
    }

    /// Whether it may introspect other clients' access tokens for `aud`.
    /// Never a public client, which cannot prove who it is.
    pub fn introspects_audience(&self, aud: &str) -> bool {
        !self.is_public() && self.introspects.split_whitespace().any(|a| a == aud)
    }

    /// Whether the client may use this grant type.
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grants.split(' ').any(|g| g == grant)
    }
}

fn split(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Inserts a client row.
pub fn insert(conn: &mut AnyConnection, client: &Client) -> QueryResult<()> {
    diesel::insert_into(clients::table)
        .values(client)
        .execute(conn)
        .map(drop)
}

/// The client with this id, if any.
pub fn find(conn: &mut AnyConnection, client_id: &str) -> QueryResult<Option<Client>> {
    clients::table
        .find(client_id)
        .select(Client::as_select())
        .get_result(conn)
        .optional()
}

/// The clients with these ids, in no order; ids not registered are
/// simply absent. One statement whatever their number: on PostgreSQL
/// `= ANY($1)` with one array parameter.
pub fn find_many(conn: &mut AnyConnection, client_ids: &[&str]) -> QueryResult<Vec<Client>> {
    let wanted = clients::client_id.eq_any(client_ids);
    match conn {
        AnyConnection::Postgres(pg) => clients::table
            .filter(wanted)
            .select(Client::as_select())
            .load(pg),
        AnyConnection::Sqlite(lite) => clients::table
            .filter(wanted)
            .select(Client::as_select())
            .load(lite),
    }
}

/// The client with this id if `owner` created it (console): the owner is
/// part of the query, so another user's client is simply not found.
pub fn find_owned(
    conn: &mut AnyConnection,
    client_id: &str,
    owner: &str,
) -> QueryResult<Option<Client>> {
    clients::table
        .find(client_id)
        .filter(clients::owner_id.eq(owner))
        .select(Client::as_select())
        .get_result(conn)
        .optional()
}

/// How many clients `owner` created in the console. On PostgreSQL it
/// first locks the owner's user row (`FOR NO KEY UPDATE`, which tokens'
/// foreign-key checks do not wait for), so that two creations by one user
/// at once count one after the other and a quota holds; on SQLite the
/// write transaction already runs alone.
pub fn count_owned(conn: &mut AnyConnection, owner: &str) -> QueryResult<i64> {
    if let AnyConnection::Postgres(pg) = conn {
        diesel::sql_query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind::<diesel::sql_types::Text, _>(owner)
            .execute(pg)?;
    }
    clients::table
        .filter(clients::owner_id.eq(owner))
        .count()
        .get_result(conn)
}

/// Every client, by name; only those of `owner` when given.
pub fn list(conn: &mut AnyConnection, owner: Option<&str>) -> QueryResult<Vec<Client>> {
    let mut query = clients::table.select(Client::as_select()).into_boxed();
    if let Some(owner) = owner {
        query = query.filter(clients::owner_id.eq(owner));
    }
    query
        .order((clients::name.asc(), clients::client_id.asc()))
        .load(conn)
}

/// Replaces the secret's hash; returns the rows changed (0 = no such client).
pub fn set_secret_hash(
    conn: &mut AnyConnection,
    client_id: &str,
    hash: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(clients::table.find(client_id))
        .set((
            clients::secret_hash.eq(Some(hash)),
            clients::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Stores what an administrator may change of `client` (name, grants,
/// scopes, redirect URIs, audience) as it holds them now; returns the rows
/// changed (0 = no such client).
pub fn update(conn: &mut AnyConnection, client: &Client, now: i64) -> QueryResult<usize> {
    diesel::update(clients::table.find(&client.client_id))
        .set((
            clients::name.eq(&client.name),
            clients::grants.eq(&client.grants),
            clients::scopes.eq(&client.scopes),
            clients::redirect_uris.eq(&client.redirect_uris),
            clients::audience.eq(&client.audience),
            clients::post_logout_redirect_uris.eq(&client.post_logout_redirect_uris),
            clients::backchannel_logout_uri.eq(&client.backchannel_logout_uri),
            clients::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Binds a user's client to its owner's credential generation `generation`.
pub fn set_owner_generation(
    conn: &mut AnyConnection,
    client_id: &str,
    generation: i64,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(clients::table.find(client_id))
        .set((
            clients::owner_generation.eq(Some(generation)),
            clients::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Deletes at most `limit` of the client's refresh tokens, the first in
/// key order; returns how many. A client with many tokens is removed by
/// calling this, each call in a transaction of its own, until fewer than
/// `limit` go, and then [`delete`]: so no one transaction holds the
/// database (SQLite's only writer) for as long as it takes to delete them
/// all, and other writes go in between.
///
/// On PostgreSQL the chunk's rows are locked in key order before they are
/// deleted, as [`delete`] locks them, and for the same reason: concurrent
/// rotations lock tokens too, and rows taken in one order everywhere
/// cannot deadlock. No chunk touches the client row, which [`delete`]
/// takes last.
pub fn delete_token_chunk(
    conn: &mut AnyConnection,
    client_id: &str,
    limit: i64,
) -> QueryResult<usize> {
    let lock = match conn {
        AnyConnection::Postgres(_) => " FOR UPDATE",
        AnyConnection::Sqlite(_) => "",
    };
    let placeholders = match conn {
        AnyConnection::Postgres(_) => ("$1", "$2"),
        AnyConnection::Sqlite(_) => ("?", "?"),
    };
    let sql = format!(
        "DELETE FROM refresh_tokens WHERE token_hash IN (\
           SELECT token_hash FROM refresh_tokens WHERE client_id = {} \
           ORDER BY token_hash LIMIT {}{lock})",
        placeholders.0, placeholders.1
    );
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Text, _>(client_id)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .execute(conn)
}

/// Deletes the client; its refresh tokens and codes go with it (cascade).
///
/// On PostgreSQL the caller's transaction first locks those rows, in key
/// order, and only then the client's. A rotation (or a code exchange)
/// locks its token (its code) and then, checking the successor's foreign
/// key, shares a lock on the client row. Deleting the client row first
/// would make the cascade wait for the token while the rotation waits for
/// the client row: a deadlock, and PostgreSQL aborts one of the two.
/// Taken in this order, the delete waits for the rotation, which finishes.
pub fn delete(conn: &mut AnyConnection, client_id: &str) -> QueryResult<usize> {
    lock_grants_of(conn, GrantsOf::Client, client_id)?;
    diesel::delete(clients::table.find(client_id)).execute(conn)
}

/// Whose refresh tokens and codes [`lock_grants_of`] locks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GrantsOf {
    /// A client's (`client_id`).
    Client,
    /// A user's (`user_id`).
    User,
}

/// On PostgreSQL, locks the refresh tokens and then the authorization
/// codes of a client or user, each in key order, in the caller's
/// transaction: what deleting the client or user row would cascade to,
/// taken before that row (see [`delete`] for the deadlock this avoids).
/// Nothing on SQLite, whose one writer excludes the race.
pub(crate) fn lock_grants_of(conn: &mut AnyConnection, of: GrantsOf, id: &str) -> QueryResult<()> {
    let AnyConnection::Postgres(pg) = conn else {
        return Ok(());
    };
    let column = match of {
        GrantsOf::Client => "client_id",
        GrantsOf::User => "user_id",
    };
    // Counted on the server: a client may hold millions of tokens.
    for rows in [
        format!("SELECT 1 FROM refresh_tokens WHERE {column} = $1 ORDER BY token_hash FOR UPDATE"),
        format!("SELECT 1 FROM auth_codes WHERE {column} = $1 ORDER BY code_hash FOR UPDATE"),
    ] {
        diesel::sql_query(format!("SELECT count(*) FROM ({rows}) AS locked"))
            .bind::<diesel::sql_types::Text, _>(id)
            .execute(pg)?;
    }
    Ok(())
}

/// Every client's registered redirect URIs (each row space-separated),
/// leaving out clients with none: where the CORS origins come from
/// ([`super::cors_origins`]).
pub fn all_redirect_uris(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    clients::table
        .filter(clients::redirect_uris.ne(""))
        .select(clients::redirect_uris)
        .load(conn)
}

/// The ID-token algorithms clients chose (`--id-token-alg`), each once.
pub fn id_token_algs(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    clients::table
        .filter(clients::id_token_alg.is_not_null())
        .select(clients::id_token_alg.assume_not_null())
        .distinct()
        .load(conn)
}
