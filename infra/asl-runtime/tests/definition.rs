//! Parsing and validation of definitions.

use asl_runtime::{Definition, DefinitionError, StateType};
use serde_json::{json, Value};

fn parse(definition: &Value) -> Result<Definition, DefinitionError> {
    Definition::parse(&definition.to_string())
}

fn rejection(definition: &Value) -> String {
    match parse(definition) {
        Ok(_) => panic!("the definition should be rejected: {definition}"),
        Err(error) => error.to_string(),
    }
}

/// Builds a definition whose only state is `state`, named "Work".
fn single(state: Value) -> Value {
    json!({"StartAt": "Work", "States": {"Work": state}})
}

fn task(extra: Value) -> Value {
    let mut state =
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true});
    for (key, value) in extra.as_object().expect("an object") {
        state[key] = value.clone();
    }
    single(state)
}

#[test]
fn provisioning_like_definition_parses() {
    let definition = parse(&json!({
        "Comment": "Provisions a tenant",
        "Version": "1.0",
        "TimeoutSeconds": 3600,
        "StartAt": "Validate",
        "States": {
            "Validate": {
                "Type": "Task",
                "Comment": "first step",
                "Resource": "arn:aws:states:::lambda:invoke",
                "InputPath": "$",
                "Parameters": {
                    "FunctionName": "provisioner",
                    "Payload": {"step": "validate", "tenant_id.$": "$.tenant_id", "attempt.$": "$.attempt", "list": [{"x.$": "$$.Execution.Id"}]}
                },
                "ResultSelector": {"result.$": "$.Payload"},
                "ResultPath": "$.steps.validate",
                "OutputPath": "$",
                "TimeoutSeconds": 60,
                "Retry": [
                    {"ErrorEquals": ["Provisioning.Transient"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 3, "MaxDelaySeconds": 10},
                    {"ErrorEquals": ["States.ALL"]}
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Rollback", "ResultPath": "$.error"}],
                "Next": "WaitForStore"
            },
            "WaitForStore": {"Type": "Wait", "Seconds": 5, "Next": "IsReady"},
            "IsReady": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.ready", "BooleanEquals": true, "Next": "Configure"},
                    {"And": [
                        {"Variable": "$.count", "IsPresent": true},
                        {"Not": {"Variable": "$.count", "NumericLessThan": 3}}
                    ], "Next": "Rollback"}
                ],
                "Default": "WaitForStore"
            },
            "Configure": {"Type": "Pass", "Result": {"done": true}, "ResultPath": null, "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "Rollback": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "ProvisioningFailed"},
            "ProvisioningFailed": {"Type": "Fail", "Error": "ProvisioningFailed", "Cause": "rolled back"}
        }
    }))
    .expect("the definition is valid");

    assert_eq!(definition.start_at(), "Validate");
    assert_eq!(definition.timeout_seconds(), Some(3600));
    assert_eq!(definition.task_state_names(), vec!["Rollback", "Validate"]);
    assert_eq!(definition.state_type("IsReady"), Some(StateType::Choice));
    assert_eq!(definition.state_type("Missing"), None);
}

#[test]
fn map_state_is_rejected_with_its_name() {
    let message = rejection(&json!({
        "StartAt": "Fanout",
        "States": {"Fanout": {"Type": "Map", "ItemsPath": "$.items", "End": true}}
    }));
    assert_eq!(
        message,
        "state \"Fanout\": type \"Map\" is not supported by the local runtime"
    );
}

#[test]
fn parallel_state_is_rejected_with_its_name() {
    let message = rejection(&json!({
        "StartAt": "Both",
        "States": {"Both": {"Type": "Parallel", "Branches": [], "End": true}}
    }));
    assert_eq!(
        message,
        "state \"Both\": type \"Parallel\" is not supported by the local runtime"
    );
}

#[test]
fn heartbeat_seconds_is_rejected_with_state_and_field() {
    let message = rejection(&task(json!({"HeartbeatSeconds": 10})));
    assert_eq!(
        message,
        "state \"Work\": field \"HeartbeatSeconds\" is not supported by the local runtime"
    );
}

#[test]
fn items_path_on_a_task_is_rejected() {
    let message = rejection(&task(json!({"ItemsPath": "$.items"})));
    assert_eq!(
        message,
        "state \"Work\": field \"ItemsPath\" is not supported by the local runtime"
    );
}

#[test]
fn unknown_top_level_field_is_rejected() {
    let mut definition = task(json!({}));
    definition["Extra"] = json!(1);
    assert_eq!(
        rejection(&definition),
        "definition: field \"Extra\" is not supported by the local runtime"
    );
}

#[test]
fn intrinsic_function_is_rejected() {
    let message = rejection(&task(json!({
        "Parameters": {"Payload": {"message.$": "States.Format('tenant {}', $.tenant_id)"}}
    })));
    assert_eq!(
        message,
        "state \"Work\": field \"Parameters\": key \"Payload.message.$\" uses the intrinsic function \
         \"States.Format\", which is not supported by the local runtime"
    );
}

#[test]
fn jsonata_query_language_is_rejected() {
    let mut definition = task(json!({}));
    definition["QueryLanguage"] = json!("JSONata");
    assert_eq!(
        rejection(&definition),
        "definition: value \"JSONata\" of field \"QueryLanguage\" is not supported by the local runtime"
    );

    let message = rejection(&task(json!({"QueryLanguage": "JSONata"})));
    assert_eq!(
        message,
        "state \"Work\": value \"JSONata\" of field \"QueryLanguage\" is not supported by the local runtime"
    );
}

#[test]
fn unsupported_choice_operator_is_rejected_with_its_position() {
    let message = rejection(&json!({
        "StartAt": "Decide",
        "States": {
            "Decide": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.a", "IsPresent": true, "Next": "Done"},
                    {"Or": [{"Variable": "$.name", "StringMatches": "tnt_*"}], "Next": "Done"}
                ]
            },
            "Done": {"Type": "Succeed"}
        }
    }));
    assert_eq!(
        message,
        "state \"Decide\": field \"Choices[1].Or[0].StringMatches\" is not supported by the local runtime"
    );
}

