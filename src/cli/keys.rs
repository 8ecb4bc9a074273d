//! `authd keys …`

use super::{output, CliError, Ctx};
use crate::keys::{self, SigningAlg};
use crate::manage::keys as manage_keys;
use clap::Subcommand;

/// Key commands (docs/interface.md "Token lifecycle", Keys).
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List signing keys and their state (staged, active, retired, revoked).
    List,
    /// Publish a next signing key at once without signing with it, so that
    /// verifiers holding a cached JWKS know it before `keys rotate`.
    Stage {
        /// Algorithm (default: --signing-alg / AUTHD_SIGNING_ALG).
        #[arg(long, value_enum)]
        alg: Option<SigningAlg>,
    },
    /// Activate the staged key of the algorithm (a new key if none is
    /// staged); a running server switches to it within seconds and keeps
    /// publishing the old one while its tokens live.
    Rotate {
        /// Algorithm (default: --signing-alg / AUTHD_SIGNING_ALG).
        #[arg(long, value_enum)]
        alg: Option<SigningAlg>,
    },
    /// Withdraw a key: out of the JWKS, never signing again, its tokens
    /// refused by introspection and UserInfo; a new key takes over if it
    /// was active.
    Revoke {
        /// The key's id (`kid`).
        kid: String,
    },
}

pub(super) fn run(cmd: KeysCmd, ctx: &mut Ctx) -> Result<(), CliError> {
    let t = ctx.clock.now();
    match cmd {
        KeysCmd::List => {
            let views = manage_keys::list(&mut ctx.conn, t, ctx.settings.access_token_ttl)?;
            let text = views
                .iter()
                .map(|k| {
                    let unpublished = if k.published { "" } else { " (unpublished)" };
                    format!(
                        "{}\t{}\t{}\t{}{unpublished}",
                        k.kid, k.alg, k.purpose, k.state
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            output::print(ctx.json, &views, &text);
        }
        KeysCmd::Stage { alg } => {
            let alg = alg.unwrap_or(ctx.settings.signing_alg);
            let vault = ctx.settings.key_vault(&mut ctx.conn)?;
            let row = keys::stage(&mut ctx.conn, &vault, alg, t)?;
            let json = serde_json::json!({ "kid": row.kid, "alg": row.alg, "state": "staged" });
            let text = format!(
                "signing key {} ({}) is staged: published, signing nothing until 'authd keys rotate'",
                row.kid, row.alg
            );
            output::print(ctx.json, &json, &text);
        }
        KeysCmd::Rotate { alg } => {
            let alg = alg.unwrap_or(ctx.settings.signing_alg);
            let vault = ctx.settings.key_vault(&mut ctx.conn)?;
            let row = keys::rotate(&mut ctx.conn, &vault, alg, t)?;
            let json = serde_json::json!({ "kid": row.kid, "alg": row.alg });
            let text = format!("new signing key {} ({}) is now active", row.kid, row.alg);
            output::print(ctx.json, &json, &text);
        }
        KeysCmd::Revoke { kid } => {
            let vault = ctx.settings.key_vault(&mut ctx.conn)?;
            let done = keys::revoke(&mut ctx.conn, &vault, &kid, t)?;
            let successor = done.successor.as_ref().map(|s| s.kid.as_str());
            let json = serde_json::json!({
                "kid": done.key.kid,
                "alg": done.key.alg,
                "state": keys::state(&done.key).as_str(),
                "successor": successor,
            });
            let text = match successor {
                Some(s) => format!("signing key {kid} is revoked; key {s} now signs"),
                None => format!("signing key {kid} is revoked"),
            };
            output::print(ctx.json, &json, &text);
        }
    }
    Ok(())
}
