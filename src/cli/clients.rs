//! `authd client …`

use clap::Subcommand;

use super::{output, CliError, Ctx};
use crate::audit::{self, Actor};
use crate::keys::{self, SigningAlg, DEFAULT_ID_TOKEN_ALG};
use crate::manage::client_update::{self, ClientUpdate};
use crate::manage::clients::{self, ClientView, NewClient};

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCmd {
    /// Register a client app; its secret is shown once.
    Add {
        /// Display name.
        name: String,
        /// Allowed grant (password, refresh_token, client_credentials,
        /// authorization_code); may be repeated. Default: password refresh_token.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Allowed scopes, space-separated; may be repeated.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A public client (no secret), e.g. a browser or mobile app.
        #[arg(long)]
        public: bool,
        /// A redirect URI for authorization_code; may be repeated.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// The `aud` of its access tokens (default: the issuer).
        #[arg(long)]
        audience: Option<String>,
        /// Let this client (a resource server) introspect access tokens
        /// whose `aud` is AUD, whoever they were issued to; may be
        /// repeated. Without it, a client introspects only its own tokens.
        #[arg(long = "introspects", value_name = "AUD")]
        introspects: Vec<String>,
        /// The algorithm of its OpenID Connect ID tokens (default RS256,
        /// which every relying party supports).
        #[arg(long = "id-token-alg", value_enum)]
        id_token_alg: Option<SigningAlg>,
        /// An app of the operator's own: users are never asked to consent
        /// to it.
        #[arg(long = "first-party")]
        first_party: bool,
        /// Where RP-initiated logout may send the browser back to
        /// (`post_logout_redirect_uri`); may be repeated. The redirect URI
        /// rule applies.
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// Where the app is told (a POST with a logout token) when a
        /// session in which it got an ID token ends: https, or http on a
        /// loopback address.
        #[arg(long = "backchannel-logout-uri", value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        /// Its id, instead of a random one: ASCII letters, digits, '-',
        /// '_' and '.'.
        #[arg(long = "client-id", value_name = "ID")]
        client_id: Option<String>,
    },
    /// Change a client: only the options given change (a list given
    /// replaces the old one), checked as `client add` checks them.
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
    Update {
        /// The client's id.
        client_id: String,
        /// A new display name.
        #[arg(long, group = "change")]
        name: Option<String>,
        /// Its scopes, space-separated; may be repeated.
        #[arg(long = "scope", group = "change")]
        scopes: Vec<String>,
        /// Its grants; may be repeated.
        #[arg(long = "grant", group = "change")]
        grants: Vec<String>,
        /// Its redirect URIs; may be repeated.
        #[arg(long = "redirect-uri", group = "change")]
        redirect_uris: Vec<String>,
        /// The `aud` of its access tokens.
        #[arg(long, group = "change")]
        audience: Option<String>,
        /// Its post-logout redirect URIs; may be repeated.
        #[arg(
            long = "post-logout-redirect-uri",
            value_name = "URI",
            group = "change"
        )]
        post_logout_redirect_uris: Vec<String>,
        /// Its back-channel logout URI (an empty one removes it).
        #[arg(long = "backchannel-logout-uri", value_name = "URI", group = "change")]
        backchannel_logout_uri: Option<String>,
    },
    /// List clients (never their secrets), with who registered each.
    List,
    /// Show one client (never its secret).
    Show {
        /// The client's id.
        client_id: String,
    },
    /// Issue a new secret; the old one stops working at once.
    RotateSecret {
        /// The client's id.
        client_id: String,
    },
    /// Remove a client; its refresh tokens stop working.
    Remove {
        /// The client's id.
        client_id: String,
    },
}

fn describe(c: &ClientView) -> String {
    let owner = match (&c.owner, c.suspended) {
        (Some(name), false) => name.escape_debug().to_string(),
        (Some(name), true) => format!("{} (suspended)", name.escape_debug()),
        (None, true) => "a deleted user (suspended)".to_string(),
        (None, false) => "-".to_string(),
    };
    format!(
        "{}\t{}\t{}\tgrants: {}\tscopes: {}\tintrospects: {}\towner: {}",
        c.client_id,
        c.name,
        if c.public { "public" } else { "confidential" },
        output::list(&c.grants),
        output::list(&c.scopes),
        output::list(&c.introspects),
        owner,
    )
}