#[test]
fn choice_rule_without_operator_is_rejected() {
    let message = rejection(&json!({
        "StartAt": "Decide",
        "States": {
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.a", "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }
    }));
    assert_eq!(
        message,
        "state \"Decide\": field \"Choices[0]\" is invalid: a choice rule needs a comparison operator, And, Or or Not"
    );
}

#[test]
fn choice_literal_of_the_wrong_type_is_rejected() {
    let message = rejection(&json!({
        "StartAt": "Decide",
        "States": {
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": "3", "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }
    }));
    assert_eq!(
        message,
        "state \"Decide\": field \"Choices[0].NumericEquals\" is invalid: expected a number"
    );
}

#[test]
fn wildcard_path_is_rejected_with_state_and_field() {
    let message = rejection(&task(json!({"InputPath": "$.items[*]"})));
    assert!(
        message
            .starts_with("state \"Work\": field \"InputPath\": JSONPath \"$.items[*]\" is invalid"),
        "{message}"
    );
}

#[test]
fn context_path_in_result_path_is_rejected() {
    let message = rejection(&task(json!({"ResultPath": "$$.Execution.Id"})));
    assert_eq!(
        message,
        "state \"Work\": field \"ResultPath\" is invalid: a path into the context object ($$) is not allowed here"
    );
}

#[test]
fn retry_jitter_strategy_is_rejected() {
    let message = rejection(&task(
        json!({"Retry": [{"ErrorEquals": ["States.ALL"], "JitterStrategy": "FULL"}]}),
    ));
    assert_eq!(
        message,
        "state \"Work\": field \"Retry[0].JitterStrategy\" is not supported by the local runtime"
    );
}

