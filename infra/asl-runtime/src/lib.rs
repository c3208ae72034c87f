//! An async interpreter for the subset of the Amazon States Language that the provisioning state
//! machine uses, and an in-memory Step Functions service that runs it and serves the AWS JSON 1.0
//! protocol.
//!
//! The `asl` crate (0.2.0) was not used because it runs executions synchronously through an
//! iterator and implements neither Retry nor TimeoutSeconds.
//!
//! # Supported subset
//!
//! - State types Task, Choice, Wait, Pass, Succeed and Fail. Map, Parallel, intrinsic functions,
//!   JSONata and fields such as HeartbeatSeconds are rejected by [`Definition::parse`] with a
//!   message that names the state and the field.
//! - JSONPath `$`, `$.a.b`, `$.a[0]`, `$['a b']` and the context object (`$$.Execution.Id`,
//!   `$$.Execution.Name`, `$$.Execution.Input`, `$$.Execution.StartTime`, `$$.StateMachine.Id`,
//!   `$$.StateMachine.Name`, `$$.State.Name`, `$$.State.EnteredTime`, `$$.State.RetryCount`).
//! - Retry and Catch with the predefined names `States.ALL`, `States.TaskFailed`,
//!   `States.Timeout` and `States.Runtime`. Path errors raise `States.Runtime`, which fails the
//!   execution and which no Retry or Catch handles.
//!
//! All waiting goes through `tokio::time`, so tests can run with `tokio::time::pause()`.
//!
//! # Example
//!
//! ```no_run
//! # async fn example(invoker: std::sync::Arc<dyn asl_runtime::TaskInvoker>) -> Result<(), Box<dyn std::error::Error>> {
//! use asl_runtime::{Definition, StepFunctionsService};
//!
//! let definition = Definition::parse(&std::fs::read_to_string("provisioning.asl.json")?)?;
//! let service = StepFunctionsService::new(invoker, None, "us-east-1", "123456789012");
//! let arn = service.state_machine_arn("Provisioning");
//! service.register_state_machine(&arn, "Provisioning", definition)?;
//! let started = service.start_execution(&arn, Some("tnt_1-1".into()), r#"{"tenant_id":"tnt_1","attempt":1}"#.into())?;
//! let finished = service
//!     .wait_for_completion(&started.execution_arn, std::time::Duration::from_secs(60))
//!     .await?;
//! println!("{}", finished.status);
//! # Ok(())
//! # }
//! ```

mod definition;
mod errors;
mod history;
mod interpreter;
mod path;
mod protocol;
mod service;
mod task;
mod template;

pub use definition::{Definition, DefinitionError, Location, StateType};
pub use errors::{
    STATES_ALL, STATES_NO_CHOICE_MATCHED, STATES_RUNTIME, STATES_TASK_FAILED, STATES_TIMEOUT,
};
pub use history::{EventDetails, HistoryEvent};
pub use path::PathError;
pub use protocol::handle_json_request;
pub use service::{
    ExecutionDescription, ExecutionStatus, RegistrationError, ServiceError, StartedExecution,
    StepFunctionsService, UnknownStatus, WaitError,
};
pub use task::{FaultInjection, FaultInjectionError, TaskCall, TaskFailure, TaskInvoker};
pub use template::TemplateError;
