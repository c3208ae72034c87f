//! Signup API: create a signup, read its status, resend the verification email, check a subdomain.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use onboarding_app::http::{self, ApiError};
use onboarding_app::usecases::signup;
use onboarding_app::Services;
use onboarding_domain::signup::SignupRequest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    http::run_api(|services, request| Box::pin(route(services, request))).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ApiError> {
    let now = http::request_time(request);
    let path = request.uri().path();
    match (request.method(), path) {
        (&Method::POST, "/v1/signups") => {
            let body: SignupRequest = http::json_body(request)?;
            let accepted =
                signup::create_signup(services, &body, &http::source_ip(request), now).await?;
            http::json_response(StatusCode::ACCEPTED, &accepted)
        }
        (&Method::GET, _) if path.starts_with("/v1/subdomains/") => {
            let name = http::path_parameter(request, "name")?;
            let availability = signup::subdomain_availability(&services.store, &name).await?;
            http::json_response(StatusCode::OK, &availability)
        }
        (&Method::POST, _) if path.ends_with("/resend") => {
            let signup_id = http::path_parameter(request, "signup_id")?;
            signup::resend_verification(services, &signup_id, now).await?;
            http::json_response(
                StatusCode::ACCEPTED,
                &serde_json::json!({ "signup_id": signup_id, "status": "verification email queued" }),
            )
        }
        (&Method::GET, _) if path.starts_with("/v1/signups/") => {
            let signup_id = http::path_parameter(request, "signup_id")?;
            let status = signup::signup_status(&services.store, &signup_id).await?;
            http::json_response(StatusCode::OK, &status)
        }
        (method, path) => Err(ApiError::NotFound(format!("no route for {method} {path}"))),
    }
}
