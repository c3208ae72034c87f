//! Input and output processing: InputPath, Parameters, ResultSelector, ResultPath, OutputPath and
//! the context object.

mod common;

use asl_runtime::{ExecutionStatus, STATES_RUNTIME};
use common::{output_of, run, service_with, state_machine_arn, FakeInvoker, Reply};
use serde_json::{json, Value};

fn single_task(task: Value) -> Value {
    let mut state =
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true});
    for (key, value) in task.as_object().expect("an object") {
        state[key] = value.clone();
    }
    json!({"StartAt": "Work", "States": {"Work": state}})
}

#[tokio::test]
async fn task_applies_every_processing_step_in_order() {
    let invoker = FakeInvoker::new();
    invoker.script(
        "Work",
        [Reply::Return(
            json!({"Payload": {"value": 42}, "StatusCode": 200}),
        )],
    );
    let definition = single_task(json!({
        "InputPath": "$.request",
        "Parameters": {
            "FunctionName": "provisioner",
            "Payload": {
                "step": "work",
                "id.$": "$.id",
                "first.$": "$.items[0]",
                "spaced.$": "$['a b']",
                "listed": [{"id.$": "$.id"}, "literal"]
            }
        },
        "ResultSelector": {"value.$": "$.Payload.value"},
        "ResultPath": "$.results.work",
        "OutputPath": "$.results"
    }));
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(
        &service,
        &json!({"request": {"id": "tnt_1", "items": ["a", "b"], "a b": true}, "other": 1}),
    )
    .await;

    assert_eq!(finished.status, ExecutionStatus::Succeeded);
    let calls = invoker.calls_to("Work");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].input,
        json!({
            "FunctionName": "provisioner",
            "Payload": {"step": "work", "id": "tnt_1", "first": "a", "spaced": true, "listed": [{"id": "tnt_1"}, "literal"]}
        })
    );
    assert_eq!(calls[0].resource, "arn:aws:states:::lambda:invoke");
    assert_eq!(calls[0].attempt, 1);
    assert_eq!(output_of(&finished), json!({"work": {"value": 42}}));
}

#[tokio::test]
async fn context_object_fields_reach_parameters() {
    let invoker = FakeInvoker::new();
    let definition = single_task(json!({
        "Parameters": {
            "execution_id.$": "$$.Execution.Id",
            "execution_name.$": "$$.Execution.Name",
            "execution_input.$": "$$.Execution.Input",
            "start_time.$": "$$.Execution.StartTime",
            "state_machine.$": "$$.StateMachine.Id",
            "state_name.$": "$$.State.Name",
            "entered_time.$": "$$.State.EnteredTime",
            "retry_count.$": "$$.State.RetryCount"
        }
    }));
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(finished.status, ExecutionStatus::Succeeded);
    let input = &invoker.calls_to("Work")[0].input;
    assert_eq!(input["execution_id"], json!(finished.execution_arn));
    assert_eq!(input["execution_name"], json!("test-execution"));
    assert_eq!(input["execution_input"], json!({"tenant_id": "tnt_1"}));
    assert_eq!(input["state_machine"], json!(state_machine_arn()));
    assert_eq!(input["state_name"], json!("Work"));
    assert_eq!(input["retry_count"], json!(0));
    for field in ["start_time", "entered_time"] {
        let text = input[field].as_str().expect("a timestamp string");
        assert!(text.ends_with('Z'), "{field} = {text}");
        assert_eq!(
            text.len(),
            "2024-01-01T00:00:00.000Z".len(),
            "{field} = {text}"
        );
    }
}

#[tokio::test]
async fn null_result_path_keeps_the_state_input() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", [Reply::Return(json!({"ignored": true}))]);
    let service = service_with(&single_task(json!({"ResultPath": null})), invoker, None);

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(output_of(&finished), json!({"tenant_id": "tnt_1"}));
}

#[tokio::test]
async fn default_result_path_replaces_the_state_input() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", [Reply::Return(json!({"result": 1}))]);
    let service = service_with(&single_task(json!({})), invoker, None);

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(output_of(&finished), json!({"result": 1}));
}

#[tokio::test]
async fn null_input_and_output_paths_select_empty_objects() {
    let invoker = FakeInvoker::new();
    let service = service_with(
        &single_task(json!({"InputPath": null, "OutputPath": null})),
        invoker.clone(),
        None,
    );

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(invoker.calls_to("Work")[0].input, json!({}));
    assert_eq!(output_of(&finished), json!({}));
}

#[tokio::test]
async fn pass_state_places_its_result_at_result_path() {
    let definition = json!({
        "StartAt": "Fill",
        "States": {
            "Fill": {"Type": "Pass", "Result": {"ready": false}, "ResultPath": "$.datastore.status", "Next": "Shape"},
            "Shape": {"Type": "Pass", "Parameters": {"tenant.$": "$.tenant_id", "status.$": "$.datastore.status"}, "End": true}
        }
    });
    let service = service_with(&definition, FakeInvoker::new(), None);

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(
        output_of(&finished),
        json!({"tenant": "tnt_1", "status": {"ready": false}})
    );
}

#[tokio::test]
async fn missing_parameter_path_escapes_catch() {
    let invoker = FakeInvoker::new();
    let definition = json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"id.$": "$.missing"},
                "Retry": [{"ErrorEquals": ["States.ALL"]}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
                "End": true
            },
            "Handled": {"Type": "Succeed"}
        }
    });
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some(STATES_RUNTIME));
    assert_eq!(
        finished.cause.as_deref(),
        Some("JSONPath \"$.missing\" could not be found in the input")
    );
    assert!(invoker.calls().is_empty());
}

#[tokio::test]
async fn result_path_into_string_is_runtime_error() {
    let service = service_with(
        &single_task(json!({"ResultPath": "$.tenant_id.result"})),
        FakeInvoker::new(),
        None,
    );

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some(STATES_RUNTIME));
}

#[tokio::test]
async fn result_selector_missing_path_is_runtime_error() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", [Reply::Return(json!({"StatusCode": 200}))]);
    let service = service_with(
        &single_task(json!({"ResultSelector": {"p.$": "$.Payload"}})),
        invoker,
        None,
    );

    let finished = run(&service, &json!({})).await;

    assert_eq!(finished.error.as_deref(), Some(STATES_RUNTIME));
}
