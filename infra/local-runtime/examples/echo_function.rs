//! A test function for the local runtime, built on `lambda_runtime` like the real functions.
//!
//! It inspects the event and:
//! - HTTP API (payload 2.0): returns 200 with the event as the JSON body. A path containing
//!   `/fail` returns a function error, and one containing `/binary` returns a base64 body.
//! - SQS: reports every record whose body contains `fail` in `batchItemFailures`.
//! - EventBridge schedule: returns `{"scheduled": true, "resources": [...], "time": "..."}`.
//! - `{"sleep_ms": N}`: sleeps N ms, then returns `{"slept_ms": N, "pid": …}`.
//! - `{"exit": true}`: exits the process with status 1.
//! - `{"fail_with": "Type"}`: returns a function error with that errorType.
//! - anything else: returns the input with `"ready": true` and `"echoed": true` added.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let payload = event.payload;
    if payload.get("version").and_then(Value::as_str) == Some("2.0") {
        let path = payload
            .get("rawPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if path.contains("/fail") {
            return Err(Diagnostic {
                error_type: "Echo.Failure".to_string(),
                error_message: "requested failure".to_string(),
            });
        }
        if path.contains("/binary") {
            return Ok(json!({
                "statusCode": 200,
                "headers": {"content-type": "application/octet-stream"},
                "cookies": ["a=1", "b=2"],
                "body": "AAEC",
                "isBase64Encoded": true,
            }));
        }
        return Ok(json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json", "x-echo": "yes"},
            "body": payload.to_string(),
        }));
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let failures: Vec<Value> = records
            .iter()
            .filter(|r| {
                r.get("body")
                    .and_then(Value::as_str)
                    .is_some_and(|b| b.contains("fail"))
            })
            .map(|r| json!({"itemIdentifier": r.get("messageId")}))
            .collect();
        return Ok(json!({ "batchItemFailures": failures }));
    }
    if payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        return Ok(json!({
            "scheduled": true,
            "resources": payload.get("resources"),
            "time": payload.get("time"),
        }));
    }
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        return Ok(json!({ "slept_ms": ms, "pid": std::process::id() }));
    }
    if payload.get("exit").and_then(Value::as_bool) == Some(true) {
        std::process::exit(1);
    }
    if let Some(error_type) = payload.get("fail_with").and_then(Value::as_str) {
        return Err(Diagnostic {
            error_type: error_type.to_string(),
            error_message: format!("requested {error_type}"),
        });
    }
    let mut output = payload;
    if let Value::Object(map) = &mut output {
        map.insert("ready".to_string(), Value::Bool(true));
        map.insert("echoed".to_string(), Value::Bool(true));
    }
    Ok(output)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handle)).await
}
