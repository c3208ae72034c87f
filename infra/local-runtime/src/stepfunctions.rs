//! Step Functions stand-in: loads the template's state machines into `asl-runtime`, runs their Lambda
//! tasks on the local functions and serves the Step Functions JSON protocol.

use std::sync::Arc;

use asl_runtime::{
    Definition, FaultInjection, StepFunctionsService, TaskCall, TaskFailure, TaskInvoker,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::lambda_pool::LambdaService;
use crate::resolve::{scalar_to_string, ResolveError, Resolver};
use crate::resources::is_enabled;
use crate::template::Template;

/// Resource of a Task state that invokes a function through the optimized Lambda integration.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

#[derive(Debug, thiserror::Error)]
pub enum StateMachineError {
    #[error("state machine {logical_id}: failed to read definition {path}: {source}")]
    Read {
        logical_id: String,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("state machine {logical_id}: neither DefinitionUri nor Definition is set")]
    MissingDefinition { logical_id: String },
    #[error("state machine {logical_id}: {source}")]
    Resolve {
        logical_id: String,
        source: ResolveError,
    },
    #[error("state machine {logical_id}: invalid definition: {source}")]
    Definition {
        logical_id: String,
        source: Box<asl_runtime::DefinitionError>,
    },
    #[error("state machine {logical_id}: {source}")]
    Registration {
        logical_id: String,
        source: asl_runtime::RegistrationError,
    },
    #[error(transparent)]
    Condition(#[from] crate::resources::ProvisionError),
    #[error("LOCAL_FAIL_STEP={state} names no Task state; valid Task states: {valid}")]
    UnknownFailStep { state: String, valid: String },
}

/// Runs Task states on the local functions.
pub struct LambdaTaskInvoker {
    lambda: Arc<LambdaService>,
}

impl LambdaTaskInvoker {
    pub fn new(lambda: Arc<LambdaService>) -> Self {
        Self { lambda }
    }
}

fn function_failure(error_type: &str, error_message: &str) -> TaskFailure {
    TaskFailure::new(
        error_type,
        json!({ "errorMessage": error_message, "errorType": error_type }).to_string(),
    )
}

#[async_trait::async_trait]
impl TaskInvoker for LambdaTaskInvoker {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure> {
        let (function_name, payload, wrap) = if call.resource == LAMBDA_INVOKE {
            let name = call
                .input
                .get("FunctionName")
                .map(scalar_to_string)
                .unwrap_or_default();
            let payload = call.input.get("Payload").cloned().unwrap_or(json!({}));
            (name, payload, true)
        } else if call.resource.starts_with("arn:aws:lambda:") {
            (call.resource.clone(), call.input.clone(), false)
        } else {
            return Err(TaskFailure::new(
                "States.Runtime",
                format!(
                    "state {}: resource {} is not supported by the local runtime",
                    call.state_name, call.resource
                ),
            ));
        };
        let Some(pool) = self.lambda.find(&function_name) else {
            return Err(TaskFailure::new(
                "Lambda.ResourceNotFoundException",
                format!("Function not found: {function_name}"),
            ));
        };
        tracing::info!(execution = %call.execution_name, state = %call.state_name, attempt = call.attempt, function = %pool.spec.logical_id, "running task");
        match pool.invoke(&payload).await {
            Ok(output) if wrap => Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": output,
                "SdkHttpMetadata": {},
                "SdkResponseMetadata": {},
                "StatusCode": 200,
            })),
            Ok(output) => Ok(output),
            Err(error) => {
                tracing::info!(execution = %call.execution_name, state = %call.state_name, attempt = call.attempt, error_type = %error.error_type, "task failed");
                Err(function_failure(&error.error_type, &error.error_message))
            }
        }
    }
}

/// A registered state machine.
#[derive(Debug, Clone)]
pub struct RegisteredMachine {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
}

