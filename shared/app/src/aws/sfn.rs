//! Starts and inspects executions of the provisioning state machine.

use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sfn::Client;

use super::service_error;
use crate::error::ServiceError;

#[derive(Clone)]
pub struct Workflow {
    client: Client,
    state_machine_arn: String,
}

/// State of an execution, as far as the watchdog needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionState {
    Running,
    Succeeded,
    /// Failed, timed out or aborted.
    Ended(String),
    NotFound,
}

impl Workflow {
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// Starts the execution `name` with ids-only input and returns its ARN. Starting a name that
    /// already ran returns that execution's ARN, so a retried request starts nothing new.
    pub async fn start(
        &self,
        name: &str,
        input: &serde_json::Value,
    ) -> Result<String, ServiceError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.execution_arn),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                Ok(self.execution_arn(name))
            }
            Err(error) => Err(service_error("StepFunctions", "StartExecution", error)),
        }
    }

    /// Returns the ARN of the execution named `name` of this state machine.
    pub fn execution_arn(&self, name: &str) -> String {
        let base = self
            .state_machine_arn
            .replacen(":stateMachine:", ":execution:", 1);
        format!("{base}:{name}")
    }

    pub async fn describe(&self, execution_arn: &str) -> Result<ExecutionState, ServiceError> {
        match self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
        {
            Ok(output) => Ok(match output.status {
                ExecutionStatus::Running => ExecutionState::Running,
                ExecutionStatus::Succeeded => ExecutionState::Succeeded,
                other => ExecutionState::Ended(other.as_str().to_owned()),
            }),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                Ok(ExecutionState::NotFound)
            }
            Err(error) => Err(service_error("StepFunctions", "DescribeExecution", error)),
        }
    }

    pub async fn stop(&self, execution_arn: &str, cause: &str) -> Result<(), ServiceError> {
        self.client
            .stop_execution()
            .execution_arn(execution_arn)
            .error("Watchdog.Stopped")
            .cause(cause)
            .send()
            .await
            .map_err(|e| service_error("StepFunctions", "StopExecution", e))?;
        Ok(())
    }
}
