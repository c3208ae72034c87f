//! The in-memory service: starting, naming, stopping, listing and history.

mod common;

use std::time::Duration;

use asl_runtime::{
    handle_json_request, ExecutionStatus, ServiceError, StepFunctionsService, WaitError,
};
use common::{event_types, run, service_with, state_machine_arn, FakeInvoker, Reply};
use serde_json::{json, Value};

fn slow_task() -> (Value, std::sync::Arc<FakeInvoker>) {
    let invoker = FakeInvoker::new();
    invoker.script(
        "Work",
        [Reply::SleepThenReturn(
            Duration::from_secs(3600),
            json!({"done": true}),
        )],
    );
    let definition = json!({
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}
    });
    (definition, invoker)
}

fn start(
    service: &StepFunctionsService,
    name: &str,
    input: &Value,
) -> Result<String, ServiceError> {
    service
        .start_execution(
            &state_machine_arn(),
            Some(name.to_owned()),
            input.to_string(),
        )
        .map(|started| started.execution_arn)
}

#[tokio::test(start_paused = true)]
async fn same_name_and_input_returns_running_execution() {
    let (definition, invoker) = slow_task();
    let service = service_with(&definition, invoker.clone(), None);
    let input = json!({"tenant_id": "tnt_1", "attempt": 1});

    let first = start(&service, "tnt_1-1", &input).expect("first start");
    let second = start(
        &service,
        "tnt_1-1",
        &json!({"attempt": 1, "tenant_id": "tnt_1"}),
    )
    .expect("second start");

    assert_eq!(first, second);
    assert_eq!(
        first,
        "arn:aws:states:us-east-1:123456789012:execution:Provisioning:tnt_1-1"
    );
    service
        .wait_for_completion(&first, Duration::from_secs(7200))
        .await
        .expect("ends");
    assert_eq!(invoker.calls_to("Work").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn same_name_with_other_input_is_rejected() {
    let (definition, invoker) = slow_task();
    let service = service_with(&definition, invoker, None);
    start(&service, "tnt_1-1", &json!({"attempt": 1})).expect("first start");

    let error = start(&service, "tnt_1-1", &json!({"attempt": 2})).unwrap_err();

    assert_eq!(error.error_code(), "ExecutionAlreadyExists");
}

#[tokio::test]
async fn finished_execution_name_cannot_be_reused() {
    let service = service_with(
        &json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        FakeInvoker::new(),
        None,
    );
    let finished = run(&service, &json!({})).await;
    assert_eq!(finished.status, ExecutionStatus::Succeeded);

    let error = start(&service, "test-execution", &json!({})).unwrap_err();

    assert_eq!(
        error,
        ServiceError::ExecutionAlreadyExists {
            execution_arn: finished.execution_arn
        }
    );
}

#[tokio::test]
async fn invalid_starts_are_rejected_with_their_error_codes() {
    let service = service_with(
        &json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        FakeInvoker::new(),
        None,
    );

    let code = |result: Result<String, ServiceError>| result.unwrap_err().error_code();
    assert_eq!(
        code(start(&service, "has space", &json!({}))),
        "InvalidName"
    );
    assert_eq!(
        code(start(&service, &"a".repeat(81), &json!({}))),
        "InvalidName"
    );
    assert_eq!(
        code(start(&service, "list-input", &json!([1]))),
        "InvalidExecutionInput"
    );
    let not_json = service.start_execution(&state_machine_arn(), None, "{".to_owned());
    assert_eq!(not_json.unwrap_err().error_code(), "InvalidExecutionInput");
    let unknown = service.start_execution(
        "arn:aws:states:us-east-1:123456789012:stateMachine:Other",
        None,
        "{}".to_owned(),
    );
    assert_eq!(
        unknown.unwrap_err().error_code(),
        "StateMachineDoesNotExist"
    );
    let malformed = service.start_execution("Provisioning", None, "{}".to_owned());
    assert_eq!(malformed.unwrap_err().error_code(), "InvalidArn");
}

#[tokio::test]
async fn execution_without_a_name_gets_a_generated_one() {
    let service = service_with(
        &json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        FakeInvoker::new(),
        None,
    );

    let first = service
        .start_execution(&state_machine_arn(), None, "{}".to_owned())
        .expect("starts");
    let second = service
        .start_execution(&state_machine_arn(), None, "{}".to_owned())
        .expect("starts");

    assert_ne!(first.execution_arn, second.execution_arn);
    let description = service
        .describe_execution(&first.execution_arn)
        .expect("exists");
    assert!(!description.name.is_empty());
}

#[tokio::test]
async fn unknown_execution_does_not_exist() {
    let service = service_with(
        &json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        FakeInvoker::new(),
        None,
    );
    let arn = "arn:aws:states:us-east-1:123456789012:execution:Provisioning:nobody";

    assert_eq!(
        service.describe_execution(arn).unwrap_err().error_code(),
        "ExecutionDoesNotExist"
    );
    assert_eq!(
        service
            .describe_execution("arn:aws:states:x")
            .unwrap_err()
            .error_code(),
        "InvalidArn"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_aborts_a_running_execution() {
    let (definition, invoker) = slow_task();
    let service = service_with(&definition, invoker.clone(), None);
    let arn = start(&service, "tnt_1-1", &json!({})).expect("starts");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(invoker.calls_to("Work").len(), 1);

    service
        .stop_execution(
            &arn,
            Some("Operator.Stop".to_owned()),
            Some("stopped by test".to_owned()),
        )
        .expect("stops");
    tokio::time::sleep(Duration::from_secs(7200)).await;

    let description = service.describe_execution(&arn).expect("exists");
    assert_eq!(description.status, ExecutionStatus::Aborted);
    assert_eq!(description.error.as_deref(), Some("Operator.Stop"));
    assert_eq!(description.cause.as_deref(), Some("stopped by test"));
    assert!(description.output.is_none());
    let types = event_types(&service, &arn);
    assert_eq!(types.last().map(String::as_str), Some("ExecutionAborted"));
    assert!(!types.contains(&"TaskSucceeded".to_owned()), "{types:?}");
}

#[tokio::test(start_paused = true)]
async fn list_executions_filters_by_status_newest_first() {
    let (definition, invoker) = slow_task();
    let service = service_with(&definition, invoker, None);
    let first = start(&service, "first", &json!({})).expect("starts");
    let second = start(&service, "second", &json!({})).expect("starts");
    service.stop_execution(&first, None, None).expect("stops");

    let all = service
        .list_executions(&state_machine_arn(), None)
        .expect("lists");
    let running = service
        .list_executions(&state_machine_arn(), Some(ExecutionStatus::Running))
        .expect("lists");
    let aborted = service
        .list_executions(&state_machine_arn(), Some(ExecutionStatus::Aborted))
        .expect("lists");

    let arns = |list: &[asl_runtime::ExecutionDescription]| -> Vec<String> {
        list.iter().map(|item| item.execution_arn.clone()).collect()
    };
    assert_eq!(arns(&all), vec![second.clone(), first.clone()]);
    assert_eq!(arns(&running), vec![second]);
    assert_eq!(arns(&aborted), vec![first]);
}

#[tokio::test]
async fn history_lists_events_in_order() {
    let definition = json!({
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Decide"},
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": true, "Next": "Pause"}]},
            "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }
    });
    let service = service_with(&definition, FakeInvoker::new(), None);

    let finished = run(&service, &json!({"go": true})).await;

    assert_eq!(
        event_types(&service, &finished.execution_arn),
        vec![
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "WaitStateEntered",
            "WaitStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded",
        ]
    );
    let history = service
        .get_execution_history(&finished.execution_arn)
        .expect("exists");
    let ids: Vec<u64> = history.iter().map(|event| event.id).collect();
    assert_eq!(ids, (1..=13).collect::<Vec<u64>>());
    assert_eq!(history[2].state_name(), Some("Work"));
    assert_eq!(history[0].state_name(), None);
}

#[tokio::test(start_paused = true)]
async fn wait_for_completion_times_out() {
    let (definition, invoker) = slow_task();
    let service = service_with(&definition, invoker, None);
    let arn = start(&service, "slow", &json!({})).expect("starts");

    let error = service
        .wait_for_completion(&arn, Duration::from_secs(10))
        .await
        .unwrap_err();

    assert!(matches!(error, WaitError::TimedOut { .. }), "{error:?}");
}

#[tokio::test]
async fn json_protocol_rejects_unknown_operations_and_bad_bodies() {
    let service = service_with(
        &json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        FakeInvoker::new(),
        None,
    );

    let (status, body) =
        handle_json_request(&service, "AWSStepFunctions.CreateActivity", b"{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], json!("UnknownOperationException"));

    let (status, body) =
        handle_json_request(&service, "AWSStepFunctions.StartExecution", b"{oops").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], json!("SerializationException"));

    let (status, body) =
        handle_json_request(&service, "AWSStepFunctions.DescribeExecution", b"{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], json!("ValidationException"));
}

#[tokio::test]
async fn json_protocol_returns_aws_shapes() {
    let service = service_with(
        &json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        FakeInvoker::new(),
        None,
    );
    let request = json!({"stateMachineArn": state_machine_arn(), "name": "tnt_1-1", "input": "{\"tenant_id\":\"tnt_1\"}"});

    let (status, started) = handle_json_request(
        &service,
        "AWSStepFunctions.StartExecution",
        request.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let arn = started["executionArn"].as_str().expect("an ARN").to_owned();
    assert!(started["startDate"].is_f64(), "{started}");
    service
        .wait_for_completion(&arn, Duration::from_secs(5))
        .await
        .expect("ends");

    let describe = json!({"executionArn": arn});
    let (status, described) = handle_json_request(
        &service,
        "AWSStepFunctions.DescribeExecution",
        describe.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(described["status"], json!("SUCCEEDED"));
    assert_eq!(described["name"], json!("tnt_1-1"));
    assert_eq!(described["stateMachineArn"], json!(state_machine_arn()));
    assert_eq!(described["input"], json!("{\"tenant_id\":\"tnt_1\"}"));
    assert_eq!(described["output"], json!("{\"tenant_id\":\"tnt_1\"}"));
    assert!(described["stopDate"].is_f64(), "{described}");

    let (status, duplicate) = handle_json_request(
        &service,
        "AWSStepFunctions.StartExecution",
        request.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(duplicate["__type"], json!("ExecutionAlreadyExists"));
    assert!(duplicate["message"]
        .as_str()
        .is_some_and(|text| text.contains("tnt_1-1")));

    let list = json!({"stateMachineArn": state_machine_arn(), "statusFilter": "SUCCEEDED", "maxResults": 1});
    let (status, listed) = handle_json_request(
        &service,
        "AWSStepFunctions.ListExecutions",
        list.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["executions"][0]["executionArn"], json!(arn));
    assert!(listed.get("nextToken").is_none());

    let history = json!({"executionArn": arn, "reverseOrder": true, "maxResults": 2});
    let (status, page) = handle_json_request(
        &service,
        "AWSStepFunctions.GetExecutionHistory",
        history.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["events"][0]["type"], json!("ExecutionSucceeded"));
    assert_eq!(page["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["nextToken"], json!("2"));
}
