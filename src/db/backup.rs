//! An online copy of a SQLite database (`authd backup FILE`,
//! docs/OPERATIONS.md "Backup and restore").
//!
//! `VACUUM INTO` reads the database in one read transaction: the copy is a
//! consistent snapshot while the server goes on writing (WAL lets readers
//! and the writer proceed together), compacted, and with no WAL of its
//! own, so a restore is a plain file copy. It is written beside the
//! target under a temporary name, synced, and renamed: the target path
//! never holds half a copy. PostgreSQL has its own tools (`pg_dump`).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use diesel::sql_types::Text;
use diesel::RunQueryDsl;

use super::{AnyConnection, DbError};

/// Why a backup failed: one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target exists: a backup never overwrites.
    #[error("{0} exists; authd backup never overwrites a file")]
    Exists(String),
    /// The database is PostgreSQL.
    #[error(
        "authd backup copies SQLite databases; for PostgreSQL use pg_dump (docs/OPERATIONS.md)"
    )]
    Postgres,
    /// Writing the copy failed.
    #[error("backup to {path} failed: {reason}")]
    Failed {
        /// The target.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The database could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Copies the database behind `conn` to `target`; returns its size in
/// bytes.
pub fn copy_to(conn: &mut AnyConnection, target: &Path) -> Result<u64, BackupError> {
    let shown = target.display().to_string();
    let failed = |reason: String| BackupError::Failed {
        path: shown.clone(),
        reason,
    };
    let AnyConnection::Sqlite(sqlite) = conn else {
        return Err(BackupError::Postgres);
    };
    if target.exists() {
        return Err(BackupError::Exists(shown));
    }
    let partial = partial_path(target);
    // A partial copy left by a crash: ours to replace.
    let _ = fs::remove_file(&partial);
    let Some(partial_str) = partial.to_str() else {
        return Err(failed("the path is not UTF-8".into()));
    };
    let written = diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(partial_str)
        .execute(sqlite)
        .map_err(|e| failed(e.to_string()))
        .and_then(|_| {
            let file = File::open(&partial).map_err(|e| failed(e.to_string()))?;
            file.sync_all().map_err(|e| failed(e.to_string()))?;
            Ok(file.metadata().map_err(|e| failed(e.to_string()))?.len())
        });
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
    };
    // rename(2) replaces silently: a file that appeared meanwhile wins.
    if target.exists() {
        let _ = fs::remove_file(&partial);
        return Err(BackupError::Exists(shown));
    }
    fs::rename(&partial, target).map_err(|e| failed(e.to_string()))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the folder is synced.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| failed(e.to_string()))?;
    }
    Ok(bytes)
}

/// `target` with `.partial` appended to its file name.
fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    target.with_file_name(name)
}
