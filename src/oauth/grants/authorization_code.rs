//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3,
//! RFC 7636 §4.5): built on oxide-auth's primitives like the other grants
//! (its AccessTokenFlow would answer an unknown code with
//! `invalid_request` and omit `no-store`). The client authenticates as for
//! every grant (a public client by its id alone); the code is claimed
//! through our `Authorizer` for that client only; then the redirect URI
//! must be identical and the PKCE verifier must match; the one Issuer
//! issues. Every refusal is `invalid_grant`, and a claimed code is spent
//! even when the request fails. A second use of a code revokes what the
//! first issued, committed although the request fails.

use super::{read_profile, suspended, within_owner, Stored, TokenResponse};
use crate::db::clients::Client;
use crate::db::owners::Bound;
use crate::db::{auth_codes, refresh_tokens, users, AnyConnection};
use crate::grant_type::GrantType;
use crate::oauth::client_auth::{self, ClientAuth};
use crate::oauth::codes::{self, CodeReuse, CodeStore};
use crate::oauth::context::GrantCtx;
use crate::oauth::error::OAuthError;
use crate::oauth::id_token::IdToken;
use crate::oauth::issuer::{set_sign_in, sign_in_of, Unsigned};
use crate::scope::{self, RefreshScopeError};
use crate::secret::Secret;

/// A code exchange request.
pub struct CodeRequest {
    /// How the client authenticated.
    pub auth: ClientAuth,
    /// The code.
    pub code: Secret,
    /// The redirect URI, as in the authorization request.
    pub redirect_uri: String,
    /// The PKCE verifier.
    pub verifier: Secret,
}

fn invalid(why: &str) -> OAuthError {
    OAuthError::InvalidGrant(why.into())
}

/// Runs the grant: authenticates the client on a connection thread,
/// claims the code and stores what it issues in one write (on SQLite,
/// through the writer), and signs after the commit.
pub async fn run(ctx: GrantCtx, req: CodeRequest) -> Result<TokenResponse, OAuthError> {
    let auth = req.auth.clone();
    let client = client_auth::authenticate(&ctx, &auth, Some(GrantType::AuthorizationCode)).await?;
    let bound = client_auth::owner_bound(&ctx, &client).await?;
    // A suspended client is refused before its code is spent.
    if bound == Bound::Suspended {
        return Err(suspended());
    }
    let work = ctx.clone();
    // The outer `?` is the transaction's; the answer inside it is the
    // response, after its commit.
    let (answer, reused) = ctx
        .db
        .write(move |conn| {
            let now = work.clock.now();
            let mut reused = None;
            let answer = exchange(conn, &work, now, (&client, &bound), &req, &mut reused)?;
            Ok::<_, OAuthError>((answer, reused))
        })
        .await?;
    // Committed by now: a reused code's tokens are revoked.
    if let Some(reuse) = reused {
        reuse.audit();
    }
    TokenResponse::signed(&ctx, answer?).await
}

/// Claims the code and issues. The outer `Err` rolls the transaction back
/// (a fault of ours: the code stays usable); the inner one is an answer
/// that commits (the claim, or a reuse's revocation, left in `reused` to
/// audit after the commit).
fn exchange(
    conn: &mut AnyConnection,
    ctx: &GrantCtx,
    now: i64,
    (client, bound): (&Client, &Bound),
    req: &CodeRequest,
    reused: &mut Option<CodeReuse>,
) -> Result<Result<Stored, OAuthError>, OAuthError> {
    let mut store = CodeStore::for_client(conn, &client.client_id, now);
    let claimed = store.extract_code(req.code.expose())?;
    *reused = store.take_reuse();
    let Some(grant) = claimed else {
        return Ok(Err(invalid("the code is invalid, expired or used")));
    };
    if codes::redirect_uri_of(&grant) != Some(req.redirect_uri.as_str()) {
        return Ok(Err(invalid(
            "redirect_uri differs from the authorization request's",
        )));
    }
    if !codes::verifier_matches(&grant, req.verifier.expose()) {
        return Ok(Err(invalid(
            "code_verifier does not match the code_challenge",
        )));
    }
    // The user still stands as at consent: enabled, same credentials.
    let user = users::by_id(conn, &grant.owner_id)?
        .filter(|u| !u.disabled && Some(u.credential_generation) == codes::generation_of(&grant));
    let Some(user) = user else {
        return Ok(Err(invalid("the code is invalid, expired or used")));
    };
    // What was consented to, as far as the client and the user's roles
    // still allow it (the refresh rule).
    let consented = scope::parse(grant.scope.iter()).unwrap_or_default();
    let registered = scope::parse([client.scopes.as_str()]).unwrap_or_default();
    // A user's client: no more than its owner may have now.
    let registered = match within_owner(bound, registered) {
        Ok(registered) => registered,
        Err(refused) => return Ok(Err(refused)),
    };
    let user_scopes = users::scopes_of(conn, &user.id)?;
    let granted = match scope::for_refresh(&consented, None, &registered, &user_scopes) {
        Ok(granted) => granted,
        Err(RefreshScopeError::NoneLeft | RefreshScopeError::ExceedsGrant) => {
            return Ok(Err(OAuthError::InvalidScope(
                "none of the consented scopes is still granted".into(),
            )))
        }
    };
    let with_refresh = client.allows_grant(GrantType::RefreshToken.as_str());
    let generation = Some(user.credential_generation);
    let mut token_grant = ctx.grant(&user.id, client, &granted, generation, with_refresh, now)?;
    // The sign-in the code was issued in: its refresh family keeps it, and
    // the ID token echoes the request's nonce (OpenID Connect Core 1.0
    // §3.1.3.6).
    let sign_in = sign_in_of(&grant)
        .ok_or_else(|| OAuthError::internal("a stored code without its sign-in"))?;
    set_sign_in(&mut token_grant.extensions, &sign_in);
    let unsigned = ctx.token_issuer(conn, now).store_tokens(&token_grant)?;
    link(conn, &req.code, &unsigned)?;
    let profile = read_profile(conn, &user, &granted)?;
    let subject = (&user, profile.as_ref());
    let id_token = IdToken::for_grant(&ctx.issuer, now, (subject, client), &granted, sign_in)?;
    if let Some(id_token) = &id_token {
        id_token.record(conn, &ctx.issuer, now)?;
    }
    Ok(Ok((unsigned, granted, id_token)))
}

/// Remembers what the code issued, so that a second use can revoke it.
fn link(conn: &mut AnyConnection, code: &Secret, issued: &Unsigned) -> Result<(), OAuthError> {
    let family = match issued.refresh() {
        Some(refresh) => refresh_tokens::find(conn, &refresh.hash())?.map(|row| row.family_id),
        None => None,
    };
    auth_codes::link_tokens(
        conn,
        &code.hash(),
        family.as_deref(),
        issued.jti(),
        issued.exp(),
    )?;
    Ok(())
}
