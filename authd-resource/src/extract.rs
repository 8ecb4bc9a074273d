//! actix-web integration: extractors that authenticate the bearer token
//! (401) and check scopes (403), with RFC 6750 §3 challenges.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::claims::Claims;
use crate::verifier::Verifier;

/// Why a request was refused, as RFC 6750 §3.1 names it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResourceError {
    /// No bearer token at all: 401 without an `error` attribute.
    #[error("a bearer token is required")]
    MissingToken {
        /// The challenge realm.
        realm: String,
    },
    /// A bad, expired or foreign token: 401 `invalid_token`.
    #[error("{description}")]
    InvalidToken {
        /// The challenge realm.
        realm: String,
        /// What is wrong.
        description: String,
    },
    /// A valid token without the needed scope: 403 `insufficient_scope`.
    #[error("the token lacks the scope {scope}")]
    InsufficientScope {
        /// The scope needed.
        scope: String,
    },
    /// The server has no `Verifier` configured (a programming error).
    #[error("no Verifier is registered with this App")]
    NotConfigured,
}

/// Quotes a value for an auth-param (RFC 9110 §5.6.4).
fn quoted(s: &str) -> String {
    let escaped: String = s
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

impl ResourceError {
    fn challenge(&self) -> Option<String> {
        match self {
            ResourceError::MissingToken { realm } => {
                Some(format!("Bearer realm={}", quoted(realm)))
            }
            ResourceError::InvalidToken { realm, description } => Some(format!(
                "Bearer realm={}, error=\"invalid_token\", error_description={}",
                quoted(realm),
                quoted(description)
            )),
            ResourceError::InsufficientScope { scope } => Some(format!(
                "Bearer error=\"insufficient_scope\", scope={}",
                quoted(scope)
            )),
            ResourceError::NotConfigured => None,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ResourceError::MissingToken { .. } => "unauthorized",
            ResourceError::InvalidToken { .. } => "invalid_token",
            ResourceError::InsufficientScope { .. } => "insufficient_scope",
            ResourceError::NotConfigured => "server_error",
        }
    }
}

impl ResponseError for ResourceError {
    fn status_code(&self) -> StatusCode {
        match self {
            ResourceError::MissingToken { .. } | ResourceError::InvalidToken { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ResourceError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            ResourceError::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code()).json(serde_json::json!({
            "error": self.code(),
            "error_description": self.to_string(),
        }));
        if let Some(value) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        res
    }
}

/// A verified access token. As an extractor it answers 401 unless the
/// request carries a valid `Authorization: Bearer` token (the header only:
/// never the query string, RFC 9700 §2.5).
#[derive(Debug, Clone)]
pub struct AccessToken {
    claims: Claims,
    raw: String,
}

impl AccessToken {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The token as received (to forward to another service).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// 403 unless the token has `scope`.
    pub fn require(&self, scope: &str) -> Result<(), ResourceError> {
        if self.claims.has_scope(scope) {
            Ok(())
        } else {
            Err(ResourceError::InsufficientScope {
                scope: scope.to_string(),
            })
        }
    }

    /// Authenticates a request.
    pub async fn from_http(req: &HttpRequest) -> Result<AccessToken, ResourceError> {
        let verifier = req
            .app_data::<web::Data<Verifier>>()
            .map(|d| d.get_ref().clone())
            .or_else(|| req.app_data::<Verifier>().cloned())
            .ok_or(ResourceError::NotConfigured)?;
        let realm = verifier.realm().to_string();
        let Some(value) = req.headers().get(header::AUTHORIZATION) else {
            return Err(ResourceError::MissingToken { realm });
        };
        let value = value.to_str().unwrap_or("");
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            // Other credentials are not bearer authentication information.
            return Err(ResourceError::MissingToken { realm });
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(ResourceError::InvalidToken {
                realm,
                description: "the bearer token is empty".into(),
            });
        }
        match verifier.verify(token).await {
            Ok(claims) => Ok(AccessToken {
                claims,
                raw: token.to_string(),
            }),
            Err(e) => Err(ResourceError::InvalidToken {
                realm,
                description: e.to_string(),
            }),
        }
    }
}

impl FromRequest for AccessToken {
    type Error = ResourceError;
    type Future = Pin<Box<dyn Future<Output = Result<AccessToken, ResourceError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { AccessToken::from_http(&req).await })
    }
}

/// A scope that a [`Scoped`] extractor demands; declare one with
/// [`crate::require_scope!`].
pub trait ScopeRequirement {
    /// The scope token.
    const SCOPE: &'static str;
}

/// A verified token that has the scope `S::SCOPE`: 401 without a valid
/// token, 403 without the scope, both before the handler runs.
#[derive(Debug, Clone)]
pub struct Scoped<S: ScopeRequirement> {
    token: AccessToken,
    _scope: PhantomData<S>,
}

impl<S: ScopeRequirement> Scoped<S> {
    /// The verified token.
    pub fn token(&self) -> &AccessToken {
        &self.token
    }

    /// Its claims.
    pub fn claims(&self) -> &Claims {
        self.token.claims()
    }
}

impl<S: ScopeRequirement + 'static> FromRequest for Scoped<S> {
    type Error = ResourceError;
    type Future = Pin<Box<dyn Future<Output = Result<Scoped<S>, ResourceError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = AccessToken::from_http(&req).await?;
            token.require(S::SCOPE)?;
            Ok(Scoped {
                token,
                _scope: PhantomData,
            })
        })
    }
}
