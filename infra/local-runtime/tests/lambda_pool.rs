//! Worker pool tests against the `echo_function` example, without moto.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use local_runtime::functions::FunctionSpec;
use local_runtime::lambda_pool::{LambdaService, PoolSettings};
use serde_json::json;

fn service(timeout: Duration) -> LambdaService {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_local-runtime"))
        .parent()
        .expect("binary has a directory")
        .join("examples/echo_function");
    let mut environment = BTreeMap::new();
    environment.insert("AWS_LAMBDA_FUNCTION_NAME".to_string(), "echo".to_string());
    environment.insert(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_string(),
        "128".to_string(),
    );
    environment.insert(
        "AWS_LAMBDA_FUNCTION_VERSION".to_string(),
        "$LATEST".to_string(),
    );
    let spec = FunctionSpec {
        logical_id: "EchoFunction".to_string(),
        name: "echo".to_string(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:echo".to_string(),
        binary,
        environment,
        timeout,
        memory_mb: 128,
        events: Vec::new(),
    };
    let settings = PoolSettings {
        max_workers: 16,
        log_dir: None,
    };
    LambdaService::new(vec![spec], &settings)
}

#[tokio::test]
async fn timeout_kills_worker_and_reports_sandbox_timedout() {
    let lambda = service(Duration::from_secs(1));
    let pool = lambda.find("echo").expect("function exists");
    let error = pool
        .invoke(&json!({"sleep_ms": 5000}))
        .await
        .expect_err("times out");
    assert_eq!(error.error_type, "Sandbox.Timedout");
    assert!(error
        .error_message
        .contains("Task timed out after 1.00 seconds"));
    let after = pool
        .invoke(&json!({"n": 1}))
        .await
        .expect("a new worker answers");
    assert_eq!(after["echoed"], true);
    lambda.shutdown().await;
}

#[tokio::test]
async fn crashed_worker_fails_invocation_and_is_replaced() {
    let lambda = service(Duration::from_secs(5));
    let pool = lambda
        .find("arn:aws:lambda:us-east-1:123456789012:function:echo")
        .expect("found by ARN");
    let error = pool
        .invoke(&json!({"exit": true}))
        .await
        .expect_err("crashes");
    assert_eq!(error.error_type, "Runtime.ExitError");
    let after = pool
        .invoke(&json!({"n": 2}))
        .await
        .expect("a new worker answers");
    assert_eq!(after["n"], 2);
    lambda.shutdown().await;
}

#[tokio::test]
async fn function_error_keeps_error_type() {
    let lambda = service(Duration::from_secs(5));
    let pool = lambda.find("EchoFunction").expect("found by logical id");
    let error = pool
        .invoke(&json!({"fail_with": "Provisioning.Fatal"}))
        .await
        .expect_err("fails");
    assert_eq!(error.error_type, "Provisioning.Fatal");
    lambda.shutdown().await;
}

#[tokio::test]
async fn twenty_concurrent_invocations_scale_out_workers() {
    let lambda = service(Duration::from_secs(10));
    let pool = lambda.find("echo").expect("function exists");
    let calls = (0..20).map(|_| {
        let pool = pool.clone();
        async move { pool.invoke(&json!({"sleep_ms": 300})).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut pids = HashSet::new();
    for result in &results {
        let output = result.as_ref().expect("invocation succeeds");
        pids.insert(output["pid"].as_u64().expect("pid"));
    }
    assert!(pids.len() > 1, "expected several workers, got {pids:?}");
    assert!(pids.len() <= 16, "at most 16 workers, got {}", pids.len());
    lambda.shutdown().await;
}
