//! Admin API for platform admins: create tenants on paid plans, read tenants and audit trails.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use onboarding_app::http::{self, ApiError, Caller, PLATFORM_ADMIN};
use onboarding_app::usecases::{admin, msp, trials};
use onboarding_app::Services;
use onboarding_domain::signup::SignupRequest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    http::run_api(|services, request| Box::pin(route(services, request))).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = Caller::from_request(request)?;
    caller.require_role(PLATFORM_ADMIN)?;
    let path = request.uri().path();
    match (request.method(), path) {
        (&Method::POST, "/v1/admin/tenants") => {
            let body: SignupRequest = http::json_body(request)?;
            let created = admin::create_tenant(
                services,
                &caller.subject,
                &body,
                http::request_time(request),
            )
            .await?;
            http::json_response(StatusCode::ACCEPTED, &created)
        }
        (&Method::POST, _) if path.starts_with("/v1/admin/msp/") => {
            let provider_id = msp::parse_tenant_id(&http::path_parameter(request, "provider_id")?)?;
            let body: msp::GrantBody = http::json_body(request)?;
            let pool = msp::grant_licenses(
                services,
                &caller.subject,
                &provider_id,
                &body,
                http::request_time(request),
            )
            .await?;
            http::json_response(StatusCode::OK, &pool)
        }
        (&Method::POST, _) if path.starts_with("/v1/admin/trial-extensions/") => {
            let extension_id = http::path_parameter(request, "extension_id")?;
            let approve = path.ends_with("/approve");
            let view = trials::decide_extension(
                services,
                &caller.subject,
                &extension_id,
                approve,
                http::request_time(request),
            )
            .await?;
            http::json_response(StatusCode::OK, &view)
        }
        (&Method::GET, _) if path.ends_with("/audit") => {
            let tenant_id = http::path_parameter(request, "tenant_id")?;
            http::json_response(
                StatusCode::OK,
                &admin::audit_trail(services, &tenant_id).await?,
            )
        }
        (&Method::GET, _) => {
            let tenant_id = http::path_parameter(request, "tenant_id")?;
            http::json_response(
                StatusCode::OK,
                &admin::get_tenant(services, &tenant_id).await?,
            )
        }
        (method, path) => Err(ApiError::NotFound(format!("no route for {method} {path}"))),
    }
}
