//! Function specifications: binary, environment, timeout and event sources of each template function.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::resolve::{scalar_to_string, ResolveError, Resolver};
use crate::resources::{is_enabled, ProvisionError};
use crate::template::{Resource, Template};

#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error("function {logical_id}: binary {path} not found; run cargo build --workspace")]
    MissingBinary { logical_id: String, path: PathBuf },
    #[error("function {logical_id}: {source}")]
    Resolve {
        logical_id: String,
        source: ResolveError,
    },
    #[error(transparent)]
    Condition(#[from] ProvisionError),
    #[error("function {logical_id}: event {event}: {reason}")]
    InvalidEvent {
        logical_id: String,
        event: String,
        reason: String,
    },
}

/// An event source of one function.
#[derive(Debug, Clone)]
pub enum EventSource {
    Http {
        method: String,
        path: String,
        api: String,
        authorizer: Option<String>,
    },
    Sqs {
        queue_arn: String,
        batch_size: u32,
        report_batch_item_failures: bool,
    },
    Schedule {
        event_name: String,
        expression: String,
        enabled: bool,
    },
}

#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    pub binary: PathBuf,
    /// Complete environment of a worker process, except the per-worker Runtime API address.
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub events: Vec<(String, EventSource)>,
}

/// Values the runtime adds to every function's environment.
#[derive(Debug, Clone)]
pub struct RuntimeEnvironment {
    pub moto_endpoint: String,
    pub sfn_endpoint: String,
    pub region: String,
}

