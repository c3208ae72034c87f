//! The one place where errors become HTTP responses: RFC 9457 problem details, CORS on every
//! response, and request helpers shared by the HTTP functions.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use onboarding_domain::signup::{FieldError, ValidationErrors};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::telemetry::cause_chain;

/// Failures of an HTTP handler, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is invalid: {0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(ValidationErrors),
    #[error("{message}")]
    Conflict {
        errors: Vec<FieldError>,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("{limit} reached; retry after {retry_after_seconds} s")]
    RateLimited {
        retry_after_seconds: u64,
        /// Description of the limit, such as
        /// "the limit of 60 signups from one client address per hour".
        limit: String,
    },
    /// A dependency this deployment has not configured; the message names the setting.
    #[error("{0}")]
    NotConfigured(String),
    #[error("authentication is required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// Anything the client cannot fix. The cause is logged, never returned.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

impl ApiError {
    pub fn unexpected(error: impl Into<anyhow::Error>) -> Self {
        Self::Unexpected(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Gone(_) => StatusCode::GONE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem_type(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad-request",
            Self::Validation(_) => "validation-error",
            Self::Conflict { .. } => "conflict",
            Self::NotFound(_) => "not-found",
            Self::Gone(_) => "gone",
            Self::RateLimited { .. } => "rate-limited",
            Self::NotConfigured(_) => "not-configured",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Unexpected(_) => "internal-error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "Bad request",
            Self::Validation(_) => "Validation failed",
            Self::Conflict { .. } => "Conflict",
            Self::NotFound(_) => "Not found",
            Self::Gone(_) => "Gone",
            Self::RateLimited { .. } => "Too many requests",
            Self::NotConfigured(_) => "Not configured",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::Unexpected(_) => "Internal error",
        }
    }

    /// Builds the problem details body (RFC 9457).
    pub fn problem(&self, instance: &str) -> serde_json::Value {
        let detail = match self {
            Self::Validation(errors) => format!(
                "{} field(s) are invalid; see errors for each field and how to fix it",
                errors.0.len()
            ),
            Self::Unexpected(_) => {
                "the request could not be completed; retry later or contact support with the request id".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = json!({
            "type": format!("/problems/{}", self.problem_type()),
            "title": self.title(),
            "status": self.status().as_u16(),
            "detail": detail,
            "instance": instance,
        });
        match self {
            Self::Validation(errors) => body["errors"] = json!(errors.0),
            Self::Conflict { errors, .. } => body["errors"] = json!(errors),
            Self::RateLimited {
                retry_after_seconds,
                ..
            } => body["retry_after_seconds"] = json!(retry_after_seconds),
            _ => {}
        }
        body
    }
}

impl From<crate::error::StoreError> for ApiError {
    fn from(error: crate::error::StoreError) -> Self {
        Self::unexpected(error)
    }
}

/// CORS headers added to every response of every HTTP function.
#[derive(Debug, Clone)]
pub struct Cors {
    pub allowed_origin: String,
}

impl Cors {
    pub fn apply(&self, response: &mut Response<Body>) {
        let headers = response.headers_mut();
        if let Ok(origin) = HeaderValue::from_str(&self.allowed_origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, authorization"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE, HEAD, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
    }
}

/// Runs an HTTP function: builds the services once, then handles every request with `route`,
/// mapping errors to problem responses and adding CORS headers to every response.
pub async fn run_api<R>(route: R) -> Result<(), lambda_http::Error>
where
    R: for<'a> Fn(
            &'a crate::Services,
            &'a Request,
        ) -> futures::future::BoxFuture<'a, Result<Response<Body>, ApiError>>
        + Sync,
{
    crate::telemetry::init();
    let services = crate::Services::from_env().await?;
    let cors = Cors {
        allowed_origin: services.config.cors_allowed_origin.clone(),
    };
    let route = &route;
    let services = &services;
    let cors = &cors;
    lambda_http::run(lambda_http::service_fn(
        move |request: Request| async move {
            let path = request.uri().path().to_owned();
            let request_id = request_id(&request);
            let result = route(services, &request).await;
            Ok::<_, lambda_http::Error>(respond(result, &path, &request_id, cors))
        },
    ))
    .await
}

/// Turns a handler result into the response, logging an unexpected error once with its causes.
pub fn respond(
    result: Result<Response<Body>, ApiError>,
    request_path: &str,
    request_id: &str,
    cors: &Cors,
) -> Response<Body> {
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            match &error {
                ApiError::Unexpected(cause) => {
                    tracing::error!(
                        request_id,
                        path = request_path,
                        error = %cause_chain(cause.as_ref()),
                        "request failed"
                    );
                }
                other => {
                    tracing::info!(
                        request_id,
                        path = request_path,
                        status = other.status().as_u16(),
                        problem = other.problem_type(),
                        "request rejected"
                    );
                }
            }
            problem_response(&error, request_path, request_id)
        }
    };
    cors.apply(&mut response);
    response
}

fn problem_response(error: &ApiError, instance: &str, request_id: &str) -> Response<Body> {
    let mut body = error.problem(instance);
    if !request_id.is_empty() {
        // Support finds the logged cause by this id.
        body["request_id"] = json!(request_id);
    }
    let body = body.to_string();
    let mut builder = Response::builder()
        .status(error.status())
        .header(header::CONTENT_TYPE, "application/problem+json");
    if let ApiError::RateLimited {
        retry_after_seconds,
        ..
    } = error
    {
        builder = builder.header(header::RETRY_AFTER, retry_after_seconds.to_string());
    }
    builder
        .body(Body::Text(body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

pub fn json_response(
    status: StatusCode,
    body: &impl Serialize,
) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::unexpected)?;
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .map_err(ApiError::unexpected)
}

pub fn html_response(status: StatusCode, html: String) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-robots-tag", "noindex")
        .body(Body::Text(html))
        .map_err(ApiError::unexpected)
}

/// Returns the raw body bytes. API Gateway has already decoded a base64 body into `Body::Binary`.
pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Parses a JSON body, naming what is wrong with it.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(request);
    if bytes.is_empty() {
        return Err(ApiError::BadRequest(
            "the body is empty; send a JSON object with content-type application/json".into(),
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::BadRequest(format!(
            "the body is not valid JSON for this request: {error}"
        ))
    })
}

pub fn path_parameter(request: &Request, name: &str) -> Result<String, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::BadRequest(format!("path parameter {name} is missing")))
}