#[test]
fn retrier_on_states_all_must_be_last() {
    let message = rejection(&task(json!({"Retry": [
        {"ErrorEquals": ["States.ALL"]},
        {"ErrorEquals": ["Provisioning.Transient"]}
    ]})));
    assert_eq!(
        message,
        "state \"Work\": field \"Retry[0].ErrorEquals\" is invalid: an entry on \"States.ALL\" must be the last one"
    );
}

#[test]
fn backoff_rate_below_one_is_rejected() {
    let message = rejection(&task(
        json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}),
    ));
    assert_eq!(
        message,
        "state \"Work\": field \"Retry[0].BackoffRate\" is invalid: expected a number of at least 1.0"
    );
}

#[test]
fn unknown_start_at_is_rejected() {
    let mut definition = task(json!({}));
    definition["StartAt"] = json!("Nowhere");
    assert_eq!(
        rejection(&definition),
        "definition: field \"StartAt\" names state \"Nowhere\", which the definition does not contain"
    );
}

#[test]
fn unknown_next_is_rejected() {
    let message = rejection(&json!({
        "StartAt": "Work",
        "States": {"Work": {"Type": "Pass", "Next": "Nowhere"}}
    }));
    assert_eq!(
        message,
        "state \"Work\": field \"Next\" names state \"Nowhere\", which the definition does not contain"
    );
}

#[test]
fn unknown_catch_next_is_rejected() {
    let message = rejection(&task(
        json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Rollback"}]}),
    ));
    assert_eq!(
        message,
        "state \"Work\": field \"Catch[0].Next\" names state \"Rollback\", which the definition does not contain"
    );
}

#[test]
fn unknown_choice_default_is_rejected() {
    let message = rejection(&json!({
        "StartAt": "Decide",
        "States": {
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}], "Default": "Nowhere"},
            "Done": {"Type": "Succeed"}
        }
    }));
    assert_eq!(
        message,
        "state \"Decide\": field \"Default\" names state \"Nowhere\", which the definition does not contain"
    );
}

#[test]
fn state_without_next_or_end_is_rejected() {
    let message = rejection(&single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}),
    ));
    assert_eq!(
        message,
        "state \"Work\" needs either \"Next\" or \"End\": true"
    );
}

#[test]
fn state_with_next_and_end_is_rejected() {
    let message = rejection(&json!({
        "StartAt": "Work",
        "States": {"Work": {"Type": "Pass", "Next": "Done", "End": true}, "Done": {"Type": "Succeed"}}
    }));
    assert_eq!(
        message,
        "state \"Work\": fields \"Next\" and \"End\" cannot be used together"
    );
}

#[test]
fn unreachable_state_is_rejected() {
    let message = rejection(&json!({
        "StartAt": "Work",
        "States": {"Work": {"Type": "Pass", "End": true}, "Orphan": {"Type": "Succeed"}}
    }));
    assert_eq!(message, "state \"Orphan\" cannot be reached from StartAt");
}

#[test]
fn wait_with_two_durations_is_rejected() {
    let message = rejection(&single(
        json!({"Type": "Wait", "Seconds": 1, "Timestamp": "2030-01-01T00:00:00Z", "End": true}),
    ));
    assert_eq!(
        message,
        "state \"Work\": fields \"Seconds\" and \"Timestamp\" cannot be used together"
    );
}

#[test]
fn wait_with_invalid_timestamp_is_rejected() {
    let message = rejection(&single(
        json!({"Type": "Wait", "Timestamp": "tomorrow", "End": true}),
    ));
    assert!(
        message.starts_with(
            "state \"Work\": field \"Timestamp\" is invalid: expected an RFC 3339 timestamp"
        ),
        "{message}"
    );
}

#[test]
fn next_on_a_succeed_state_is_rejected() {
    let message = rejection(&single(json!({"Type": "Succeed", "Next": "Work"})));
    assert_eq!(
        message,
        "state \"Work\": field \"Next\" is not supported by the local runtime"
    );
}

#[test]
fn invalid_json_is_rejected() {
    let error = Definition::parse("{not json").unwrap_err();
    assert!(matches!(error, DefinitionError::Json(_)), "{error:?}");
}
