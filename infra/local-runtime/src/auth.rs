//! Local JWT issuer and the HTTP API JWT authorizer check.
//!
//! The runtime signs tokens with a random HS256 secret generated at start and never logged.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("invalid token: {0}")]
    InvalidToken(#[from] jsonwebtoken::errors::Error),
    #[error("invalid token request: {0}")]
    InvalidRequest(String),
}

/// A JWT authorizer declared on an HttpApi (`Auth.Authorizers.<name>.JwtConfiguration`).
#[derive(Debug, Clone)]
pub struct JwtAuthorizer {
    pub name: String,
    pub audience: Vec<String>,
}

/// Body of `POST /_local/tokens`.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Lifetime in seconds; a negative value issues an already expired token.
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
}

pub struct TokenIssuer {
    issuer: String,
    audience: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

impl TokenIssuer {
    /// Creates an issuer with a fresh random 256-bit secret.
    pub fn generate(issuer: String, audience: String) -> Self {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self {
            issuer,
            audience,
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs a token for the request and returns `{"token", "expires_at"}`.
    pub fn issue(&self, request: &TokenRequest) -> Result<Value, AuthError> {
        if request.sub.trim().is_empty() {
            return Err(AuthError::InvalidRequest(
                "sub must not be empty".to_string(),
            ));
        }
        let now = now_seconds();
        let expires_at = now + request.ttl_seconds.unwrap_or(3600);
        let mut claims = json!({
            "iss": self.issuer,
            "aud": self.audience,
            "sub": request.sub,
            "iat": now,
            "exp": expires_at,
            "roles": request.roles,
        });
        if let Some(tenant_id) = &request.tenant_id {
            claims["tenant_id"] = Value::String(tenant_id.clone());
        }
        if let Some(scope) = &request.scope {
            claims["scope"] = Value::String(scope.clone());
        }
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(json!({ "token": token, "expires_at": expires_at }))
    }

    /// Checks the bearer token of `authorization` and returns the authorizer context of the v2 payload.
    pub fn authorize(
        &self,
        authorization: Option<&str>,
        authorizer: &JwtAuthorizer,
    ) -> Result<Value, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::MissingToken)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[self.issuer.as_str()]);
        let audience: Vec<&str> = if authorizer.audience.is_empty() {
            vec![self.audience.as_str()]
        } else {
            authorizer.audience.iter().map(String::as_str).collect()
        };
        validation.set_audience(&audience);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &validation)?;
        let claims: Map<String, Value> = data
            .claims
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(claim_to_string(v))))
            .collect();
        let scopes = data
            .claims
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| {
                Value::Array(
                    s.split_whitespace()
                        .map(|x| Value::String(x.to_string()))
                        .collect(),
                )
            })
            .unwrap_or(Value::Null);
        Ok(json!({ "jwt": { "claims": claims, "scopes": scopes } }))
    }
}

/// Renders a claim as API Gateway does: every value a string, an array as `[a b]`.
pub fn claim_to_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(claim_to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::generate("http://127.0.0.1:1/_local".into(), "onboarding".into())
    }

    fn authorizer() -> JwtAuthorizer {
        JwtAuthorizer {
            name: "Jwt".into(),
            audience: vec!["onboarding".into()],
        }
    }

    fn request(ttl_seconds: Option<i64>) -> TokenRequest {
        TokenRequest {
            sub: "admin-1".into(),
            roles: vec!["platform_admin".into(), "viewer".into()],
            tenant_id: None,
            ttl_seconds,
            scope: None,
        }
    }

    #[test]
    fn issued_token_passes_and_renders_array_claims() {
        let issuer = issuer();
        let token = issuer.issue(&request(None)).expect("issues");
        let header = format!("Bearer {}", token["token"].as_str().expect("token"));
        let context = issuer
            .authorize(Some(&header), &authorizer())
            .expect("valid");
        assert_eq!(context["jwt"]["claims"]["roles"], "[platform_admin viewer]");
        assert_eq!(context["jwt"]["claims"]["sub"], "admin-1");
    }

    #[test]
    fn expired_token_is_rejected() {
        let issuer = issuer();
        let token = issuer.issue(&request(Some(-10))).expect("issues");
        let header = format!("Bearer {}", token["token"].as_str().expect("token"));
        assert!(issuer.authorize(Some(&header), &authorizer()).is_err());
    }

    #[test]
    fn token_of_another_secret_is_rejected() {
        let token = issuer().issue(&request(None)).expect("issues");
        let header = format!("Bearer {}", token["token"].as_str().expect("token"));
        assert!(issuer().authorize(Some(&header), &authorizer()).is_err());
    }

    #[test]
    fn missing_header_is_rejected() {
        assert!(matches!(
            issuer().authorize(None, &authorizer()),
            Err(AuthError::MissingToken)
        ));
    }
}
