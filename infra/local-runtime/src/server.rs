//! The HTTP server on `LOCAL_API_PORT`: the `/_local` endpoints and, for every other path, the HTTP API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::{TokenIssuer, TokenRequest};
use crate::event_time::EventTime;
use crate::http_api::{HttpApi, IncomingRequest};
use crate::lambda_pool::LambdaService;
use crate::mailbox::Mailbox;
use crate::moto::MotoClient;
use crate::schedules::{parse_run_request, Schedule};
use crate::stepfunctions::{execution_details, RegisteredMachine};

/// API Gateway's maximum request payload.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Everything the server needs once start-up has finished.
pub struct Running {
    pub http_api: HttpApi,
    pub issuer: TokenIssuer,
    pub lambda: Arc<LambdaService>,
    pub stepfunctions: Option<Arc<asl_runtime::StepFunctionsService>>,
    pub machines: Vec<RegisteredMachine>,
    pub mailbox: Mailbox,
    pub moto: MotoClient,
    pub schedules: HashMap<String, Vec<Schedule>>,
    pub resources: Value,
    pub region: String,
    pub account_id: String,
}

/// Server state; requests other than `/_local/health` get 503 until `ready` is set.
#[derive(Default)]
pub struct Shared {
    pub ready: OnceLock<Arc<Running>>,
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_local/health", get(health))
        .route("/_local/tokens", post(issue_token))
        .route("/_local/mailbox", get(mailbox))
        .route("/_local/resources", get(resources))
        .route("/_local/executions/{name}", get(execution))
        .route("/_local/schedules/{function}/run", post(run_schedule))
        .fallback(http_api)
        .with_state(shared)
}

fn not_ready() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"message": "Service Unavailable", "status": "starting"})),
    )
        .into_response()
}

macro_rules! running {
    ($shared:expr) => {
        match $shared.ready.get() {
            Some(running) => Arc::clone(running),
            None => return not_ready(),
        }
    };
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let running = running!(shared);
    let functions: Vec<&str> = running
        .lambda
        .pools()
        .iter()
        .map(|p| p.spec.logical_id.as_str())
        .collect();
    Json(json!({
        "status": "ready",
        "functions": functions,
        "routes": running.http_api.routes().len(),
        "state_machines": running.machines.iter().map(|m| m.arn.clone()).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn issue_token(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let running = running!(shared);
    let request: TokenRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": format!("invalid token request: {error}")})),
            )
                .into_response()
        }
    };
    match running.issuer.issue(&request) {
        Ok(token) => Json(token).into_response(),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": error.to_string()})),
        )
            .into_response(),
    }
}

async fn mailbox(State(shared): State<Arc<Shared>>) -> Response {
    let running = running!(shared);
    match running.mailbox.list(&running.moto).await {
        Ok(emails) => Json(emails).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "failed to read sent emails from moto");
            (
                StatusCode::BAD_GATEWAY,
                Json(json!({"message": format!("failed to read sent emails from moto: {error}")})),
            )
                .into_response()
        }
    }
}

async fn resources(State(shared): State<Arc<Shared>>) -> Response {
    let running = running!(shared);
    Json(running.resources.clone()).into_response()
}

async fn execution(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let running = running!(shared);
    let Some(service) = &running.stepfunctions else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "the template has no state machine"})),
        )
            .into_response();
    };
    match execution_details(
        service,
        &running.machines,
        &running.region,
        &running.account_id,
        &name,
    )
    .await
    {
        Some(details) => Json(details).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": format!("execution {name} not found")})),
        )
            .into_response(),
    }
}

async fn run_schedule(
    State(shared): State<Arc<Shared>>,
    Path(function): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let running = running!(shared);
    let Some(schedule) = running.schedules.get(&function).and_then(|s| s.first()) else {
        let known: Vec<&String> = running.schedules.keys().collect();
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "message": format!("function {function} has no schedule; functions with schedules: {known:?}")
            })),
        )
            .into_response();
    };
    let time = match parse_run_request(&body) {
        Ok(time) => time.unwrap_or_else(EventTime::now),
        Err(error) => {
            tracing::info!(function = %function, error = %error, "schedule run rejected");
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": error.to_string()})),
            )
                .into_response();
        }
    };
    match schedule.fire(time).await {
        Ok(output) => Json(json!({"status": "succeeded", "output": output})).into_response(),
        Err(error) => (
            StatusCode::OK,
            Json(json!({
                "status": "failed",
                "errorType": error.error_type,
                "errorMessage": error.error_message,
            })),
        )
            .into_response(),
    }
}

async fn http_api(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let running = running!(shared);
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(Body::new(body), MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({"message": "Request Entity Too Large"})),
            )
                .into_response()
        }
    };
    let incoming = IncomingRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        peer,
    };
    running.http_api.handle(incoming, &running.issuer).await
}
