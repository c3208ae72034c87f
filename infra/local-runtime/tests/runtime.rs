//! End-to-end tests of the local runtime: a real moto server, the `local-runtime` binary and the
//! `echo_function` example as the function binary of every template function.
//!
//! moto comes from `.venv/bin/moto_server` at the workspace root
//! (`python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.5'`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds an ephemeral port");
    listener.local_addr().expect("has an address").port()
}

fn examples_dir() -> PathBuf {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_local-runtime"));
    binary
        .parent()
        .expect("binary has a directory")
        .join("examples")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("builds a client")
}

fn terminate(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: signals a process this test started and still owns.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A moto server and a local runtime, both stopped on drop.
struct Harness {
    moto: Child,
    runtime: Option<Child>,
    api: String,
    log: PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.as_mut() {
            terminate(runtime);
        }
        terminate(&mut self.moto);
    }
}

impl Harness {
    async fn start_moto() -> (Child, u16) {
        let moto_server = workspace_root().join(".venv/bin/moto_server");
        assert!(
            moto_server.exists(),
            "{} is missing; create it with: python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.5'",
            moto_server.display()
        );
        let port = free_port();
        let moto = Command::new(moto_server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts moto");
        (moto, port)
    }

    fn spawn_runtime(
        template: &str,
        moto_port: u16,
        api_port: u16,
        environment: &[(&str, &str)],
    ) -> (Child, PathBuf) {
        let log = std::env::temp_dir().join(format!("local-runtime-test-{api_port}.log"));
        let log_file = std::fs::File::create(&log).expect("creates the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_local-runtime"));
        command
            .env("LOCAL_API_PORT", api_port.to_string())
            .env("LOCAL_AWS_PORT", moto_port.to_string())
            .env("LOCAL_TEMPLATE", fixtures().join(template))
            .env("LOCAL_FUNCTIONS_DIR", examples_dir())
            .env("LOCAL_STACK_NAME", "test")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        for (key, value) in environment {
            command.env(key, value);
        }
        (command.spawn().expect("starts the local runtime"), log)
    }

