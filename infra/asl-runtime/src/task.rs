//! The boundary between the interpreter and whatever runs the work of a Task state.

use async_trait::async_trait;
use serde_json::Value;

use crate::definition::{Definition, StateType};

/// One invocation of a Task state.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCall {
    /// Name of the execution, unique per state machine.
    pub execution_name: String,
    /// Name of the Task state.
    pub state_name: String,
    /// The state's `Resource`, for example `arn:aws:states:::lambda:invoke`.
    pub resource: String,
    /// The effective input: the state input after InputPath and Parameters.
    pub input: Value,
    /// 1 on the first invocation of this state entry, then 2, 3, … for each retry by any retrier.
    pub attempt: u32,
}

/// A failed task, matched by the `ErrorEquals` lists of Retry and Catch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task failed with {error}: {cause}")]
pub struct TaskFailure {
    /// Error name, for example `Provisioning.Transient`.
    pub error: String,
    /// Human-readable detail.
    pub cause: String,
}

impl TaskFailure {
    /// Creates a failure with an error name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> TaskFailure {
        TaskFailure {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// Runner of the work behind Task states, implemented by the caller of the interpreter.
#[async_trait]
pub trait TaskInvoker: Send + Sync {
    /// Runs one task and returns its result, or the failure that Retry and Catch see.
    ///
    /// When the state has TimeoutSeconds and the limit passes, the interpreter drops the returned
    /// future and raises `States.Timeout`.
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure>;
}

/// Failure injected into one Task state on every attempt, after the task ran, to exercise Retry,
/// Catch and the compensation that undoes the task's side effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultInjection {
    /// Name of the Task state whose outcome is replaced.
    pub state: String,
    /// Error name of the injected failure.
    pub error: String,
    /// Cause of the injected failure.
    pub cause: String,
}

/// A fault injection that names a state which is not a Task state of the definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "fault injection names state \"{state}\", which is not a Task state of the definition (its Task states are {})",
    task_states.join(", ")
)]
pub struct FaultInjectionError {
    /// The state named by the fault injection.
    pub state: String,
    /// The Task states of the definition, in lexical order.
    pub task_states: Vec<String>,
}

impl FaultInjection {
    /// Checks that the named state exists in `definition` and is a Task state.
    pub fn check(&self, definition: &Definition) -> Result<(), FaultInjectionError> {
        if definition.state_type(&self.state) == Some(StateType::Task) {
            return Ok(());
        }
        Err(FaultInjectionError {
            state: self.state.clone(),
            task_states: definition
                .task_state_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        })
    }
}
