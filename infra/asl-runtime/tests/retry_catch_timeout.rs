//! Retry, Catch, TimeoutSeconds and fault injection.

mod common;

use std::time::Duration;

use asl_runtime::{
    Definition, ExecutionStatus, FaultInjection, RegistrationError, StepFunctionsService,
    STATES_TIMEOUT,
};
use common::{
    event_types, output_of, run, service_with, state_machine_arn, FakeInvoker, Reply, ACCOUNT,
    REGION,
};
use serde_json::{json, Value};

const TRANSIENT: &str = "Provisioning.Transient";
const FATAL: &str = "Provisioning.Fatal";

fn task_with(extra: Value) -> Value {
    let mut state =
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true});
    for (key, value) in extra.as_object().expect("an object") {
        state[key] = value.clone();
    }
    json!({"StartAt": "Work", "States": {"Work": state}})
}

fn seconds(values: &[u64]) -> Vec<Duration> {
    values
        .iter()
        .map(|value| Duration::from_secs(*value))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn retry_backs_off_and_then_succeeds() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", vec![Reply::Fail(TRANSIENT, "throttled"); 3]);
    let definition = task_with(json!({
        "Retry": [{"ErrorEquals": [TRANSIENT], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 3}]
    }));
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(finished.status, ExecutionStatus::Succeeded);
    let attempts: Vec<u32> = invoker
        .calls_to("Work")
        .iter()
        .map(|call| call.attempt)
        .collect();
    assert_eq!(attempts, vec![1, 2, 3, 4]);
    assert_eq!(invoker.gaps_between_calls_to("Work"), seconds(&[1, 2, 4]));
}

#[tokio::test(start_paused = true)]
async fn retry_count_reaches_the_context_object() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", vec![Reply::Fail(TRANSIENT, "throttled"); 2]);
    let definition = task_with(json!({
        "Parameters": {"retries.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": [TRANSIENT]}]
    }));
    let service = service_with(&definition, invoker.clone(), None);

    run(&service, &json!({})).await;

    let retries: Vec<Value> = invoker
        .calls_to("Work")
        .iter()
        .map(|call| call.input["retries"].clone())
        .collect();
    assert_eq!(retries, vec![json!(0), json!(1), json!(2)]);
}

#[tokio::test(start_paused = true)]
async fn retry_delay_is_capped_by_max_delay_seconds() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", vec![Reply::Fail(TRANSIENT, "throttled"); 3]);
    let definition = task_with(json!({
        "Retry": [{"ErrorEquals": [TRANSIENT], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3, "MaxDelaySeconds": 5}]
    }));
    let service = service_with(&definition, invoker.clone(), None);

    run(&service, &json!({})).await;

    assert_eq!(invoker.gaps_between_calls_to("Work"), seconds(&[2, 5, 5]));
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_fail_the_execution() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", vec![Reply::Fail(TRANSIENT, "throttled"); 4]);
    let definition = task_with(json!({"Retry": [{"ErrorEquals": [TRANSIENT], "MaxAttempts": 3}]}));
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some(TRANSIENT));
    assert_eq!(finished.cause.as_deref(), Some("throttled"));
    assert_eq!(invoker.calls_to("Work").len(), 4);
}

#[tokio::test(start_paused = true)]
async fn each_retrier_counts_its_own_attempts() {
    let invoker = FakeInvoker::new();
    invoker.script(
        "Work",
        [
            Reply::Fail("Error.A", "a"),
            Reply::Fail("Error.B", "b"),
            Reply::Fail("Error.B", "b"),
            Reply::Fail("Error.A", "a"),
        ],
    );
    let definition = task_with(json!({"Retry": [
        {"ErrorEquals": ["Error.A"], "MaxAttempts": 1, "IntervalSeconds": 1},
        {"ErrorEquals": ["Error.B"], "MaxAttempts": 2, "IntervalSeconds": 10, "BackoffRate": 1.0}
    ]}));
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({})).await;

    // A retries once (1 s), B twice (10 s each), and the second A finds its retrier exhausted.
    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some("Error.A"));
    assert_eq!(invoker.calls_to("Work").len(), 4);
    assert_eq!(invoker.gaps_between_calls_to("Work"), seconds(&[1, 10, 10]));
}

