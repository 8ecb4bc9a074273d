//! `POST /oauth/revoke` (RFC 7009). A refresh token revokes its whole
//! family; an access token's `jti` is remembered until it expires. Unknown
//! or foreign tokens still get 200 (§2.2), so that nothing can be probed;
//! the audit trail records what each request did.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{no_store, OAuthError};
use super::token_request::{authenticated, TokenRequest};
use crate::audit::{self, Revoked};
use crate::db::{refresh_tokens, revoked_access_tokens, AnyConnection, Db};
use crate::state::AppState;

/// The handler: finds what the token names on a connection thread, then
/// [`carry_out`]s the revocation.
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let target = authenticated(&req, payload, &state, find_target).await?;
    carry_out(&state.db, target, state.clock.now()).await?;
    // This instance's lists show the revocation at once; the others' after
    // the second they keep a list (docs/design.md "Status lists").
    state.status.forget();
    let mut res = HttpResponse::Ok().finish();
    no_store(&mut res);
    Ok(res)
}

/// Revokes what `target` names in a write of its own (on SQLite, through
/// the writer), and records it in the audit trail.
async fn carry_out(db: &Db, target: Revocation, now: i64) -> Result<(), OAuthError> {
    match &target.what {
        Target::Family { family_id, user_id } => {
            let family = family_id.clone();
            let count = db
                .write(move |conn| {
                    refresh_tokens::revoke_family(conn, &family, now).map_err(OAuthError::from)
                })
                .await?;
            target.record(Revoked::RefreshFamily {
                user_id,
                family_id,
                count,
            });
        }
        Target::Access {
            subject,
            jti,
            exp,
            status,
        } => {
            let (id, exp, status) = (jti.clone(), *exp, *status);
            db.write(move |conn| {
                revoked_access_tokens::insert(conn, &id, exp, status).map_err(OAuthError::from)
            })
            .await?;
            target.record(Revoked::AccessToken { subject, jti });
        }
        Target::Nothing => target.record(Revoked::Nothing),
    }
    Ok(())
}

/// What a revocation request names, and who asked.
struct Revocation {
    what: Target,
    client_id: String,
    remote: Option<std::net::IpAddr>,
}

enum Target {
    /// A refresh token of the asking client: its family.
    Family { family_id: String, user_id: String },
    /// A live access token of the asking client.
    Access {
        subject: String,
        jti: String,
        exp: i64,
        /// Its `(list_id, idx)` in a status list of ours, if it has one.
        status: Option<(i64, i64)>,
    },
    /// Unknown, dead, or another client's.
    Nothing,
}

impl Revocation {
    fn record(&self, what: Revoked<'_>) {
        audit::revocation(&self.client_id, self.remote, what);
    }
}

fn find_target(conn: &mut AnyConnection, r: TokenRequest) -> Result<Revocation, OAuthError> {
    let client_id = r.client.client_id.clone();
    let what = match refresh_tokens::find(conn, &r.token.hash())? {
        Some(row) if row.client_id == client_id => Target::Family {
            family_id: row.family_id,
            user_id: row.user_id,
        },
        Some(_) => Target::Nothing,
        None => {
            let live = r
                .ctx
                .token_issuer(conn, r.now)
                .live_access(r.token.expose())?;
            match live.map(|l| l.claims).filter(|c| c.client_id == client_id) {
                Some(claims) => Target::Access {
                    status: claims
                        .status
                        .as_ref()
                        .and_then(|s| s.place(&r.ctx.issuer.issuer)),
                    subject: claims.sub,
                    jti: claims.jti,
                    exp: claims.exp,
                },
                None => Target::Nothing,
            }
        }
    };
    Ok(Revocation {
        what,
        client_id,
        remote: r.remote,
    })
}
