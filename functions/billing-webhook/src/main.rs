//! Stripe webhook: verifies the signature over the raw body, then applies the event once.
//! A bad, stale or altered signature gets 400. A known event type that cannot be read gets 500
//! and a `StripeEventUnreadable` metric, so Stripe retries and the alarm fires.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use onboarding_app::http::{self, ApiError};
use onboarding_app::telemetry::emit_metric;
use onboarding_app::usecases::billing::{handle_webhook, WebhookError};
use onboarding_app::Services;

#[tokio::main]
async fn main() -> Result<(), Error> {
    http::run_api(|services, request| Box::pin(route(services, request))).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ApiError> {
    let signature = request
        .headers()
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    let now = http::request_time(request);
    match handle_webhook(services, signature, http::body_bytes(request), now).await {
        Ok(outcome) => http::json_response(
            StatusCode::OK,
            &serde_json::json!({ "received": true, "outcome": outcome }),
        ),
        Err(WebhookError::Signature(error)) => {
            emit_metric("StripeWebhookRejected", 1.0);
            Err(ApiError::BadRequest(format!(
                "the Stripe-Signature header does not verify: {error}"
            )))
        }
        Err(error @ (WebhookError::Unreadable { .. } | WebhookError::NotAnEvent(_))) => {
            // The error is logged once, with its causes, where it becomes the 500 response.
            emit_metric("StripeEventUnreadable", 1.0);
            Err(ApiError::unexpected(error))
        }
        Err(error) => Err(ApiError::unexpected(error)),
    }
}