#[tokio::test(start_paused = true)]
async fn zero_max_attempts_never_retries() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", [Reply::Fail(TRANSIENT, "throttled")]);
    let definition = task_with(json!({"Retry": [{"ErrorEquals": [TRANSIENT], "MaxAttempts": 0}]}));
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(invoker.calls_to("Work").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn unmatched_error_is_not_retried() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", [Reply::Fail(FATAL, "bad plan")]);
    let definition = task_with(json!({"Retry": [{"ErrorEquals": [TRANSIENT]}]}));
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({})).await;

    assert_eq!(finished.error.as_deref(), Some(FATAL));
    assert_eq!(invoker.calls_to("Work").len(), 1);
}

fn catching_definition(catch: Value) -> Value {
    json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Catch": [catch],
                "Next": "Done"
            },
            "Rollback": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "ProvisioningFailed"},
            "ProvisioningFailed": {"Type": "Fail", "Error": "ProvisioningFailed", "Cause": "rolled back"},
            "Done": {"Type": "Succeed"}
        }
    })
}

#[tokio::test]
async fn catch_stores_error_at_result_path() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", [Reply::Fail(FATAL, "no capacity")]);
    let definition = catching_definition(
        json!({"ErrorEquals": ["States.ALL"], "Next": "Rollback", "ResultPath": "$.error"}),
    );
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({"tenant_id": "tnt_1", "attempt": 1})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some("ProvisioningFailed"));
    assert_eq!(finished.cause.as_deref(), Some("rolled back"));
    let rollback = invoker.calls_to("Rollback");
    assert_eq!(rollback.len(), 1);
    assert_eq!(
        rollback[0].input,
        json!({"tenant_id": "tnt_1", "attempt": 1, "error": {"Error": FATAL, "Cause": "no capacity"}})
    );
}

#[tokio::test]
async fn catch_without_result_path_replaces_input() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", [Reply::Fail(FATAL, "no capacity")]);
    let definition = catching_definition(json!({"ErrorEquals": [FATAL], "Next": "Rollback"}));
    let service = service_with(&definition, invoker.clone(), None);

    run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(
        invoker.calls_to("Rollback")[0].input,
        json!({"Error": FATAL, "Cause": "no capacity"})
    );
}

#[tokio::test]
async fn catch_with_a_different_error_does_not_match() {
    let invoker = FakeInvoker::new();
    invoker.script("Work", [Reply::Fail(FATAL, "no capacity")]);
    let definition = catching_definition(json!({"ErrorEquals": [TRANSIENT], "Next": "Rollback"}));
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({})).await;

    assert_eq!(finished.error.as_deref(), Some(FATAL));
    assert!(invoker.calls_to("Rollback").is_empty());
}

#[tokio::test(start_paused = true)]
async fn task_timeout_raises_states_timeout() {
    let invoker = FakeInvoker::new();
    invoker.script(
        "Work",
        [Reply::SleepThenReturn(Duration::from_secs(120), json!({}))],
    );
    let service = service_with(&task_with(json!({"TimeoutSeconds": 60})), invoker, None);
    let started = tokio::time::Instant::now();

    let finished = run(&service, &json!({})).await;

    assert_eq!(started.elapsed(), Duration::from_secs(60));
    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some(STATES_TIMEOUT));
    let types = event_types(&service, &finished.execution_arn);
    assert!(types.contains(&"TaskTimedOut".to_owned()), "{types:?}");
}

#[tokio::test(start_paused = true)]
async fn task_failed_does_not_match_a_timeout() {
    let invoker = FakeInvoker::new();
    invoker.script(
        "Work",
        [Reply::SleepThenReturn(Duration::from_secs(120), json!({}))],
    );
    let definition = json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "TimeoutSeconds": 5,
                "Retry": [{"ErrorEquals": ["States.TaskFailed"]}],
                "Catch": [
                    {"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"},
                    {"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}
                ],
                "End": true
            },
            "Failed": {"Type": "Pass", "Result": "task failed", "End": true},
            "TimedOut": {"Type": "Pass", "Result": "timed out", "End": true}
        }
    });
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({})).await;

    assert_eq!(output_of(&finished), json!("timed out"));
    assert_eq!(invoker.calls_to("Work").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_ends_the_execution_timed_out() {
    let definition = json!({
        "TimeoutSeconds": 10,
        "StartAt": "Pause",
        "States": {"Pause": {"Type": "Wait", "Seconds": 60, "End": true}}
    });
    let service = service_with(&definition, FakeInvoker::new(), None);
    let started = tokio::time::Instant::now();

    let finished = run(&service, &json!({})).await;

    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert_eq!(finished.status, ExecutionStatus::TimedOut);
    assert_eq!(finished.error.as_deref(), Some(STATES_TIMEOUT));
    assert!(finished.stop_date.is_some());
    let types = event_types(&service, &finished.execution_arn);
    assert_eq!(types.last().map(String::as_str), Some("ExecutionTimedOut"));
}

/// Builds a short provisioning flow: two steps, Retry on transient errors, Catch into Rollback.
fn provisioning() -> Value {
    let step = |name: &str, next: &str| {
        json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "provisioner", "Payload": {"step": name, "tenant_id.$": "$.tenant_id"}},
            "ResultSelector": {"result.$": "$.Payload"},
            "ResultPath": null,
            "Retry": [{"ErrorEquals": [TRANSIENT], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 3}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Rollback", "ResultPath": "$.error"}],
            "Next": next
        })
    };
    json!({
        "StartAt": "ReserveCapacity",
        "States": {
            "ReserveCapacity": step("reserve_capacity", "CreateDataStore"),
            "CreateDataStore": step("create_data_store", "Activated"),
            "Activated": {"Type": "Succeed"},
            "Rollback": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"Payload": {"step": "rollback", "tenant_id.$": "$.tenant_id", "error.$": "$.error"}},
                "Next": "ProvisioningFailed"
            },
            "ProvisioningFailed": {"Type": "Fail", "Error": "ProvisioningFailed", "Cause": "provisioning was rolled back"}
        }
    })
}

