//! The `status_blocks` table: blocks of status-list indices that an
//! instance reserves for the access tokens it issues (docs/design.md
//! "Status lists"). A block is reserved with one write and then handed out
//! from memory; it is free again once every token that can hold one of its
//! indices has expired, so the lists stay as small as the live tokens need.

use diesel::prelude::*;

use super::schema::status_blocks as sb;
use super::AnyConnection;

/// Indices in one block.
pub const BLOCK_SIZE: i64 = 1024;
/// Blocks in one list: a list has `BLOCK_SIZE * LIST_BLOCKS` indices.
pub const LIST_BLOCKS: i64 = 256;
/// Indices in one list (262,144 bits: 32 KiB before compression).
pub const LIST_SIZE: i64 = BLOCK_SIZE * LIST_BLOCKS;

/// How long after its expiry a block stays reserved: instances whose clock
/// runs behind must not still count an old token's revocation at an index
/// handed out again.
pub const REUSE_MARGIN: i64 = 60;

/// How many times a reservation that lost a race is tried again.
const ATTEMPTS: usize = 8;

/// A reserved block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// The list it belongs to.
    pub list_id: i64,
    /// Its number in the list.
    pub block: i64,
    /// No token holding one of its indices may expire after this.
    pub expires_at: i64,
}

impl Reserved {
    /// The list index of its first entry.
    pub fn first_idx(&self) -> i64 {
        self.block * BLOCK_SIZE
    }
}

/// Reserves a block until `expires_at`: a free one (the lowest, so that
/// the lists in use stay few) with one conditional UPDATE, else a new one
/// after the highest. A reservation another instance won in between is
/// tried again, a few times. `None` if every try lost a race.
pub fn reserve(
    conn: &mut AnyConnection,
    now: i64,
    expires_at: i64,
) -> QueryResult<Option<Reserved>> {
    let free_before = now - REUSE_MARGIN;
    for _ in 0..ATTEMPTS {
        let free: Option<(i64, i64)> = sb::table
            .filter(sb::expires_at.lt(free_before))
            .order((sb::list_id, sb::block))
            .select((sb::list_id, sb::block))
            .limit(1)
            .get_result(conn)
            .optional()?;
        let won = match free {
            Some((list_id, block)) => {
                let taken = diesel::update(
                    sb::table
                        .filter(sb::list_id.eq(list_id))
                        .filter(sb::block.eq(block))
                        .filter(sb::expires_at.lt(free_before)),
                )
                .set(sb::expires_at.eq(expires_at))
                .execute(conn)?;
                (taken == 1).then_some((list_id, block))
            }
            None => append(conn, expires_at)?,
        };
        if let Some((list_id, block)) = won {
            return Ok(Some(Reserved {
                list_id,
                block,
                expires_at,
            }));
        }
    }
    Ok(None)
}

/// Adds the block after the highest one, unless another instance added it
/// first.
fn append(conn: &mut AnyConnection, expires_at: i64) -> QueryResult<Option<(i64, i64)>> {
    let last: Option<(i64, i64)> = sb::table
        .order((sb::list_id.desc(), sb::block.desc()))
        .select((sb::list_id, sb::block))
        .limit(1)
        .get_result(conn)
        .optional()?;
    let (list_id, block) = match last {
        None => (0, 0),
        Some((l, b)) if b + 1 < LIST_BLOCKS => (l, b + 1),
        Some((l, _)) => (l + 1, 0),
    };
    let insert = diesel::insert_into(sb::table)
        .values((
            sb::list_id.eq(list_id),
            sb::block.eq(block),
            sb::expires_at.eq(expires_at),
        ))
        .on_conflict((sb::list_id, sb::block))
        .do_nothing();
    // diesel's MultiConnection has no upsert: the inner connection, as in
    // `revoked_access_tokens::insert`.
    let added = match conn {
        AnyConnection::Postgres(c) => insert.execute(c),
        AnyConnection::Sqlite(c) => insert.execute(c),
    }?;
    Ok((added == 1).then_some((list_id, block)))
}

/// Whether list `list_id` has any block (so is served).
pub fn list_exists(conn: &mut AnyConnection, list_id: i64) -> QueryResult<bool> {
    use diesel::dsl::exists;
    diesel::select(exists(sb::table.filter(sb::list_id.eq(list_id)))).get_result(conn)
}

/// How many blocks exist, in every list.
pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    sb::table.count().get_result(conn)
}
