//! MSP API for a provider's own admins (and platform admins): the license pool, customers at
//! path URLs under the provider, and license allocations. A customer's token, or another
//! provider's, gets 403.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use onboarding_app::http::{self, ApiError, Caller};
use onboarding_app::usecases::msp;
use onboarding_app::Services;

#[tokio::main]
async fn main() -> Result<(), Error> {
    http::run_api(|services, request| Box::pin(route(services, request))).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = Caller::from_request(request)?;
    let provider_id = msp::parse_tenant_id(&http::path_parameter(request, "provider_id")?)?;
    caller.require_tenant(&provider_id)?;
    let now = http::request_time(request);
    let path = request.uri().path().to_owned();
    let customer_id = http::path_parameter(request, "customer_id").ok();

    match (request.method(), customer_id, path.ends_with("/allocation")) {
        (&Method::GET, None, _) if path.ends_with("/pool") => http::json_response(
            StatusCode::OK,
            &msp::pool_view(services, &provider_id).await?,
        ),
        (&Method::GET, None, _) => {
            let cursor = http::query_parameter(request, "cursor");
            let limit = http::query_parameter(request, "limit");
            let page =
                msp::list_customers(services, &provider_id, cursor.as_deref(), limit.as_deref())
                    .await?;
            http::json_response(StatusCode::OK, &page)
        }
        (&Method::POST, None, _) => {
            let body: msp::NewCustomer = http::json_body(request)?;
            let created =
                msp::create_customer(services, &caller.subject, &provider_id, &body, now).await?;
            http::json_response(StatusCode::ACCEPTED, &created)
        }
        (&Method::GET, Some(customer_id), false) => {
            let customer_id = msp::parse_tenant_id(&customer_id)?;
            http::json_response(
                StatusCode::OK,
                &msp::get_customer(services, &provider_id, &customer_id).await?,
            )
        }
        (&Method::PUT, Some(customer_id), true) => {
            let customer_id = msp::parse_tenant_id(&customer_id)?;
            let body: msp::AllocationBody = http::json_body(request)?;
            let requested = body.licenses.ok_or_else(|| {
                ApiError::BadRequest(
                    "licenses is missing; send {\"licenses\": {\"professional\": 5}}".into(),
                )
            })?;
            let licenses = msp::parse_licenses(&requested)?;
            let result = msp::set_allocation(
                services,
                &caller.subject,
                &provider_id,
                &customer_id,
                &licenses,
                now,
            )
            .await?;
            http::json_response(StatusCode::OK, &result)
        }
        (&Method::DELETE, Some(customer_id), true) => {
            let customer_id = msp::parse_tenant_id(&customer_id)?;
            let result = msp::set_allocation(
                services,
                &caller.subject,
                &provider_id,
                &customer_id,
                &Default::default(),
                now,
            )
            .await?;
            http::json_response(StatusCode::OK, &result)
        }
        (method, _, _) => Err(ApiError::NotFound(format!("no route for {method} {path}"))),
    }
}