fn payload_reply() -> Reply {
    Reply::Return(json!({"Payload": {"ok": true}, "StatusCode": 200}))
}

#[tokio::test(start_paused = true)]
async fn fault_injection_fails_after_task_ran() {
    let invoker = FakeInvoker::new();
    invoker.script("ReserveCapacity", [payload_reply()]);
    invoker.script("CreateDataStore", [payload_reply()]);
    let fault = FaultInjection {
        state: "CreateDataStore".to_owned(),
        error: FATAL.to_owned(),
        cause: "injected".to_owned(),
    };
    let service = service_with(&provisioning(), invoker.clone(), Some(fault));

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some("ProvisioningFailed"));
    assert_eq!(invoker.calls_to("CreateDataStore").len(), 1);
    let rollback = invoker.calls_to("Rollback");
    assert_eq!(rollback.len(), 1);
    assert_eq!(
        rollback[0].input,
        json!({"Payload": {"step": "rollback", "tenant_id": "tnt_1", "error": {"Error": FATAL, "Cause": "injected"}}})
    );
}

#[tokio::test(start_paused = true)]
async fn injected_transient_fault_is_retried_on_every_attempt() {
    let invoker = FakeInvoker::new();
    let fault = FaultInjection {
        state: "ReserveCapacity".to_owned(),
        error: TRANSIENT.to_owned(),
        cause: "injected".to_owned(),
    };
    let service = service_with(&provisioning(), invoker.clone(), Some(fault));

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(invoker.calls_to("ReserveCapacity").len(), 4);
    assert_eq!(
        invoker.gaps_between_calls_to("ReserveCapacity"),
        seconds(&[1, 2, 4])
    );
    assert_eq!(invoker.calls_to("CreateDataStore").len(), 0);
    assert_eq!(invoker.calls_to("Rollback").len(), 1);
}

#[test]
fn fault_on_non_task_state_is_rejected() {
    let definition = Definition::parse(&provisioning().to_string()).expect("valid definition");
    let fault = FaultInjection {
        state: "ProvisioningFailed".to_owned(),
        error: FATAL.to_owned(),
        cause: "injected".to_owned(),
    };
    let service = StepFunctionsService::new(FakeInvoker::new(), Some(fault), REGION, ACCOUNT);

    let error = service
        .register_state_machine(&state_machine_arn(), "Provisioning", definition)
        .unwrap_err();

    assert!(
        matches!(error, RegistrationError::FaultInjection(_)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "fault injection names state \"ProvisioningFailed\", which is not a Task state of the definition \
         (its Task states are CreateDataStore, ReserveCapacity, Rollback)"
    );
}

#[test]
fn fault_injection_on_a_missing_state_is_rejected() {
    let definition = Definition::parse(&provisioning().to_string()).expect("valid definition");
    let fault = FaultInjection {
        state: "Nowhere".to_owned(),
        error: FATAL.to_owned(),
        cause: "injected".to_owned(),
    };
    let error = fault.check(&definition).unwrap_err();
    assert_eq!(error.state, "Nowhere");
    assert_eq!(
        error.task_states,
        vec!["CreateDataStore", "ReserveCapacity", "Rollback"]
    );
}
