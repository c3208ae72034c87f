//! Choice rules and Wait states.

mod common;

use std::time::Duration;

use asl_runtime::{ExecutionStatus, STATES_NO_CHOICE_MATCHED, STATES_RUNTIME};
use common::{output_of, run, service_with, FakeInvoker};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Runs a Choice state with one rule and returns which branch it took: "yes" or "no".
async fn branch_for(rule: &Value, input: &Value) -> String {
    let mut rule = rule.clone();
    rule["Next"] = json!("Yes");
    let definition = json!({
        "StartAt": "Decide",
        "States": {
            "Decide": {"Type": "Choice", "Choices": [rule], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": "yes", "End": true},
            "No": {"Type": "Pass", "Result": "no", "End": true}
        }
    });
    let service = service_with(&definition, FakeInvoker::new(), None);
    let finished = run(&service, input).await;
    assert_eq!(
        finished.status,
        ExecutionStatus::Succeeded,
        "rule {rule} on {input}: {finished:?}"
    );
    output_of(&finished)
        .as_str()
        .expect("a branch name")
        .to_owned()
}

#[tokio::test]
async fn each_choice_operator_selects_the_expected_branch() {
    let cases = [
        (
            json!({"Variable": "$.v", "StringEquals": "a"}),
            json!({"v": "a"}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "StringEquals": "a"}),
            json!({"v": "b"}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "StringEquals": "1"}),
            json!({"v": 1}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "StringEqualsPath": "$.w"}),
            json!({"v": "a", "w": "a"}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "StringEqualsPath": "$.w"}),
            json!({"v": "a", "w": "b"}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "NumericEquals": 3}),
            json!({"v": 3}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "NumericEquals": 3}),
            json!({"v": 3.0}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "NumericEquals": 3}),
            json!({"v": 4}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "NumericEquals": 3}),
            json!({"v": "3"}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "NumericLessThan": 3}),
            json!({"v": 2}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "NumericLessThan": 3}),
            json!({"v": 3}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "NumericGreaterThan": 3}),
            json!({"v": 4}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "NumericGreaterThan": 3}),
            json!({"v": 3}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "NumericLessThanEquals": 3}),
            json!({"v": 3}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "NumericLessThanEquals": 3}),
            json!({"v": 4}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "NumericGreaterThanEquals": 3}),
            json!({"v": 3}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "NumericGreaterThanEquals": 3}),
            json!({"v": 2}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "BooleanEquals": true}),
            json!({"v": true}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "BooleanEquals": true}),
            json!({"v": false}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "IsPresent": true}),
            json!({"v": null}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "IsPresent": true}),
            json!({}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "IsPresent": false}),
            json!({}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "IsNull": true}),
            json!({"v": null}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "IsNull": true}),
            json!({"v": 0}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "IsString": true}),
            json!({"v": "x"}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "IsString": true}),
            json!({"v": 1}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "IsNumeric": true}),
            json!({"v": 1.5}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "IsNumeric": true}),
            json!({"v": "1"}),
            "no",
        ),
        (
            json!({"Variable": "$.v", "IsBoolean": true}),
            json!({"v": false}),
            "yes",
        ),
        (
            json!({"Variable": "$.v", "IsBoolean": true}),
            json!({"v": 0}),
            "no",
        ),
        (
            json!({"And": [{"Variable": "$.v", "NumericGreaterThan": 1}, {"Variable": "$.v", "NumericLessThan": 5}]}),
            json!({"v": 3}),
            "yes",
        ),
        (
            json!({"And": [{"Variable": "$.v", "NumericGreaterThan": 1}, {"Variable": "$.v", "NumericLessThan": 5}]}),
            json!({"v": 6}),
            "no",
        ),
        (
            json!({"Or": [{"Variable": "$.v", "NumericEquals": 1}, {"Variable": "$.v", "NumericEquals": 2}]}),
            json!({"v": 2}),
            "yes",
        ),
        (
            json!({"Or": [{"Variable": "$.v", "NumericEquals": 1}, {"Variable": "$.v", "NumericEquals": 2}]}),
            json!({"v": 3}),
            "no",
        ),
        (
            json!({"Not": {"Variable": "$.v", "NumericEquals": 1}}),
            json!({"v": 2}),
            "yes",
        ),
        (
            json!({"Not": {"Variable": "$.v", "NumericEquals": 1}}),
            json!({"v": 1}),
            "no",
        ),
        (
            json!({"Variable": "$.datastore['is ready']", "BooleanEquals": true}),
            json!({"datastore": {"is ready": true}}),
            "yes",
        ),
        (
            json!({"Variable": "$.steps[1]", "StringEquals": "b"}),
            json!({"steps": ["a", "b"]}),
            "yes",
        ),
    ];

    for (rule, input, expected) in cases {
        assert_eq!(
            branch_for(&rule, &input).await,
            expected,
            "rule {rule} on input {input}"
        );
    }
}

