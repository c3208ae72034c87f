//! Verification API: the page behind the emailed link, and the POST that verifies.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use onboarding_app::http::{self, ApiError};
use onboarding_app::usecases::verify;
use onboarding_app::Services;
use serde::Deserialize;

#[derive(Deserialize)]
struct TokenBody {
    token: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    http::run_api(|services, request| Box::pin(route(services, request))).await
}

fn is_form(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ApiError> {
    match *request.method() {
        // GET and HEAD only render the page: mail scanners prefetch links.
        Method::GET | Method::HEAD => {
            let token = http::query_parameter(request, "token").unwrap_or_default();
            let page = verify::confirmation_page(&services.config.public_api_url, &token);
            let mut response = http::html_response(StatusCode::OK, page)?;
            if request.method() == Method::HEAD {
                *response.body_mut() = Body::Empty;
            }
            Ok(response)
        }
        Method::POST if is_form(request) => {
            let token = verify::token_from_form(http::body_bytes(request)).unwrap_or_default();
            match verify::confirm(services, &token, http::request_time(request)).await {
                Ok(outcome) => http::html_response(StatusCode::OK, verify::outcome_page(&outcome)),
                Err(ApiError::Unexpected(cause)) => Err(ApiError::Unexpected(cause)),
                Err(error) => http::html_response(error.status(), verify::error_page(&error)),
            }
        }
        Method::POST => {
            let body: TokenBody = http::json_body(request)?;
            let token = body.token.ok_or_else(|| {
                ApiError::BadRequest("token is missing; send {\"token\": \"...\"}".into())
            })?;
            let outcome = verify::confirm(services, &token, http::request_time(request)).await?;
            http::json_response(StatusCode::OK, &outcome)
        }
        ref method => Err(ApiError::NotFound(format!(
            "no route for {method} /v1/verify"
        ))),
    }
}
