//! Response shapes of the AWS JSON 1.0 protocol.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::history::{EventDetails, HistoryEvent};
use crate::service::ExecutionDescription;

/// Formats a date as the protocol does: epoch seconds with a millisecond fraction.
pub(super) fn epoch_seconds(time: OffsetDateTime) -> Value {
    let millis = time.unix_timestamp_nanos() / 1_000_000;
    json!(millis as f64 / 1000.0)
}

/// Builds the DescribeExecution response, or with `include_data` false a ListExecutions item.
pub(super) fn execution_json(description: &ExecutionDescription, include_data: bool) -> Value {
    let mut body = Map::new();
    body.insert("executionArn".into(), json!(description.execution_arn));
    body.insert(
        "stateMachineArn".into(),
        json!(description.state_machine_arn),
    );
    body.insert("name".into(), json!(description.name));
    body.insert("status".into(), json!(description.status.as_str()));
    body.insert("startDate".into(), epoch_seconds(description.start_date));
    if let Some(stop_date) = description.stop_date {
        body.insert("stopDate".into(), epoch_seconds(stop_date));
    }
    if include_data {
        body.insert("input".into(), json!(description.input));
        body.insert("inputDetails".into(), json!({"included": true}));
        if let Some(output) = &description.output {
            body.insert("output".into(), json!(output));
            body.insert("outputDetails".into(), json!({"included": true}));
        }
        if let Some(error) = &description.error {
            body.insert("error".into(), json!(error));
        }
        if let Some(cause) = &description.cause {
            body.insert("cause".into(), json!(cause));
        }
    }
    Value::Object(body)
}

/// Builds one element of the GetExecutionHistory `events` list.
pub(super) fn history_event_json(event: &HistoryEvent, include_data: bool) -> Value {
    let (details_key, details) = details_json(&event.details, include_data);
    let mut body = Map::new();
    body.insert("timestamp".into(), epoch_seconds(event.timestamp));
    body.insert("type".into(), json!(event.event_type()));
    body.insert("id".into(), json!(event.id));
    body.insert("previousEventId".into(), json!(event.previous_event_id));
    body.insert(details_key.into(), Value::Object(details));
    Value::Object(body)
}

fn details_json(details: &EventDetails, include_data: bool) -> (&'static str, Map<String, Value>) {
    let mut body = Map::new();
    let data = |body: &mut Map<String, Value>, key: &str, value: &Value| {
        if include_data {
            body.insert(key.to_owned(), json!(value.to_string()));
            body.insert(format!("{key}Details"), json!({"truncated": false}));
        }
    };
    let key = match details {
        EventDetails::ExecutionStarted { input } => {
            data(&mut body, "input", input);
            "executionStartedEventDetails"
        }
        EventDetails::ExecutionSucceeded { output } => {
            data(&mut body, "output", output);
            "executionSucceededEventDetails"
        }
        EventDetails::ExecutionFailed { error, cause } => {
            insert_error(&mut body, error, cause);
            "executionFailedEventDetails"
        }
        EventDetails::ExecutionTimedOut { error, cause } => {
            insert_error(&mut body, error, cause);
            "executionTimedOutEventDetails"
        }
        EventDetails::ExecutionAborted { error, cause } => {
            insert_error(&mut body, error, cause);
            "executionAbortedEventDetails"
        }
        EventDetails::StateEntered { name, input, .. } => {
            body.insert("name".into(), json!(name));
            data(&mut body, "input", input);
            "stateEnteredEventDetails"
        }
        EventDetails::StateExited { name, output, .. } => {
            body.insert("name".into(), json!(name));
            data(&mut body, "output", output);
            "stateExitedEventDetails"
        }
        EventDetails::TaskScheduled {
            resource,
            region,
            parameters,
            timeout_seconds,
            ..
        } => {
            insert_resource(&mut body, resource);
            body.insert("region".into(), json!(region));
            body.insert("parameters".into(), json!(parameters.to_string()));
            if let Some(seconds) = timeout_seconds {
                body.insert("timeoutInSeconds".into(), json!(seconds));
            }
            "taskScheduledEventDetails"
        }
        EventDetails::TaskStarted { resource, .. } => {
            insert_resource(&mut body, resource);
            "taskStartedEventDetails"
        }
        EventDetails::TaskSucceeded {
            resource, output, ..
        } => {
            insert_resource(&mut body, resource);
            data(&mut body, "output", output);
            "taskSucceededEventDetails"
        }
        EventDetails::TaskFailed {
            resource,
            error,
            cause,
            ..
        } => {
            insert_resource(&mut body, resource);
            insert_error(&mut body, error, cause);
            "taskFailedEventDetails"
        }
        EventDetails::TaskTimedOut {
            resource,
            error,
            cause,
            ..
        } => {
            insert_resource(&mut body, resource);
            insert_error(&mut body, error, cause);
            "taskTimedOutEventDetails"
        }
    };
    (key, body)
}

fn insert_error(body: &mut Map<String, Value>, error: &str, cause: &str) {
    if !error.is_empty() {
        body.insert("error".into(), json!(error));
    }
    if !cause.is_empty() {
        body.insert("cause".into(), json!(cause));
    }
}

/// Splits an optimized integration ARN such as `arn:aws:states:::lambda:invoke` into
/// `resourceType` (`lambda`) and `resource` (`invoke`). Other resources keep the whole ARN.
fn insert_resource(body: &mut Map<String, Value>, resource: &str) {
    let (resource_type, name) = resource
        .strip_prefix("arn:aws:states:::")
        .and_then(|rest| rest.split_once(':'))
        .unwrap_or(("", resource));
    body.insert("resourceType".into(), json!(resource_type));
    body.insert("resource".into(), json!(name));
}
