//! `authd keys …`

use clap::Subcommand;
use serde::Serialize;

use super::{output, CliError, Ctx};
use crate::db::signing_keys;
use crate::keys::{self, SigningAlg};

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List signing keys and their state.
    List,
    /// Generate a new signing key; a running server switches to it within
    /// seconds and keeps publishing the old one while its tokens live.
    Rotate {
        /// Algorithm (default: --signing-alg / AUTHD_SIGNING_ALG).
        #[arg(long, value_enum)]
        alg: Option<SigningAlg>,
    },
}

#[derive(Serialize)]
struct KeyView {
    kid: String,
    alg: String,
    /// `access` or `id_token`.
    purpose: String,
    status: &'static str,
    created_at: i64,
    retired_at: Option<i64>,
}

pub(super) fn run(cmd: KeysCmd, ctx: &mut Ctx) -> Result<(), CliError> {
    let t = ctx.clock.now();
    match cmd {
        KeysCmd::List => {
            let ttl = ctx.settings.access_token_ttl;
            let views: Vec<KeyView> = signing_keys::list(&mut ctx.conn)?
                .iter()
                .map(|k| KeyView {
                    kid: k.kid.clone(),
                    alg: k.alg.clone(),
                    purpose: k.purpose.clone(),
                    status: keys::status(k, t, ttl),
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                })
                .collect();
            let text = views
                .iter()
                .map(|k| format!("{}\t{}\t{}\t{}", k.kid, k.alg, k.purpose, k.status))
                .collect::<Vec<_>>()
                .join("\n");
            output::print(ctx.json, &views, &text);
        }
        KeysCmd::Rotate { alg } => {
            let alg = alg.unwrap_or(ctx.settings.signing_alg);
            let vault = ctx.settings.key_vault(&mut ctx.conn)?;
            let row = keys::rotate(&mut ctx.conn, &vault, alg, t)?;
            let json = serde_json::json!({ "kid": row.kid, "alg": row.alg });
            let text = format!("new signing key {} ({}) is now active", row.kid, row.alg);
            output::print(ctx.json, &json, &text);
        }
    }
    Ok(())
}
