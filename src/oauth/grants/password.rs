//! The resource owner password credentials grant (RFC 6749 §4.3).
//! oxide-auth has no flow for it; it is built on its primitives: the
//! Registrar authenticates the client and negotiates the scope, the login
//! checker verifies the user (and, for a user with a second factor, the
//! `otp` parameter: docs/interface.md "Second factors"), and the Issuer
//! issues.

use std::net::IpAddr;

use super::{read_profile, within_owner, Stored, TokenResponse};
use crate::audit::{self, Attempt, LoginFailure};
use crate::db::clients::Client;
use crate::db::{users, AnyConnection};
use crate::grant_type::GrantType;
use crate::login::CheckedLogin;
use crate::mfa::amr::Amr;
use crate::mfa::Proof;
use crate::oauth::client_auth::{self, ClientAuth, DbRegistrar};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::id_token::{IdToken, SignIn};
use crate::oauth::issuer::set_sign_in;
use crate::scope::{self, ScopeSet};
use crate::secret::{random_id, Secret};

/// A password grant request.
pub struct PasswordRequest {
    /// How the client authenticated.
    pub auth: ClientAuth,
    /// The user's name.
    pub username: String,
    /// The user's password.
    pub password: Secret,
    /// A TOTP or recovery code (`otp`), for a user with a second factor.
    pub otp: Option<Secret>,
    /// The requested scope.
    pub requested: Option<ScopeSet>,
    /// The client address, for the per-address limit.
    pub remote: Option<IpAddr>,
}

/// Runs the grant.
pub async fn run(ctx: GrantCtx, req: PasswordRequest) -> Result<TokenResponse, OAuthError> {
    // Shed first: when the hashing queue is full, answer before any
    // storage work (the check itself enforces the bound again).
    if ctx.logins.shed() {
        return Err(OAuthError::Busy);
    }
    // The client first: an unknown client costs no hash.
    let client = client_auth::authenticate(&ctx, &req.auth, Some(GrantType::Password)).await?;
    let offered =
        DbRegistrar::known(client.clone()).negotiate_scope(&client, req.requested.as_ref())?;
    // A user's client: no more than its owner may have.
    let offered = within_owner(&client_auth::owner_bound(&ctx, &client).await?, offered)?;

    let client_id = client.client_id.clone();
    let attempt = Attempt {
        username: &req.username,
        client_id: Some(&client_id),
        remote: req.remote,
    };
    let login = ctx.logins.check(&attempt, req.password).await?;
    let user_id = login.user.id.clone();
    // Missing or wrong, a second factor is refused and counted exactly
    // like a wrong password: no oracle for the password itself.
    let otp = req.otp.as_ref().map(Secret::expose);
    let proof = ctx.logins.check_otp(&attempt, &login, otp).await?;

    let work = ctx.clone();
    let stored = ctx
        .db
        .write(move |conn| {
            let now = work.clock.now();
            issue(
                conn,
                &work,
                now,
                &client,
                (&login, proof.as_ref()),
                &offered,
            )
        })
        .await;
    // Signed after the commit: no connection waits for the signature.
    let issued = match stored {
        Ok(stored) => TokenResponse::signed(&ctx, stored).await,
        Err(e) => Err(e),
    };
    match &issued {
        Ok(_) => audit::login_succeeded(&attempt, &user_id),
        // The only invalid_grant left: the credentials changed or the
        // name was locked meanwhile.
        Err(OAuthError::InvalidGrant(_)) => {
            audit::login_failed(&attempt, Some(&user_id), LoginFailure::CredentialsChanged)
        }
        Err(_) => {}
    }
    issued
}

/// Confirms the login still stands (no reset or disable since the check),
/// uses up its second factor if it has one, narrows the scope to the
/// user's roles, and stores what it issues, in one transaction; the tokens
/// are signed by the caller. The password (and code) just checked is the
/// sign-in: `auth_time` is now, and a family it starts is a sign-in
/// session of its own (`sid`), with no browser session: no logout ends it,
/// but the user's disable, new password or "sign out everywhere" does
/// (docs/interface.md "Back-channel logout").
fn issue(
    conn: &mut AnyConnection,
    ctx: &GrantCtx,
    now: i64,
    client: &Client,
    (login, proof): (&CheckedLogin, Option<&Proof>),
    offered: &ScopeSet,
) -> Result<Stored, OAuthError> {
    let Some(user) = login.confirm(conn, now)? else {
        return Err(OAuthError::bad_credentials());
    };
    // A code used meanwhile (the same code raced this request): refused,
    // and the transaction's work undone.
    if let Some(proof) = proof {
        if !proof.consume(conn, &user.id)? {
            return Err(OAuthError::bad_credentials());
        }
    }
    let user_scopes = users::scopes_of(conn, &user.id)?;
    let granted = scope::for_user(offered, &user_scopes).ok_or_else(|| {
        OAuthError::InvalidScope("the user's roles grant none of the requested scopes".into())
    })?;
    let with_refresh = client.allows_grant(GrantType::RefreshToken.as_str());
    let generation = Some(user.credential_generation);
    let mut grant = ctx.grant(&user.id, client, &granted, generation, with_refresh, now)?;
    let sign_in = SignIn {
        auth_time: now,
        sid: random_id(),
        nonce: None,
        amr: match proof {
            Some(_) => Amr::PASSWORD_AND_OTP,
            None => Amr::PASSWORD,
        },
    };
    set_sign_in(&mut grant.extensions, &sign_in);
    let unsigned = ctx.token_issuer(conn, now).store_tokens(&grant)?;
    let profile = read_profile(conn, &user, &granted)?;
    let subject = (&user, profile.as_ref());
    let id_token = IdToken::for_grant(&ctx.issuer, now, (subject, client), &granted, sign_in)?;
    // No browser session, but the app may keep one under this `sid`: a
    // disable, a new password or "sign out everywhere" tells it.
    if let Some(id_token) = &id_token {
        id_token.record(conn, &ctx.issuer, now)?;
    }
    Ok((unsigned, granted, id_token))
}
