//! Signup API: create a signup, read its status, resend the verification email, check a subdomain.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{run, service_fn, Body, Error, Request, Response};
use onboarding_app::http::{self, ApiError, Cors};
use onboarding_app::usecases::signup;
use onboarding_app::Services;
use onboarding_domain::signup::SignupRequest;
use time::OffsetDateTime;

#[tokio::main]
async fn main() -> Result<(), Error> {
    onboarding_app::telemetry::init();
    let services = Services::from_env().await?;
    let cors = Cors {
        allowed_origin: services.config.cors_allowed_origin.clone(),
    };
    run(service_fn(|request: Request| {
        let services = &services;
        let cors = &cors;
        async move {
            let path = request.uri().path().to_owned();
            let request_id = http::request_id(&request);
            let result = route(services, &request).await;
            Ok::<_, Error>(http::respond(result, &path, &request_id, cors))
        }
    }))
    .await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ApiError> {
    let now = OffsetDateTime::now_utc();
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
