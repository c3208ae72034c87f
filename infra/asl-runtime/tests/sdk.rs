//! The AWS JSON 1.0 protocol against the real aws-sdk-sfn client, served by axum on 127.0.0.1.

mod common;

use std::time::Duration;

use asl_runtime::{handle_json_request, StepFunctionsService};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sfn::config::Credentials;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use common::{service_with, state_machine_arn, FakeInvoker, Reply};
use serde_json::json;

async fn handle(
    State(service): State<StepFunctionsService>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let (status, body) = handle_json_request(&service, target, &body).await;
    let status = StatusCode::from_u16(status).expect("a valid status code");
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        body.to_string(),
    )
}

/// Serves the service on an ephemeral port of 127.0.0.1 and returns its URL.
async fn serve(service: StepFunctionsService) -> String {
    let app = Router::new().route("/", post(handle)).with_state(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("a local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the server runs") });
    format!("http://{address}")
}

async fn client(endpoint: &str) -> aws_sdk_sfn::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(common::REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .load()
        .await;
    aws_sdk_sfn::Client::new(&config)
}

fn definition() -> serde_json::Value {
    json!({
        "StartAt": "Route",
        "States": {
            "Route": {"Type": "Choice", "Choices": [{"Variable": "$.hold", "IsPresent": true, "Next": "Hold"}], "Default": "Validate"},
            "Hold": {"Type": "Wait", "Seconds": 3600, "End": true},
            "Validate": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "provisioner", "Payload": {"step": "validate", "tenant_id.$": "$.tenant_id"}},
                "ResultSelector": {"validation.$": "$.Payload"},
                "End": true
            }
        }
    })
}

#[tokio::test]
async fn sdk_client_starts_describes_stops_and_reads_history() {
    let invoker = FakeInvoker::new();
    invoker.script(
        "Validate",
        [Reply::Return(
            json!({"Payload": {"valid": true}, "StatusCode": 200}),
        )],
    );
    let service = service_with(&definition(), invoker, None);
    let endpoint = serve(service.clone()).await;
    let client = client(&endpoint).await;

    // A held execution stays RUNNING until it is stopped.
    let started = client
        .start_execution()
        .state_machine_arn(state_machine_arn())
        .name("tnt_1-1")
        .input(r#"{"tenant_id":"tnt_1","hold":true}"#)
        .send()
        .await
        .expect("StartExecution succeeds");
    let held_arn = started.execution_arn().to_owned();
    assert_eq!(
        held_arn,
        "arn:aws:states:us-east-1:123456789012:execution:Provisioning:tnt_1-1"
    );

    let running = client
        .describe_execution()
        .execution_arn(&held_arn)
        .send()
        .await
        .expect("DescribeExecution succeeds");
    assert_eq!(running.status(), &ExecutionStatus::Running);
    assert_eq!(running.name(), Some("tnt_1-1"));
    assert_eq!(
        running.input(),
        Some(r#"{"tenant_id":"tnt_1","hold":true}"#)
    );
    assert!(running.stop_date().is_none());

    let duplicate = client
        .start_execution()
        .state_machine_arn(state_machine_arn())
        .name("tnt_1-1")
        .input(r#"{"tenant_id":"tnt_1"}"#)
        .send()
        .await
        .expect_err("a second input under the same name is rejected");
    assert!(duplicate.into_service_error().is_execution_already_exists());

    let stopped = client
        .stop_execution()
        .execution_arn(&held_arn)
        .error("Operator.Stop")
        .cause("stopped by the SDK test")
        .send()
        .await
        .expect("StopExecution succeeds");
    assert!(stopped.stop_date().secs() > 0);

    let aborted = client
        .describe_execution()
        .execution_arn(&held_arn)
        .send()
        .await
        .expect("DescribeExecution succeeds");
    assert_eq!(aborted.status(), &ExecutionStatus::Aborted);
    assert_eq!(aborted.error(), Some("Operator.Stop"));
    assert_eq!(aborted.cause(), Some("stopped by the SDK test"));
    assert!(aborted.stop_date().is_some());

    let held_history = client
        .get_execution_history()
        .execution_arn(&held_arn)
        .send()
        .await
        .expect("GetExecutionHistory succeeds");
    let types: Vec<HistoryEventType> = held_history
        .events()
        .iter()
        .map(|event| event.r#type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            HistoryEventType::ExecutionStarted,
            HistoryEventType::ChoiceStateEntered,
            HistoryEventType::ChoiceStateExited,
            HistoryEventType::WaitStateEntered,
            HistoryEventType::ExecutionAborted,
        ]
    );

    // A second execution runs the Task state and succeeds.
    let completed_arn = client
        .start_execution()
        .state_machine_arn(state_machine_arn())
        .name("tnt_2-1")
        .input(r#"{"tenant_id":"tnt_2"}"#)
        .send()
        .await
        .expect("StartExecution succeeds")
        .execution_arn()
        .to_owned();
    service
        .wait_for_completion(&completed_arn, Duration::from_secs(10))
        .await
        .expect("the execution ends");

    let succeeded = client
        .describe_execution()
        .execution_arn(&completed_arn)
        .send()
        .await
        .expect("DescribeExecution succeeds");
    assert_eq!(succeeded.status(), &ExecutionStatus::Succeeded);
    let output: serde_json::Value =
        serde_json::from_str(succeeded.output().expect("an output")).expect("JSON output");
    assert_eq!(output, json!({"validation": {"valid": true}}));

    let history = client
        .get_execution_history()
        .execution_arn(&completed_arn)
        .send()
        .await
        .expect("GetExecutionHistory succeeds");
    let scheduled = history
        .events()
        .iter()
        .find_map(|event| event.task_scheduled_event_details())
        .expect("a TaskScheduled event");
    assert_eq!(scheduled.resource_type(), "lambda");
    assert_eq!(scheduled.resource(), "invoke");
    assert_eq!(scheduled.region(), "us-east-1");
    let parameters: serde_json::Value =
        serde_json::from_str(scheduled.parameters()).expect("JSON parameters");
    assert_eq!(
        parameters,
        json!({"FunctionName": "provisioner", "Payload": {"step": "validate", "tenant_id": "tnt_2"}})
    );
    let last = history.events().last().expect("events");
    assert_eq!(last.r#type(), &HistoryEventType::ExecutionSucceeded);

    let listed = client
        .list_executions()
        .state_machine_arn(state_machine_arn())
        .status_filter(ExecutionStatus::Succeeded)
        .send()
        .await
        .expect("ListExecutions succeeds");
    let names: Vec<&str> = listed.executions().iter().map(|item| item.name()).collect();
    assert_eq!(names, vec!["tnt_2-1"]);

    let missing = client
        .describe_execution()
        .execution_arn("arn:aws:states:us-east-1:123456789012:execution:Provisioning:nobody")
        .send()
        .await
        .expect_err("an unknown execution is rejected");
    assert!(missing.into_service_error().is_execution_does_not_exist());
}
