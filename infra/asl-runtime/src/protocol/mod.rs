//! The AWS JSON 1.0 protocol of Step Functions, for the actions the service supports.

mod shapes;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::service::{ExecutionStatus, ServiceError, StepFunctionsService};
use shapes::{epoch_seconds, execution_json, history_event_json};

const TARGET_PREFIX: &str = "AWSStepFunctions.";
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

/// Handles one request of the AWS JSON 1.0 protocol and returns the HTTP status and JSON body.
///
/// `target` is the `X-Amz-Target` header, for example `AWSStepFunctions.StartExecution`. Supported
/// actions are StartExecution, DescribeExecution, StopExecution, ListExecutions and
/// GetExecutionHistory. Errors are 400 responses with `{"__type": code, "message": text}`, and
/// the response content type is `application/x-amz-json-1.0`.
pub async fn handle_json_request(
    service: &StepFunctionsService,
    target: &str,
    body: &[u8],
) -> (u16, Value) {
    let action = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
    let request = match parse_body(body) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let result = match action {
        "StartExecution" => start_execution(service, request),
        "DescribeExecution" => describe_execution(service, request),
        "StopExecution" => stop_execution(service, request),
        "ListExecutions" => list_executions(service, request),
        "GetExecutionHistory" => get_execution_history(service, request),
        _ => Err(ProtocolError::new(
            "UnknownOperationException",
            format!(
                "the operation \"{target}\" is not supported by the local Step Functions service"
            ),
        )),
    };
    match result {
        Ok(body) => (200, body),
        Err(error) => {
            tracing::debug!(target, code = error.code, message = %error.message, "rejected a Step Functions request");
            error.into_response()
        }
    }
}

struct ProtocolError {
    code: &'static str,
    message: String,
}

impl ProtocolError {
    fn new(code: &'static str, message: impl Into<String>) -> ProtocolError {
        ProtocolError {
            code,
            message: message.into(),
        }
    }

    fn into_response(self) -> (u16, Value) {
        (400, json!({"__type": self.code, "message": self.message}))
    }
}

impl From<ServiceError> for ProtocolError {
    fn from(error: ServiceError) -> ProtocolError {
        ProtocolError::new(error.error_code(), error.to_string())
    }
}

fn parse_body(body: &[u8]) -> Result<Value, ProtocolError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|error| {
        ProtocolError::new(
            "SerializationException",
            format!("the request body is not valid JSON: {error}"),
        )
    })
}

fn parse_request<T: DeserializeOwned>(request: Value) -> Result<T, ProtocolError> {
    serde_json::from_value(request)
        .map_err(|error| ProtocolError::new("ValidationException", error.to_string()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartExecutionRequest {
    state_machine_arn: String,
    name: Option<String>,
    input: Option<String>,
}

fn start_execution(service: &StepFunctionsService, request: Value) -> Result<Value, ProtocolError> {
    let request: StartExecutionRequest = parse_request(request)?;
    let input = request.input.unwrap_or_else(|| "{}".to_owned());
    let started = service.start_execution(&request.state_machine_arn, request.name, input)?;
    Ok(json!({
        "executionArn": started.execution_arn,
        "startDate": epoch_seconds(started.start_date),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeExecutionRequest {
    execution_arn: String,
}

fn describe_execution(
    service: &StepFunctionsService,
    request: Value,
) -> Result<Value, ProtocolError> {
    let request: DescribeExecutionRequest = parse_request(request)?;
    let description = service.describe_execution(&request.execution_arn)?;
    Ok(execution_json(&description, true))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopExecutionRequest {
    execution_arn: String,
    error: Option<String>,
    cause: Option<String>,
}

fn stop_execution(service: &StepFunctionsService, request: Value) -> Result<Value, ProtocolError> {
    let request: StopExecutionRequest = parse_request(request)?;
    let stop_date = service.stop_execution(&request.execution_arn, request.error, request.cause)?;
    Ok(json!({"stopDate": epoch_seconds(stop_date)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListExecutionsRequest {
    state_machine_arn: Option<String>,
    status_filter: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

fn list_executions(service: &StepFunctionsService, request: Value) -> Result<Value, ProtocolError> {
    let request: ListExecutionsRequest = parse_request(request)?;
    let state_machine_arn = request
        .state_machine_arn
        .ok_or_else(|| ProtocolError::new("ValidationException", "stateMachineArn is required"))?;
    let status = request
        .status_filter
        .map(|text| text.parse::<ExecutionStatus>())
        .transpose()
        .map_err(|error| ProtocolError::new("ValidationException", error.to_string()))?;

    let executions = service.list_executions(&state_machine_arn, status)?;
    let items: Vec<Value> = executions
        .iter()
        .map(|description| execution_json(description, false))
        .collect();
    let (page, next_token) = paginate(items, request.max_results, request.next_token.as_deref())?;

    let mut body = json!({"executions": page});
    if let Some(token) = next_token {
        body["nextToken"] = json!(token);
    }
    Ok(body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetExecutionHistoryRequest {
    execution_arn: String,
    max_results: Option<usize>,
    next_token: Option<String>,
    reverse_order: Option<bool>,
    include_execution_data: Option<bool>,
}

fn get_execution_history(
    service: &StepFunctionsService,
    request: Value,
) -> Result<Value, ProtocolError> {
    let request: GetExecutionHistoryRequest = parse_request(request)?;
    let include_data = request.include_execution_data.unwrap_or(true);
    let mut events = service.get_execution_history(&request.execution_arn)?;
    if request.reverse_order.unwrap_or(false) {
        events.reverse();
    }
    let items: Vec<Value> = events
        .iter()
        .map(|event| history_event_json(event, include_data))
        .collect();
    let (page, next_token) = paginate(items, request.max_results, request.next_token.as_deref())?;

    let mut body = json!({"events": page});
    if let Some(token) = next_token {
        body["nextToken"] = json!(token);
    }
    Ok(body)
}

/// Cuts one page out of `items`. The token is the offset of the next page.
///
/// `maxResults` of 0 or absent means 100, and the maximum is 1000, as in Step Functions.
fn paginate(
    items: Vec<Value>,
    max_results: Option<usize>,
    next_token: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), ProtocolError> {
    let page_size = match max_results {
        None | Some(0) => DEFAULT_PAGE_SIZE,
        Some(size) => size.min(MAX_PAGE_SIZE),
    };
    let offset = match next_token {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|offset| *offset <= items.len())
            .ok_or_else(|| {
                ProtocolError::new("InvalidToken", format!("invalid nextToken \"{token}\""))
            })?,
    };
    let end = offset.saturating_add(page_size).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    let page = items.into_iter().skip(offset).take(end - offset).collect();
    Ok((page, next))
}
