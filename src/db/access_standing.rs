//! What the database says of a verified access token now: whether its
//! `jti` is unrevoked and its client still registered, and its user as
//! stored. Read for introspection, many at a time ([`super::kinds`]):
//! with one statement on PostgreSQL, on one connection on SQLite.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};

use super::owners::{self, Bound};
use super::revoked_access_tokens;
use super::users::{self, User};
use super::AnyConnection;

/// The token asked about, by its claims.
#[derive(Debug, Clone)]
pub struct Asked {
    /// Its `jti`.
    pub jti: String,
    /// Its `client_id`.
    pub client_id: String,
    /// Its `sub`: a user's id, or the client's own.
    pub sub: String,
}

/// The answer.
pub struct Standing {
    /// The `jti` is not revoked and the client exists.
    pub unrevoked_with_client: bool,
    /// The user whose id is `sub`, if any (none for a client's token).
    pub user: Option<User>,
    /// What the client's owner allows it now (a user's client).
    pub bound: Bound,
}

/// One token's standing, in at most two queries (none for the user of a
/// revoked token or of a client's own), and two more for a user's client.
pub fn read(conn: &mut AnyConnection, asked: &Asked) -> QueryResult<Standing> {
    let owner = revoked_access_tokens::unrevoked_client_owner(conn, &asked.jti, &asked.client_id)?;
    let Some((owner_id, owner_generation)) = owner else {
        return Ok(Standing {
            unrevoked_with_client: false,
            user: None,
            bound: Bound::Unowned,
        });
    };
    let user = match asked.sub != asked.client_id {
        true => users::by_id(conn, &asked.sub)?,
        false => None,
    };
    Ok(Standing {
        unrevoked_with_client: true,
        user,
        bound: owners::bound_of(conn, owner_id.as_deref(), owner_generation)?,
    })
}

/// Each token's standing, in order: on PostgreSQL one statement for all,
/// elsewhere [`read`] for each.
pub fn read_many(conn: &mut AnyConnection, asked: &[Asked]) -> QueryResult<Vec<Standing>> {
    let AnyConnection::Postgres(pg) = conn else {
        return asked.iter().map(|a| read(conn, a)).collect();
    };
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    let column = |f: fn(&Asked) -> &String| asked.iter().map(f).cloned().collect::<Vec<_>>();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT i.n, \
           (NOT EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = i.jti) \
            AND coalesce(c.found, false)) AS live, \
           u.id, u.username, u.password_hash, u.disabled, u.created_at, u.updated_at, \
           u.tokens_valid_after, u.credential_generation, c.owner_id, c.owner_generation \
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS i(jti, client_id, sub, n) \
         LEFT JOIN LATERAL (SELECT true AS found, owner_id, owner_generation FROM clients \
           WHERE client_id = i.client_id) c ON true \
         LEFT JOIN users u ON u.id = i.sub AND i.sub <> i.client_id \
         ORDER BY i.n",
    )
    .bind::<Array<Text>, _>(column(|a| &a.jti))
    .bind::<Array<Text>, _>(column(|a| &a.client_id))
    .bind::<Array<Text>, _>(column(|a| &a.sub))
    .load(pg)?;
    if rows.len() != asked.len() || rows.iter().zip(1..).any(|(r, n)| r.n != n) {
        return Err(diesel::result::Error::DeserializationError(
            "the standing statement answered out of order".into(),
        ));
    }
    // A user's client is rare on this path: its owner is read after the
    // statement, on the same connection, rather than joined for every row.
    rows.into_iter()
        .map(|row| {
            let owner = (row.owner_id.clone(), row.owner_generation);
            let mut standing = row.standing();
            if standing.unrevoked_with_client {
                standing.bound = owners::bound_of(conn, owner.0.as_deref(), owner.1)?;
            }
            Ok(standing)
        })
        .collect()
}

/// A row of [`read_many`]'s statement: the user's columns are null when
/// no user matched.
#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Bool)]
    live: bool,
    #[diesel(sql_type = Nullable<Text>)]
    id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    username: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    password_hash: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    disabled: Option<bool>,
    #[diesel(sql_type = Nullable<BigInt>)]
    created_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    updated_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    tokens_valid_after: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    credential_generation: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    owner_id: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    owner_generation: Option<i64>,
}

impl Row {
    fn standing(self) -> Standing {
        let user = (|| {
            Some(User {
                id: self.id?,
                username: self.username?,
                password_hash: self.password_hash?,
                disabled: self.disabled?,
                created_at: self.created_at?,
                updated_at: self.updated_at?,
                tokens_valid_after: self.tokens_valid_after?,
                credential_generation: self.credential_generation?,
            })
        })();
        Standing {
            unrevoked_with_client: self.live,
            user: user.filter(|_| self.live),
            // Judged by the caller, for a user's client.
            bound: Bound::Unowned,
        }
    }
}
