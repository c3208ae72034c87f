//! Tenant API for a tenant's own admins (and platform admins): entitlements, usage reports,
//! checkout for upgrades, and trial extension requests. Every route is rate-limited per tenant
//! at the plan's requests per minute.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use onboarding_app::http::{self, ApiError, Caller};
use onboarding_app::usecases::{billing, entitlements, trials};
use onboarding_app::Services;
use onboarding_domain::usage::UsageReport;

#[tokio::main]
async fn main() -> Result<(), Error> {
    http::run_api(|services, request| Box::pin(route(services, request))).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = Caller::from_request(request)?;
    let tenant_id = http::path_parameter(request, "tenant_id")?;
    caller.require_tenant(&tenant_id)?;
    let now = http::request_time(request);
    let tenant = entitlements::load_tenant(&services.store, &tenant_id).await?;
    entitlements::limit_api_rate(services, &tenant, now).await?;

    let path = request.uri().path();
    match (
        request.method(),
        path.rsplit('/').next().unwrap_or_default(),
    ) {
        (&Method::GET, "entitlements") => {
            http::json_response(StatusCode::OK, &entitlements::entitlements_of(&tenant, now))
        }
        (&Method::POST, "usage") => {
            let report =
                UsageReport::parse(http::body_bytes(request)).map_err(ApiError::Validation)?;
            let updated = entitlements::report_usage(services, &tenant_id, &report, now).await?;
            http::json_response(StatusCode::OK, &updated)
        }
        (&Method::POST, "checkout") => {
            let body: billing::CheckoutBody = http::json_body(request)?;
            let started = billing::start_checkout(services, &tenant_id, &body, now).await?;
            http::json_response(StatusCode::CREATED, &started)
        }
        (&Method::POST, "trial-extensions") => {
            let body: trials::ExtensionRequest = http::json_body(request)?;
            let view = trials::request_extension(services, &caller.subject, &tenant_id, &body, now)
                .await?;
            http::json_response(StatusCode::ACCEPTED, &view)
        }
        (method, _) => Err(ApiError::NotFound(format!("no route for {method} {path}"))),
    }
}
