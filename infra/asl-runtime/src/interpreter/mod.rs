//! Runs one execution of a definition, state by state.

mod io;
mod states;
mod task;

use std::time::Duration;

use serde_json::{json, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::definition::{Definition, State, Transition};
use crate::errors::{STATES_RUNTIME, STATES_TIMEOUT};
use crate::history::HistoryRecorder;
use crate::path::PathEvalError;
use crate::task::{FaultInjection, TaskInvoker};

/// The identifiers and input of an execution, which also fill the context object (`$$`).
#[derive(Debug, Clone)]
pub(crate) struct ExecutionIdentity {
    pub(crate) execution_arn: String,
    pub(crate) execution_name: String,
    pub(crate) state_machine_arn: String,
    pub(crate) state_machine_name: String,
    pub(crate) start_time: OffsetDateTime,
    pub(crate) input: Value,
    pub(crate) region: String,
}

/// Final result of an execution that was not stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExecutionOutcome {
    Succeeded(Value),
    Failed { error: String, cause: String },
    TimedOut { error: String, cause: String },
}

/// An error that ends the state: a Fail state, an uncaught task failure or `States.Runtime`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) error: String,
    pub(crate) cause: String,
}

impl Failure {
    pub(crate) fn runtime(cause: impl Into<String>) -> Failure {
        Failure {
            error: STATES_RUNTIME.to_owned(),
            cause: cause.into(),
        }
    }
}

impl From<PathEvalError> for Failure {
    fn from(error: PathEvalError) -> Failure {
        Failure::runtime(error.to_string())
    }
}

/// Transition taken after a state finished without failing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Next { state: String, output: Value },
    End(Value),
}

impl Step {
    fn after(transition: &Transition, output: Value) -> Step {
        match transition {
            Transition::Next(state) => Step::Next {
                state: state.clone(),
                output,
            },
            Transition::End => Step::End(output),
        }
    }
}

/// One execution in progress. The service creates it and awaits [`Interpreter::run`] on a tokio task.
pub(crate) struct Interpreter<'a> {
    pub(crate) definition: &'a Definition,
    pub(crate) invoker: &'a dyn TaskInvoker,
    pub(crate) fault: Option<&'a FaultInjection>,
    pub(crate) recorder: &'a dyn HistoryRecorder,
    pub(crate) identity: &'a ExecutionIdentity,
}

impl Interpreter<'_> {
    /// Runs the execution to its end, within the definition's TimeoutSeconds if it has one.
    pub(crate) async fn run(&self) -> ExecutionOutcome {
        let Some(seconds) = self.definition.timeout_seconds else {
            return self.run_states().await;
        };
        match tokio::time::timeout(Duration::from_secs(seconds), self.run_states()).await {
            Ok(outcome) => outcome,
            Err(_) => ExecutionOutcome::TimedOut {
                error: STATES_TIMEOUT.to_owned(),
                cause: format!("The execution ran longer than the state machine's TimeoutSeconds of {seconds} seconds."),
            },
        }
    }

    async fn run_states(&self) -> ExecutionOutcome {
        let mut state_name = self.definition.start_at.clone();
        let mut input = self.identity.input.clone();
        loop {
            let Some(state) = self.definition.states.get(&state_name) else {
                // Definition::parse checks every transition target, so this is a defect.
                return ExecutionOutcome::Failed {
                    error: STATES_RUNTIME.to_owned(),
                    cause: format!("state \"{state_name}\" is not defined"),
                };
            };
            let result = match state {
                State::Task(task) => self.run_task(&state_name, task, input).await,
                State::Choice(choice) => self.run_choice(&state_name, choice, input),
                State::Wait(wait) => self.run_wait(&state_name, wait, input).await,
                State::Pass(pass) => self.run_pass(&state_name, pass, input),
                State::Succeed(succeed) => self.run_succeed(&state_name, succeed, input),
                State::Fail(fail) => Err(self.run_fail(&state_name, fail, input)),
            };
            match result {
                Ok(Step::Next { state, output }) => {
                    state_name = state;
                    input = output;
                }
                Ok(Step::End(output)) => return ExecutionOutcome::Succeeded(output),
                Err(Failure { error, cause }) => return ExecutionOutcome::Failed { error, cause },
            }
        }
    }

    /// Builds the context object (`$$`) for a state.
    fn context(&self, state_name: &str, entered_time: OffsetDateTime, retry_count: u32) -> Value {
        let identity = self.identity;
        json!({
            "Execution": {
                "Id": identity.execution_arn,
                "Name": identity.execution_name,
                "Input": identity.input,
                "StartTime": format_timestamp(identity.start_time),
            },
            "StateMachine": {
                "Id": identity.state_machine_arn,
                "Name": identity.state_machine_name,
            },
            "State": {
                "Name": state_name,
                "EnteredTime": format_timestamp(entered_time),
                "RetryCount": retry_count,
            },
        })
    }
}

/// Formats a time as Step Functions does in the context object: UTC with milliseconds.
fn format_timestamp(time: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}
