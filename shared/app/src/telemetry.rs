//! Structured JSON logs through `tracing`, set up once per process.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs a JSON subscriber filtered by `RUST_LOG` (default `info`). Safe to call twice.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(true)
        .try_init();
}

/// Formats an error with its whole cause chain on one line, for one log entry per caught error.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Emits one CloudWatch metric in Embedded Metric Format (namespace `TenantOnboarding`,
/// dimension `Service`), which Lambda's log delivery turns into a metric without an API call.
pub fn emit_metric(name: &str, value: f64) {
    let service = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let mut record = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "TenantOnboarding",
                "Dimensions": [["Service"]],
                "Metrics": [{ "Name": name, "Unit": "Count" }],
            }],
        },
        "Service": service,
    });
    record[name] = serde_json::json!(value);
    // EMF records are read from stdout as they are, so they bypass the tracing formatter.
    println!("{record}");
}
