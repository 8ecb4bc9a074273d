//! `authd backup FILE`: an online copy of the SQLite database
//! ([`crate::db::backup`]), safe while the server runs.

use std::path::{Path, PathBuf};

use super::{output, CliError};
use crate::config::Settings;
use crate::db::{self, backup, Backend};

/// Copies the database named by `DATABASE_URL` to `file`.
pub fn run(settings: &Settings, file: &Path) -> Result<(), CliError> {
    let url = &settings.database_url;
    if url.backend() == Backend::Sqlite && !Path::new(url.as_str()).exists() {
        // connect() would create an empty database and copy that.
        return Err(CliError(format!("no database at {}", url.redacted())));
    }
    let mut conn = db::connect(url)?;
    let bytes = backup::copy_to(&mut conn, file)?;
    let path: PathBuf = file.into();
    output::print(
        settings.json,
        &serde_json::json!({ "backup": path.display().to_string(), "bytes": bytes }),
        &format!(
            "backed up to {} ({bytes} bytes); keep the key file too: the signing keys and second factors are sealed under it",
            path.display()
        ),
    );
    Ok(())
}
