use std::time::Duration;

use crate::task::FaultInjectionError;

/// A rejected Step Functions API call. Each variant is one AWS error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("Execution Already Exists: '{execution_arn}'")]
    ExecutionAlreadyExists { execution_arn: String },
    #[error("Execution Does Not Exist: '{execution_arn}'")]
    ExecutionDoesNotExist { execution_arn: String },
    #[error("State Machine Does Not Exist: '{state_machine_arn}'")]
    StateMachineDoesNotExist { state_machine_arn: String },
    #[error("Invalid Name: '{name}': {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("Invalid State Machine Execution Input: {reason}")]
    InvalidExecutionInput { reason: String },
    #[error("Invalid Arn: '{arn}': {reason}")]
    InvalidArn { arn: String, reason: &'static str },
}

impl ServiceError {
    /// Returns the error code that the AWS JSON protocol puts in `__type`.
    pub fn error_code(&self) -> &'static str {
        match self {
            ServiceError::ExecutionAlreadyExists { .. } => "ExecutionAlreadyExists",
            ServiceError::ExecutionDoesNotExist { .. } => "ExecutionDoesNotExist",
            ServiceError::StateMachineDoesNotExist { .. } => "StateMachineDoesNotExist",
            ServiceError::InvalidName { .. } => "InvalidName",
            ServiceError::InvalidExecutionInput { .. } => "InvalidExecutionInput",
            ServiceError::InvalidArn { .. } => "InvalidArn",
        }
    }
}

/// A state machine that could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    InvalidArn(ServiceError),
    #[error(transparent)]
    InvalidName(ServiceError),
    #[error(transparent)]
    FaultInjection(#[from] FaultInjectionError),
}

/// An execution that could not be awaited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("execution {execution_arn} was still running after {timeout:?}")]
    TimedOut {
        execution_arn: String,
        timeout: Duration,
    },
}