#[tokio::test]
async fn choice_on_missing_variable_is_runtime_error() {
    let definition = json!({
        "StartAt": "Decide",
        "States": {
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.missing", "BooleanEquals": true, "Next": "Done"}], "Default": "Done"},
            "Done": {"Type": "Succeed"}
        }
    });
    let service = service_with(&definition, FakeInvoker::new(), None);

    let finished = run(&service, &json!({})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some(STATES_RUNTIME));
}

#[tokio::test]
async fn choice_without_match_or_default_fails() {
    let definition = json!({
        "StartAt": "Decide",
        "States": {
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.v", "BooleanEquals": true, "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }
    });
    let service = service_with(&definition, FakeInvoker::new(), None);

    let finished = run(&service, &json!({"v": false})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some(STATES_NO_CHOICE_MATCHED));
}

/// Builds a Wait state with the `wait` fields, followed by the Task state "Work".
fn wait_then_task(wait: Value) -> Value {
    let mut state = json!({"Type": "Wait", "Next": "Work"});
    for (key, value) in wait.as_object().expect("an object") {
        state[key] = value.clone();
    }
    json!({
        "StartAt": "Pause",
        "States": {
            "Pause": state,
            "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}
        }
    })
}

async fn waited_before_task(wait: Value, input: Value) -> Duration {
    let invoker = FakeInvoker::new();
    let service = service_with(&wait_then_task(wait), invoker.clone(), None);
    let started = tokio::time::Instant::now();
    let finished = run(&service, &input).await;
    assert_eq!(finished.status, ExecutionStatus::Succeeded, "{finished:?}");
    invoker.call_times_to("Work")[0] - started
}

#[tokio::test(start_paused = true)]
async fn wait_seconds_delays_the_next_state() {
    assert_eq!(
        waited_before_task(json!({"Seconds": 30}), json!({})).await,
        Duration::from_secs(30)
    );
}

#[tokio::test(start_paused = true)]
async fn wait_seconds_path_reads_the_input() {
    let waited = waited_before_task(json!({"SecondsPath": "$.delay"}), json!({"delay": 12})).await;
    assert_eq!(waited, Duration::from_secs(12));
}

#[tokio::test(start_paused = true)]
async fn wait_timestamp_waits_until_that_time() {
    let target = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let timestamp = target.format(&Rfc3339).expect("formattable");

    let waited = waited_before_task(json!({"Timestamp": timestamp}), json!({})).await;

    assert!(waited <= Duration::from_secs(3600), "{waited:?}");
    assert!(waited >= Duration::from_secs(3590), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn past_timestamp_path_does_not_wait() {
    let waited = waited_before_task(
        json!({"TimestampPath": "$.until"}),
        json!({"until": "2001-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(waited, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn string_seconds_path_is_runtime_error() {
    let service = service_with(
        &wait_then_task(json!({"SecondsPath": "$.delay"})),
        FakeInvoker::new(),
        None,
    );

    let finished = run(&service, &json!({"delay": "ten"})).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some(STATES_RUNTIME));
}

#[tokio::test(start_paused = true)]
async fn wait_and_choice_loop_polls_until_ready() {
    let invoker = FakeInvoker::new();
    invoker.script(
        "CheckDataStore",
        [
            common::Reply::Return(json!({"ready": false})),
            common::Reply::Return(json!({"ready": false})),
            common::Reply::Return(json!({"ready": true})),
        ],
    );
    let definition = json!({
        "StartAt": "CheckDataStore",
        "States": {
            "CheckDataStore": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": "$.datastore", "Next": "IsReady"},
            "IsReady": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.datastore.ready", "BooleanEquals": true, "Next": "Done"}],
                "Default": "WaitForDataStore"
            },
            "WaitForDataStore": {"Type": "Wait", "Seconds": 10, "Next": "CheckDataStore"},
            "Done": {"Type": "Succeed"}
        }
    });
    let service = service_with(&definition, invoker.clone(), None);

    let finished = run(&service, &json!({"tenant_id": "tnt_1"})).await;

    assert_eq!(finished.status, ExecutionStatus::Succeeded);
    assert_eq!(
        output_of(&finished),
        json!({"tenant_id": "tnt_1", "datastore": {"ready": true}})
    );
    assert_eq!(
        invoker.gaps_between_calls_to("CheckDataStore"),
        vec![Duration::from_secs(10), Duration::from_secs(10)]
    );
}