pub(super) fn run(cmd: ClientCmd, ctx: &mut Ctx) -> Result<(), CliError> {
    match cmd {
        ClientCmd::Add {
            name,
            grants,
            scopes,
            public,
            redirect_uris,
            audience,
            introspects,
            id_token_alg,
            first_party,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            client_id,
        } => {
            let new = NewClient {
                client_id,
                name,
                grants,
                scopes,
                public,
                redirect_uris,
                audience,
                introspects,
                owner_id: None,
                id_token_alg,
                first_party,
                post_logout_redirect_uris,
                backchannel_logout_uri,
            };
            let created = clients::add(&mut ctx.conn, &new, ctx.clock.now())?;
            // Its key in the JWKS before its first ID token (see
            // `keys::ensure_id_keys`); a running server loads it within
            // seconds.
            if id_token_alg.is_some_and(|alg| alg != DEFAULT_ID_TOKEN_ALG) {
                let vault = ctx.settings.key_vault(&mut ctx.conn)?;
                keys::ensure_id_keys(&mut ctx.conn, &vault, ctx.clock.now())?;
            }
            let c = &created.client;
            audit::client_added(&c.client_id, &c.name, c.public, Actor::Cli);
            let mut json = serde_json::json!({
                "client_id": c.client_id, "name": c.name,
                "grants": c.grants, "scopes": c.scopes,
                "introspects": c.introspects, "id_token_alg": c.id_token_alg,
                "first_party": c.first_party,
                "post_logout_redirect_uris": c.post_logout_redirect_uris,
            });
            if let Some(uri) = &c.backchannel_logout_uri {
                json["backchannel_logout_uri"] = uri.as_str().into();
            }
            let mut text = format!("client created: {}", describe(c));
            if let Some(secret) = &created.secret {
                json["client_secret"] = secret.expose().into();
                text.push_str(&format!(
                    "\nclient_id:     {}\nclient_secret: {}\n(store the secret now: it is shown only once)",
                    c.client_id,
                    secret.expose()
                ));
            }
            output::print(ctx.json, &json, &text);
        }
        ClientCmd::List => {
            let all = clients::list(&mut ctx.conn, None)?;
            let text = all.iter().map(describe).collect::<Vec<_>>().join("\n");
            output::print(ctx.json, &all, &text);
        }
        ClientCmd::Show { client_id } => {
            let c = clients::get(&mut ctx.conn, &client_id, None)?;
            let mut text = describe(&c);
            if !c.redirect_uris.is_empty() {
                text.push_str(&format!(
                    "\nredirect URIs: {}",
                    output::list(&c.redirect_uris)
                ));
            }
            if !c.post_logout_redirect_uris.is_empty() {
                text.push_str(&format!(
                    "\npost-logout redirect URIs: {}",
                    output::list(&c.post_logout_redirect_uris)
                ));
            }
            if let Some(uri) = &c.backchannel_logout_uri {
                text.push_str(&format!("\nback-channel logout URI: {uri}"));
            }
            output::print(ctx.json, &c, &text);
        }
        ClientCmd::Update {
            client_id,
            name,
            scopes,
            grants,
            redirect_uris,
            audience,
            post_logout_redirect_uris,
            backchannel_logout_uri,
        } => {
            let given = |list: Vec<String>| (!list.is_empty()).then_some(list);
            let change = ClientUpdate {
                name,
                scopes: given(scopes),
                grants: given(grants),
                redirect_uris: given(redirect_uris),
                audience,
                post_logout_redirect_uris: given(post_logout_redirect_uris),
                backchannel_logout_uri,
            };
            let updated =
                client_update::update(&mut ctx.conn, &client_id, &change, ctx.clock.now())?;
            if !updated.changed.is_empty() {
                audit::client_updated(&client_id, &updated.changed, Actor::Cli);
            }
            let text = match updated.changed.is_empty() {
                true => format!("client '{client_id}' unchanged"),
                false => format!(
                    "client updated ({}): {}",
                    updated.changed.join(", "),
                    describe(&updated.client)
                ),
            };
            output::print(ctx.json, &updated, &text);
        }
        ClientCmd::RotateSecret { client_id } => {
            let secret = clients::rotate_secret(&mut ctx.conn, &client_id, None, ctx.clock.now())?;
            audit::client_secret_rotated(&client_id, Actor::Cli);
            let json = serde_json::json!({
                "client_id": client_id, "client_secret": secret.expose(),
            });
            let text = format!(
                "client_id:     {client_id}\nclient_secret: {}\n(the old secret no longer works; this one is shown only once)",
                secret.expose()
            );
            output::print(ctx.json, &json, &text);
        }
        ClientCmd::Remove { client_id } => {
            clients::remove_in_chunks(&mut ctx.conn, &client_id, None)?;
            audit::client_removed(&client_id, Actor::Cli);
            let json = serde_json::json!({ "client_id": client_id, "removed": true });
            output::print(ctx.json, &json, &format!("client '{client_id}' removed"));
        }
    }
    Ok(())
}