    async fn start(environment: &[(&str, &str)]) -> Harness {
        let (moto, moto_port) = Self::start_moto().await;
        let api_port = free_port();
        let (runtime, log) = Self::spawn_runtime("echo.yaml", moto_port, api_port, environment);
        let mut harness = Harness {
            moto,
            runtime: Some(runtime),
            api: format!("http://127.0.0.1:{api_port}"),
            log,
        };
        harness.wait_ready().await;
        harness
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(response) = client()
                .get(format!("{}/_local/health", self.api))
                .send()
                .await
            {
                if response.status() == 200 {
                    return;
                }
            }
            if let Some(runtime) = self.runtime.as_mut() {
                if let Ok(Some(status)) = runtime.try_wait() {
                    panic!("runtime exited with {status}: {}", self.log_text());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("runtime not ready after 60 s: {}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    async fn get_json(&self, path: &str) -> Value {
        client()
            .get(self.url(path))
            .send()
            .await
            .expect("request succeeds")
            .json()
            .await
            .expect("JSON body")
    }

    async fn token(&self, roles: &[&str], ttl_seconds: i64) -> String {
        let response: Value = client()
            .post(self.url("/_local/tokens"))
            .json(&json!({"sub": "admin-1", "roles": roles, "ttl_seconds": ttl_seconds}))
            .send()
            .await
            .expect("token request succeeds")
            .json()
            .await
            .expect("JSON body");
        response["token"].as_str().expect("token field").to_string()
    }

    /// Calls the Step Functions endpoint the runtime passes to functions.
    async fn sfn(&self, target: &str, body: Value) -> (u16, Value) {
        let resources = self.get_json("/_local/resources").await;
        let endpoint = resources["stepfunctions_endpoint"]
            .as_str()
            .expect("endpoint")
            .to_string();
        let response = client()
            .post(format!("{endpoint}/"))
            .header("X-Amz-Target", format!("AWSStepFunctions.{target}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .body(body.to_string())
            .send()
            .await
            .expect("request succeeds");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    async fn run_execution(&self, name: &str) -> Value {
        let resources = self.get_json("/_local/resources").await;
        let machine = resources["state_machines"]["Machine"]
            .as_str()
            .expect("machine arn")
            .to_string();
        let (status, started) = self
            .sfn(
                "StartExecution",
                json!({"stateMachineArn": machine, "name": name, "input": "{\"tenant_id\":\"tnt_1\"}"}),
            )
            .await;
        assert_eq!(status, 200, "StartExecution failed: {started}");
        let arn = started["executionArn"]
            .as_str()
            .expect("execution arn")
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, described) = self
                .sfn("DescribeExecution", json!({"executionArn": arn}))
                .await;
            if described["status"] != "RUNNING" {
                return described;
            }
            assert!(
                Instant::now() < deadline,
                "execution still running: {described}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn event_of(body: &str) -> Value {
    serde_json::from_str(body).expect("echoed event is JSON")
}

#[tokio::test]
async fn routes_match_and_build_payload_version_two() {
    let harness = Harness::start(&[("LOCAL_TRUST_FORWARDED_FOR", "1")]).await;
    let response = client()
        .get(harness.url("/items/abc%20d?x=1&x=2&y=z"))
        .header("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
        .header("Cookie", "a=1; b=2")
        .header("User-Agent", "runtime-test")
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-echo"], "yes");
    let event = event_of(&response.text().await.expect("body"));
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /items/{id}");
    assert_eq!(event["rawPath"], "/items/abc%20d");
    assert_eq!(event["rawQueryString"], "x=1&x=2&y=z");
    assert_eq!(event["pathParameters"]["id"], "abc d");
    assert_eq!(event["queryStringParameters"]["x"], "1,2");
    assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
    assert_eq!(event["headers"]["user-agent"], "runtime-test");
    assert_eq!(event["requestContext"]["http"]["sourceIp"], "203.0.113.7");
    assert_eq!(event["requestContext"]["http"]["method"], "GET");
    assert_eq!(event["requestContext"]["stage"], "$default");
    assert_eq!(event["requestContext"]["accountId"], "123456789012");
    assert!(event["requestContext"]["timeEpoch"].as_i64().is_some());

    let proxy = client()
        .delete(harness.url("/files/a/b/c.txt"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(proxy.status(), 200);
    let event = event_of(&proxy.text().await.expect("body"));
    assert_eq!(event["pathParameters"]["proxy"], "a/b/c.txt");
    assert_eq!(event["routeKey"], "ANY /files/{proxy+}");

    let missing = client()
        .get(harness.url("/nothing/here"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(missing.status(), 404);

    let post_on_get_only = client()
        .put(harness.url("/items/1"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(post_on_get_only.status(), 404);

    let head = client()
        .head(harness.url("/items/1"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(head.status(), 200);
    let head_on_list = client()
        .head(harness.url("/items"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(head_on_list.status(), 404);
}

#[tokio::test]
async fn bodies_are_base64_unless_text() {
    let harness = Harness::start(&[]).await;
    let json_body = client()
        .post(harness.url("/items"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("request succeeds");
    let event = event_of(&json_body.text().await.expect("body"));
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["body"], "{\"name\":\"x\"}");

    let binary = client()
        .post(harness.url("/items"))
        .header("Content-Type", "application/octet-stream")
        .body(vec![0u8, 1, 2])
        .send()
        .await
        .expect("request succeeds");
    let event = event_of(&binary.text().await.expect("body"));
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["body"], "AAEC");

    let response = client()
        .get(harness.url("/binary"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(response.status(), 200);
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cookies, vec!["a=1", "b=2"]);
    assert_eq!(
        response.bytes().await.expect("body").to_vec(),
        vec![0u8, 1, 2]
    );
}

#[tokio::test]
async fn cors_headers_appear_on_errors_and_preflight() {
    let harness = Harness::start(&[]).await;
    let origin = "https://app.example.com";
    let failed = client()
        .get(harness.url("/fail"))
        .header("Origin", origin)
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(failed.status(), 502);
    assert_eq!(failed.headers()["access-control-allow-origin"], origin);
    assert_eq!(
        failed.json::<Value>().await.expect("JSON"),
        json!({"message": "Internal Server Error"})
    );

    let missing = client()
        .get(harness.url("/nope"))
        .header("Origin", origin)
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["access-control-allow-origin"], origin);

    let unauthorized = client()
        .get(harness.url("/admin/things/1"))
        .header("Origin", origin)
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(
        unauthorized.headers()["access-control-allow-origin"],
        origin
    );

    let preflight = client()
        .request(reqwest::Method::OPTIONS, harness.url("/items"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], origin);
    assert_eq!(
        preflight.headers()["access-control-allow-methods"],
        "GET,POST,OPTIONS"
    );
    assert_eq!(preflight.headers()["access-control-max-age"], "600");

    let other_origin = client()
        .get(harness.url("/items/1"))
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .expect("request succeeds");
    assert!(other_origin
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn jwt_authorizer_rejects_and_passes_claims() {
    let harness = Harness::start(&[]).await;
    let without = client()
        .get(harness.url("/admin/things/7"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(without.status(), 401);
    assert_eq!(
        without.json::<Value>().await.expect("JSON"),
        json!({"message": "Unauthorized"})
    );

    let expired = harness.token(&["platform_admin"], -5).await;
    let response = client()
        .get(harness.url("/admin/things/7"))
        .bearer_auth(expired)
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(response.status(), 401);

    let garbage = client()
        .get(harness.url("/admin/things/7"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(garbage.status(), 401);

    let token = harness.token(&["platform_admin", "support"], 600).await;
    let response = client()
        .get(harness.url("/admin/things/7"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(response.status(), 200);
    let event = event_of(&response.text().await.expect("body"));
    let claims = &event["requestContext"]["authorizer"]["jwt"]["claims"];
    assert_eq!(claims["sub"], "admin-1");
    assert_eq!(claims["roles"], "[platform_admin support]");
    assert_eq!(claims["aud"], "onboarding-test");
    assert!(claims["exp"].is_string());
    assert_eq!(claims["iss"], harness.url("/_local"));
}

#[tokio::test]
async fn sqs_partial_batch_failure_keeps_only_failed_message() {
    let harness = Harness::start(&[]).await;
    let resources = harness.get_json("/_local/resources").await;
    let queue_url = resources["queues"]["Queue"]
        .as_str()
        .expect("queue url")
        .to_string();
    let moto = resources["moto_endpoint"]
        .as_str()
        .expect("moto endpoint")
        .to_string();
    let sqs = |action: &str, body: Value| {
        client()
            .post(format!("{moto}/"))
            .header("X-Amz-Target", format!("AmazonSQS.{action}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0")
            .body(body.to_string())
            .send()
    };
    for body in ["ok-1", "please fail", "ok-2"] {
        let sent = sqs(
            "SendMessage",
            json!({"QueueUrl": queue_url, "MessageBody": body}),
        )
        .await
        .expect("sends");
        assert_eq!(sent.status(), 200);
    }
    // The poller deletes the two good messages; the failed one returns after the 2 s visibility timeout.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut remaining = Value::Null;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let attributes: Value = sqs(
            "GetQueueAttributes",
            json!({"QueueUrl": queue_url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
        )
        .await
        .expect("reads attributes")
        .json()
        .await
        .expect("JSON");
        let visible: u64 = attributes["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        let hidden: u64 = attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
            .as_str()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        remaining = attributes;
        if visible + hidden == 1 {
            break;
        }
    }
    let visible: u64 = remaining["Attributes"]["ApproximateNumberOfMessages"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let hidden: u64 = remaining["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    assert_eq!(
        visible + hidden,
        1,
        "queue should keep only the failed message: {remaining}"
    );
}

#[tokio::test]
async fn schedule_run_endpoint_invokes_function() {
    let harness = Harness::start(&[]).await;
    let response = client()
        .post(harness.url("/_local/schedules/EchoFunction/run"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["output"]["scheduled"], true);
    assert!(body["output"]["resources"][0]
        .as_str()
        .expect("rule arn")
        .starts_with("arn:aws:events:us-east-1:123456789012:rule/"));

    let unknown = client()
        .post(harness.url("/_local/schedules/SlowFunction/run"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn trusted_time_header_sets_request_time() {
    let harness = Harness::start(&[("LOCAL_TRUST_TIME_HEADER", "1")]).await;
    let response = client()
        .get(harness.url("/items/1"))
        .header("X-Local-Time", "2026-12-04T21:40:23.250+02:00")
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(response.status(), 200);
    let event = event_of(&response.text().await.expect("body"));
    assert_eq!(event["requestContext"]["timeEpoch"], 1_796_413_223_250_i64);
    assert_eq!(
        event["requestContext"]["time"],
        "04/Dec/2026:19:40:23 +0000"
    );
    assert!(
        event["headers"].get("x-local-time").is_none(),
        "headers: {}",
        event["headers"]
    );

    let without_header = client()
        .get(harness.url("/items/1"))
        .send()
        .await
        .expect("request succeeds");
    let event = event_of(&without_header.text().await.expect("body"));
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("fits i64");
    let epoch = event["requestContext"]["timeEpoch"]
        .as_i64()
        .expect("timeEpoch");
    assert!(
        (now_ms - epoch).abs() < 60_000,
        "timeEpoch {epoch}, now {now_ms}"
    );

    let origin = "https://app.example.com";
    let malformed = client()
        .get(harness.url("/items/1"))
        .header("X-Local-Time", "04/Dec/2026:19:40:23 +0000")
        .header("Origin", origin)
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.headers()["access-control-allow-origin"], origin);
    let body: Value = malformed.json().await.expect("JSON");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("x-local-time"), "message: {message}");
    assert!(message.contains("RFC 3339"), "message: {message}");
    assert!(
        message.contains("2026-12-04T19:40:23Z"),
        "message: {message}"
    );

    let repeated = client()
        .get(harness.url("/items/1"))
        .header("X-Local-Time", "2026-12-04T19:40:23Z")
        .header("X-Local-Time", "2026-12-05T19:40:23Z")
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(repeated.status(), 400);
}

#[tokio::test]
async fn untrusted_time_header_passes_through() {
    let harness = Harness::start(&[]).await;
    let response = client()
        .get(harness.url("/items/1"))
        .header("X-Local-Time", "not a time")
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(response.status(), 200);
    let event = event_of(&response.text().await.expect("body"));
    assert_eq!(event["headers"]["x-local-time"], "not a time");
    assert_ne!(
        event["requestContext"]["time"],
        "04/Dec/2026:19:40:23 +0000"
    );
}

#[tokio::test]
async fn schedule_run_takes_event_time_from_body() {
    let harness = Harness::start(&[]).await;
    let run = |body: Option<&str>| {
        let mut request = client().post(harness.url("/_local/schedules/EchoFunction/run"));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        request.send()
    };

    let response = run(Some(r#"{"time": "2026-12-04T21:40:23.250+02:00"}"#))
        .await
        .expect("request succeeds");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["output"]["time"], "2026-12-04T19:40:23Z");

    let response = run(None).await.expect("request succeeds");
    let body: Value = response.json().await.expect("JSON");
    let time = body["output"]["time"].as_str().expect("time");
    assert_eq!(time.len(), "2026-12-04T19:40:23Z".len(), "time: {time}");
    assert!(time.ends_with('Z'), "time: {time}");
    assert!(!time.starts_with("2026-12-04T19:40:23"), "time: {time}");

    let rejected = [
        (r#"{"time": "2026-12-04"}"#, "invalid time field"),
        (r#"{"time": "yesterday"}"#, "invalid time field"),
        (r#"{"time": 1796413223}"#, "invalid time field"),
        (
            r#"{"when": "2026-12-04T19:40:23Z"}"#,
            "unknown field \"when\"",
        ),
        ("2026-12-04T19:40:23Z", "invalid request body"),
    ];
    for (bad, expected) in rejected {
        let response = run(Some(bad)).await.expect("request succeeds");
        assert_eq!(response.status(), 400, "body {bad}");
        let body: Value = response.json().await.expect("JSON");
        let message = body["message"].as_str().expect("message");
        assert!(message.starts_with(expected), "body {bad}: {message}");
    }
}

#[tokio::test]
async fn state_machine_runs_tasks_on_child_process() {
    let harness = Harness::start(&[]).await;
    let described = harness.run_execution("tnt_1-1").await;
    assert_eq!(described["status"], "SUCCEEDED", "execution: {described}");
    let output: Value =
        serde_json::from_str(described["output"].as_str().expect("output")).expect("JSON output");
    assert_eq!(output["first"]["result"]["step"], "first");
    assert_eq!(output["second"]["result"]["tenant_id"], "tnt_1");
    assert_eq!(output["second"]["result"]["echoed"], true);

    let details = harness.get_json("/_local/executions/tnt_1-1").await;
    assert_eq!(details["execution"]["status"], "SUCCEEDED");
    assert!(details["history"]
        .as_array()
        .is_some_and(|events| !events.is_empty()));

    let resources = harness.get_json("/_local/resources").await;
    assert!(resources["tables"]["Table"]
        .as_str()
        .is_some_and(|t| t == "test-Table"));
    assert!(resources["aliases"]["KeyAlias"]
        .as_str()
        .is_some_and(|a| a == "alias/test-data"));
    assert!(resources["resources"].get("ProdOnlyQueue").is_none());
}

#[tokio::test]
async fn fail_step_injects_transient_failure() {
    let harness = Harness::start(&[("LOCAL_FAIL_STEP", "Second")]).await;
    let described = harness.run_execution("tnt_1-2").await;
    assert_eq!(described["status"], "FAILED", "execution: {described}");
    let details = harness.get_json("/_local/executions/tnt_1-2").await;
    let history = details["history"].to_string();
    assert!(
        history.contains("Provisioning.Transient"),
        "history: {history}"
    );
    assert!(
        history.contains("LOCAL_FAIL_STEP injected a failure into Second"),
        "history: {history}"
    );
}

async fn expect_start_failure(template: &str, environment: &[(&str, &str)]) -> String {
    let (mut moto, moto_port) = Harness::start_moto().await;
    let api_port = free_port();
    let (mut runtime, log) = Harness::spawn_runtime(template, moto_port, api_port, environment);
    let started = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = runtime.try_wait() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(60) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    terminate(&mut runtime);
    terminate(&mut moto);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        status.is_some_and(|s| !s.success()),
        "runtime should exit with an error: {text}"
    );
    text
}

#[tokio::test]
async fn unsupported_definition_stops_start_naming_state_and_field() {
    let log = expect_start_failure("unsupported.yaml", &[]).await;
    assert!(log.contains("Second"), "log: {log}");
    assert!(log.contains("HeartbeatSeconds"), "log: {log}");
}

#[tokio::test]
async fn unknown_fail_step_lists_task_states() {
    let log = expect_start_failure("echo.yaml", &[("LOCAL_FAIL_STEP", "Nope")]).await;
    assert!(log.contains("Nope"), "log: {log}");
    assert!(log.contains("First, Second"), "log: {log}");
}

#[tokio::test]
async fn missing_binary_stops_start_with_build_hint() {
    let log = expect_start_failure("echo.yaml", &[("LOCAL_FUNCTIONS_DIR", "/nonexistent")]).await;
    assert!(
        log.contains("binary /nonexistent/echo_function not found; run cargo build --workspace"),
        "log: {log}"
    );
}

#[tokio::test]
async fn worker_pool_handles_twenty_concurrent_invocations() {
    let harness = Harness::start(&[]).await;
    let started = Instant::now();
    let requests = (0..20).map(|i| {
        let url = harness.url(&format!("/items/{i}"));
        async move { client().get(url).send().await.map(|r| r.status().as_u16()) }
    });
    let statuses = futures::future::join_all(requests).await;
    for status in &statuses {
        assert_eq!(status.as_ref().ok(), Some(&200), "statuses: {statuses:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn mailbox_lists_sent_email() {
    let harness = Harness::start(&[]).await;
    let resources = harness.get_json("/_local/resources").await;
    let moto = resources["moto_endpoint"]
        .as_str()
        .expect("moto endpoint")
        .to_string();
    let sent = client()
        .post(format!("{moto}/v2/email/outbound-emails"))
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0")
        .header("Content-Type", "application/json")
        .body(
            json!({
                "FromEmailAddress": "no-reply@onboarding.local",
                "Destination": {"ToAddresses": ["owner@example.com"]},
                "Content": {"Simple": {"Subject": {"Data": "Verify"}, "Body": {"Text": {"Data": "t"}, "Html": {"Data": "<p>Click</p>"}}}}
            })
            .to_string(),
        )
        .send()
        .await
        .expect("sends");
    assert_eq!(
        sent.status(),
        200,
        "local default SenderEmail must be verified"
    );
    let mailbox = harness.get_json("/_local/mailbox").await;
    assert_eq!(mailbox[0]["to"], json!(["owner@example.com"]));
    assert_eq!(mailbox[0]["subject"], "Verify");
    assert_eq!(mailbox[0]["html"], "<p>Click</p>");
    assert_eq!(mailbox[0]["text"], "Click");
    assert!(mailbox[0]["sent_at"].is_string());
}