/// Loads every state machine of the template, applies `DefinitionSubstitutions` and parses it.
pub fn load_definitions(
    template: &Template,
    resolver: &Resolver,
) -> Result<Vec<(RegisteredMachine, Definition)>, StateMachineError> {
    let mut machines = Vec::new();
    for resource in template
        .resources
        .values()
        .filter(|r| r.kind == "AWS::Serverless::StateMachine")
    {
        if !is_enabled(resource, resolver)? {
            continue;
        }
        let id = resource.logical_id.clone();
        let resolve_error = |source| StateMachineError::Resolve {
            logical_id: id.clone(),
            source,
        };
        let mut text = match (
            resource.properties.get("DefinitionUri"),
            resource.properties.get("Definition"),
        ) {
            (Some(uri), _) => {
                let relative = resolver.resolve_string(uri).map_err(resolve_error)?;
                let path = template.directory.join(relative);
                std::fs::read_to_string(&path).map_err(|source| StateMachineError::Read {
                    logical_id: id.clone(),
                    path,
                    source,
                })?
            }
            (None, Some(inline)) => resolver.resolve(inline).map_err(resolve_error)?.to_string(),
            (None, None) => return Err(StateMachineError::MissingDefinition { logical_id: id }),
        };
        if let Some(substitutions) = resource.properties.get("DefinitionSubstitutions") {
            if let Value::Object(values) = resolver.resolve(substitutions).map_err(resolve_error)? {
                for (name, value) in values {
                    text = text.replace(&format!("${{{name}}}"), &scalar_to_string(&value));
                }
            }
        }
        let definition =
            Definition::parse(&text).map_err(|source| StateMachineError::Definition {
                logical_id: id.clone(),
                source: Box::new(source),
            })?;
        let physical = resolver.physical(&id).cloned().unwrap_or_default();
        machines.push((
            RegisteredMachine {
                logical_id: id,
                name: physical.attributes.get("Name").cloned().unwrap_or_default(),
                arn: physical.reference,
            },
            definition,
        ));
    }
    Ok(machines)
}

/// Builds the fault injection of `LOCAL_FAIL_STEP` after checking that some definition has that Task state.
pub fn fault_injection(
    fail_step: Option<&str>,
    definitions: &[(RegisteredMachine, Definition)],
) -> Result<Option<FaultInjection>, StateMachineError> {
    let Some(state) = fail_step else {
        return Ok(None);
    };
    let fault = FaultInjection {
        state: state.to_string(),
        error: "Provisioning.Transient".to_string(),
        cause: format!("LOCAL_FAIL_STEP injected a failure into {state}"),
    };
    if definitions.iter().any(|(_, d)| fault.check(d).is_ok()) {
        return Ok(Some(fault));
    }
    let mut valid: Vec<String> = definitions
        .iter()
        .flat_map(|(_, d)| d.task_state_names().into_iter().map(str::to_string))
        .collect();
    valid.sort();
    valid.dedup();
    Err(StateMachineError::UnknownFailStep {
        state: state.to_string(),
        valid: valid.join(", "),
    })
}

/// Creates the service and registers every loaded state machine.
pub fn build_service(
    lambda: Arc<LambdaService>,
    fault: Option<FaultInjection>,
    region: &str,
    account_id: &str,
    definitions: Vec<(RegisteredMachine, Definition)>,
) -> Result<(Arc<StepFunctionsService>, Vec<RegisteredMachine>), StateMachineError> {
    let invoker: Arc<dyn TaskInvoker> = Arc::new(LambdaTaskInvoker::new(lambda));
    let service = StepFunctionsService::new(invoker, fault, region, account_id);
    let mut machines = Vec::new();
    for (machine, definition) in definitions {
        service
            .register_state_machine(&machine.arn, &machine.name, definition)
            .map_err(|source| StateMachineError::Registration {
                logical_id: machine.logical_id.clone(),
                source,
            })?;
        tracing::info!(logical_id = %machine.logical_id, arn = %machine.arn, "state machine registered");
        machines.push(machine);
    }
    Ok((Arc::new(service), machines))
}

/// Serves the Step Functions JSON protocol (`POST /` with `X-Amz-Target`).
pub fn router(service: Arc<StepFunctionsService>) -> Router {
    Router::new()
        .route("/", post(json_protocol))
        .with_state(service)
}

async fn json_protocol(
    State(service): State<Arc<StepFunctionsService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (status, value) = asl_runtime::handle_json_request(&service, &target, &body).await;
    protocol_response(status, value)
}

fn protocol_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

/// Describes an execution by name and returns `{"execution", "history"}`, or `None` if no machine has it.
pub async fn execution_details(
    service: &StepFunctionsService,
    machines: &[RegisteredMachine],
    region: &str,
    account_id: &str,
    name: &str,
) -> Option<Value> {
    for machine in machines {
        let execution_arn = format!(
            "arn:aws:states:{region}:{account_id}:execution:{}:{name}",
            machine.name
        );
        let request = json!({ "executionArn": execution_arn }).to_string();
        let (status, execution) = asl_runtime::handle_json_request(
            service,
            "AWSStepFunctions.DescribeExecution",
            request.as_bytes(),
        )
        .await;
        if status != 200 {
            continue;
        }
        let (_, history) = asl_runtime::handle_json_request(
            service,
            "AWSStepFunctions.GetExecutionHistory",
            json!({ "executionArn": execution_arn, "maxResults": 1000 })
                .to_string()
                .as_bytes(),
        )
        .await;
        return Some(json!({
            "execution": execution,
            "history": history.get("events").cloned().unwrap_or(history),
        }));
    }
    None
}