/// Builds the spec of every `AWS::Serverless::Function` that names its binary in `Metadata.BuildProperties.Binary`.
pub fn function_specs(
    template: &Template,
    resolver: &Resolver,
    functions_dir: &Path,
    runtime: &RuntimeEnvironment,
    host_environment: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<FunctionSpec>, FunctionError> {
    let globals = template
        .globals
        .get("Function")
        .cloned()
        .unwrap_or(Value::Null);
    let mut specs = Vec::new();
    for resource in template.resources_of("AWS::Serverless::Function") {
        if !is_enabled(resource, resolver)? {
            continue;
        }
        let Some(binary_name) = resource
            .metadata
            .get("BuildProperties")
            .and_then(|p| p.get("Binary"))
            .and_then(Value::as_str)
        else {
            tracing::warn!(
                logical_id = %resource.logical_id,
                "function has no Metadata.BuildProperties.Binary; it is not run locally"
            );
            continue;
        };
        let binary = functions_dir.join(binary_name);
        if !binary.is_file() {
            return Err(FunctionError::MissingBinary {
                logical_id: resource.logical_id.clone(),
                path: binary,
            });
        }
        specs.push(function_spec(
            resource,
            &globals,
            resolver,
            binary,
            runtime,
            host_environment,
        )?);
    }
    Ok(specs)
}

fn function_spec(
    resource: &Resource,
    globals: &Value,
    resolver: &Resolver,
    binary: PathBuf,
    runtime: &RuntimeEnvironment,
    host_environment: &dyn Fn(&str) -> Option<String>,
) -> Result<FunctionSpec, FunctionError> {
    let id = resource.logical_id.clone();
    let resolve = |value: &Value| {
        resolver
            .resolve(value)
            .map_err(|source| FunctionError::Resolve {
                logical_id: id.clone(),
                source,
            })
    };
    let physical = resolver.physical(&id).cloned().unwrap_or_default();
    let name = physical.reference.clone();
    let arn = physical.attributes.get("Arn").cloned().unwrap_or_default();

    let mut declared = Map::new();
    for source in [globals, &resource.properties] {
        if let Some(Value::Object(variables)) =
            source.get("Environment").and_then(|e| e.get("Variables"))
        {
            for (key, value) in variables {
                declared.insert(key.clone(), value.clone());
            }
        }
    }
    let mut environment = BTreeMap::new();
    for (key, value) in &declared {
        let text = match host_environment(key) {
            Some(overridden) => overridden,
            None => scalar_to_string(&resolve(value)?),
        };
        environment.insert(key.clone(), text);
    }
    for key in ["RUST_LOG", "RUST_BACKTRACE", "PATH", "HOME", "TZ"] {
        if !environment.contains_key(key) {
            if let Some(value) = host_environment(key) {
                environment.insert(key.to_string(), value);
            }
        }
    }

    let number = |field: &str, default: u64| -> Result<u64, FunctionError> {
        let value = resource
            .properties
            .get(field)
            .or_else(|| globals.get(field));
        match value {
            Some(v) => Ok(scalar_to_string(&resolve(v)?).parse().unwrap_or(default)),
            None => Ok(default),
        }
    };
    let timeout_seconds = number("Timeout", 3)?;
    let memory_mb = number("MemorySize", 128)?;

    let fixed = [
        ("AWS_ENDPOINT_URL", runtime.moto_endpoint.clone()),
        ("AWS_ENDPOINT_URL_SFN", runtime.sfn_endpoint.clone()),
        ("AWS_REGION", runtime.region.clone()),
        ("AWS_DEFAULT_REGION", runtime.region.clone()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("_HANDLER", "bootstrap".to_string()),
    ];
    for (key, value) in fixed {
        environment.insert(key.to_string(), value);
    }

    let mut events = Vec::new();
    if let Some(Value::Object(declared_events)) = resource.properties.get("Events") {
        for (event_name, event) in declared_events {
            if let Some(source) = event_source(&id, event_name, event, resolver)? {
                events.push((event_name.clone(), source));
            }
        }
    }

    Ok(FunctionSpec {
        logical_id: id,
        name,
        arn,
        binary,
        environment,
        timeout: Duration::from_secs(timeout_seconds),
        memory_mb: u32::try_from(memory_mb).unwrap_or(128),
        events,
    })
}

fn event_source(
    logical_id: &str,
    event_name: &str,
    event: &Value,
    resolver: &Resolver,
) -> Result<Option<EventSource>, FunctionError> {
    let kind = event
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let properties = resolver
        .resolve(event.get("Properties").unwrap_or(&Value::Null))
        .map_err(|source| FunctionError::Resolve {
            logical_id: logical_id.to_string(),
            source,
        })?;
    let text = |field: &str| properties.get(field).map(scalar_to_string);
    let invalid = |reason: &str| FunctionError::InvalidEvent {
        logical_id: logical_id.to_string(),
        event: event_name.to_string(),
        reason: reason.to_string(),
    };
    let source = match kind {
        "HttpApi" => {
            let authorizer = properties
                .get("Auth")
                .and_then(|a| a.get("Authorizer"))
                .map(scalar_to_string);
            let api = match event
                .get("Properties")
                .and_then(|p| p.get("ApiId"))
                .and_then(|a| a.get("Ref"))
            {
                Some(Value::String(api)) => api.clone(),
                _ => "ServerlessHttpApi".to_string(),
            };
            EventSource::Http {
                method: text("Method").unwrap_or_else(|| "ANY".to_string()),
                path: text("Path").unwrap_or_else(|| "$default".to_string()),
                api,
                authorizer,
            }
        }
        "SQS" => EventSource::Sqs {
            queue_arn: text("Queue").ok_or_else(|| invalid("Queue is missing"))?,
            batch_size: text("BatchSize").and_then(|b| b.parse().ok()).unwrap_or(10),
            report_batch_item_failures: properties
                .get("FunctionResponseTypes")
                .and_then(Value::as_array)
                .is_some_and(|types| {
                    types
                        .iter()
                        .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
                }),
        },
        "Schedule" | "ScheduleV2" => {
            let expression = text("Schedule")
                .or_else(|| text("ScheduleExpression"))
                .ok_or_else(|| invalid("Schedule expression is missing"))?;
            let enabled = match (text("Enabled"), text("State")) {
                (Some(enabled), _) => enabled != "false",
                (None, Some(state)) => state != "DISABLED",
                (None, None) => true,
            };
            EventSource::Schedule {
                event_name: event_name.to_string(),
                expression,
                enabled,
            }
        }
        other => {
            tracing::debug!(
                logical_id,
                event = event_name,
                kind = other,
                "event type is not run locally"
            );
            return Ok(None);
        }
    };
    Ok(Some(source))
}