pub fn query_parameter(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

/// Client address as API Gateway saw it.
pub fn source_ip(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.http.source_ip.clone().unwrap_or_default()
        }
        _ => String::new(),
    }
}

pub fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.request_id.clone().unwrap_or_default()
        }
        _ => request
            .lambda_context_ref()
            .map(|context| context.request_id.clone())
            .unwrap_or_default(),
    }
}

/// Claims of the JWT that API Gateway's authorizer validated, as strings.
pub fn jwt_claims(request: &Request) -> std::collections::HashMap<String, String> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .map(|jwt| jwt.claims.clone())
            .unwrap_or_default(),
        _ => Default::default(),
    }
}

/// Parses the roles of a claim value. API Gateway renders a JSON array claim as `[a b]`, and a
/// JSON array, a comma list or a single role are accepted too.
pub fn roles_of(claim: &str) -> Vec<String> {
    let trimmed = claim.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(trimmed) {
        return list;
    }
    trimmed
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split([' ', ','])
        .filter(|role| !role.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Returns the time API Gateway received the request, so one request uses one "now".
pub fn request_time(request: &Request) -> time::OffsetDateTime {
    let epoch_ms = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.time_epoch,
        _ => 0,
    };
    if epoch_ms > 0 {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(epoch_ms) * 1_000_000)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
    } else {
        time::OffsetDateTime::now_utc()
    }
}

/// The caller authenticated by the JWT authorizer.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: String,
    pub roles: Vec<String>,
    /// The tenant a tenant-scoped token belongs to (claim `tenant_id`).
    pub tenant_id: Option<String>,
}

pub const PLATFORM_ADMIN: &str = "platform_admin";
pub const TENANT_ADMIN: &str = "tenant_admin";

impl Caller {
    /// Reads the caller from the authorizer context; no claims at all means no token reached us.
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        let claims = jwt_claims(request);
        let subject = claims.get("sub").cloned().ok_or(ApiError::Unauthorized)?;
        let roles = claims.get("roles").map(|c| roles_of(c)).unwrap_or_default();
        let tenant_id = claims.get("tenant_id").cloned().filter(|id| !id.is_empty());
        Ok(Self {
            subject,
            roles,
            tenant_id,
        })
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Allows platform admins, and tenant admins whose token names `tenant_id`.
    pub fn require_tenant(&self, tenant_id: &str) -> Result<(), ApiError> {
        if self.has_role(PLATFORM_ADMIN) {
            return Ok(());
        }
        if self.has_role(TENANT_ADMIN) && self.tenant_id.as_deref() == Some(tenant_id) {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "this token may not act on tenant {tenant_id}; it needs the platform_admin role, or tenant_admin with a matching tenant_id claim"
        )))
    }

    pub fn require_role(&self, role: &str) -> Result<(), ApiError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this route needs the {role} role; the token has {:?}",
                self.roles
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_api_gateway_array_rendering() {
        assert_eq!(
            roles_of("[platform_admin support]"),
            vec!["platform_admin", "support"]
        );
        assert_eq!(roles_of("[\"platform_admin\"]"), vec!["platform_admin"]);
        assert_eq!(roles_of("tenant_admin"), vec!["tenant_admin"]);
    }

    #[test]
    fn rate_limited_problem_carries_retry_after() {
        let error = ApiError::RateLimited {
            limit: "the test limit".into(),
            retry_after_seconds: 42,
        };
        let response = problem_response(&error, "/v1/signups", "req-1");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }

    #[test]
    fn unexpected_error_body_hides_the_cause() {
        let error = ApiError::unexpected(anyhow::anyhow!("secret table name"));
        let body = error.problem("/x").to_string();
        assert!(!body.contains("secret table name"), "{body}");
    }
}
