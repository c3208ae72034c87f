//! The Task state: invocation, TimeoutSeconds, fault injection, Retry and Catch.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::io::{merge_result, select};
use super::{Failure, Interpreter, Step};
use crate::definition::{StateType, TaskState};
use crate::errors::{error_matches, STATES_TIMEOUT};
use crate::history::EventDetails;
use crate::task::{TaskCall, TaskFailure};

impl Interpreter<'_> {
    pub(super) async fn run_task(
        &self,
        name: &str,
        task: &TaskState,
        input: Value,
    ) -> Result<Step, Failure> {
        self.enter(StateType::Task, name, &input);
        let entered_time = OffsetDateTime::now_utc();
        let effective = select(
            task.io.input_path.as_ref(),
            &input,
            &self.context(name, entered_time, 0),
        )?;

        // Each retrier counts its own retries; RetryCount in the context object counts them all.
        let mut retries_per_retrier = vec![0_u32; task.retry.len()];
        let mut retry_count = 0_u32;
        loop {
            let context = self.context(name, entered_time, retry_count);
            let parameters = match &task.parameters {
                Some(template) => template.evaluate(&effective, &context)?,
                None => effective.clone(),
            };

            let failure = match self.invoke(name, task, parameters, retry_count + 1).await {
                Ok(result) => {
                    let selected = match &task.result_selector {
                        Some(template) => template.evaluate(&result, &context)?,
                        None => result,
                    };
                    let combined = merge_result(task.result_path.as_ref(), &input, selected)?;
                    let output = select(task.io.output_path.as_ref(), &combined, &context)?;
                    self.exit(StateType::Task, name, &output);
                    return Ok(Step::after(&task.transition, output));
                }
                Err(failure) => failure,
            };

            let retrier = task.retry.iter().enumerate().find(|(_, retrier)| {
                retrier
                    .error_equals
                    .iter()
                    .any(|pattern| error_matches(pattern, &failure.error))
            });
            if let Some((index, retrier)) = retrier {
                if retries_per_retrier[index] < retrier.max_attempts {
                    retries_per_retrier[index] += 1;
                    retry_count += 1;
                    let delay = retrier.delay(retries_per_retrier[index]);
                    tracing::info!(
                        execution = %self.identity.execution_arn,
                        state = name,
                        error = %failure.error,
                        retry = retries_per_retrier[index],
                        delay_seconds = delay.as_secs_f64(),
                        "retrying a failed task"
                    );
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }

            let catcher = task.catch.iter().find(|catcher| {
                catcher
                    .error_equals
                    .iter()
                    .any(|pattern| error_matches(pattern, &failure.error))
            });
            let Some(catcher) = catcher else {
                return Err(Failure {
                    error: failure.error,
                    cause: failure.cause,
                });
            };
            tracing::info!(
                execution = %self.identity.execution_arn,
                state = name,
                error = %failure.error,
                next = %catcher.next,
                "caught a task failure"
            );
            let error_output = json!({"Error": failure.error, "Cause": failure.cause});
            let output = merge_result(catcher.result_path.as_ref(), &input, error_output)?;
            self.exit(StateType::Task, name, &output);
            return Ok(Step::Next {
                state: catcher.next.clone(),
                output,
            });
        }
    }

    /// Invokes the task once, applying TimeoutSeconds and fault injection, and records the events.
    async fn invoke(
        &self,
        name: &str,
        task: &TaskState,
        parameters: Value,
        attempt: u32,
    ) -> Result<Value, TaskFailure> {
        self.recorder.record(EventDetails::TaskScheduled {
            state_name: name.to_owned(),
            resource: task.resource.clone(),
            region: self.identity.region.clone(),
            parameters: parameters.clone(),
            timeout_seconds: task.timeout.map(|limit| limit.as_secs()),
        });
        self.recorder.record(EventDetails::TaskStarted {
            state_name: name.to_owned(),
            resource: task.resource.clone(),
        });

        let call = TaskCall {
            execution_name: self.identity.execution_name.clone(),
            state_name: name.to_owned(),
            resource: task.resource.clone(),
            input: parameters,
            attempt,
        };
        let mut outcome = match task.timeout {
            Some(limit) => match tokio::time::timeout(limit, self.invoker.invoke(call)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(TaskFailure::new(
                    STATES_TIMEOUT,
                    format!(
                        "The task did not finish within its TimeoutSeconds of {} seconds.",
                        limit.as_secs()
                    ),
                )),
            },
            None => self.invoker.invoke(call).await,
        };

        // The injected failure replaces whatever the task returned, so its side effects remain.
        if let Some(fault) = self.fault.filter(|fault| fault.state == name) {
            tracing::info!(
                execution = %self.identity.execution_arn,
                state = name,
                error = %fault.error,
                "replacing the task outcome with an injected failure"
            );
            outcome = Err(TaskFailure::new(fault.error.clone(), fault.cause.clone()));
        }

        let details = match &outcome {
            Ok(result) => EventDetails::TaskSucceeded {
                state_name: name.to_owned(),
                resource: task.resource.clone(),
                output: result.clone(),
            },
            Err(failure) if failure.error == STATES_TIMEOUT => EventDetails::TaskTimedOut {
                state_name: name.to_owned(),
                resource: task.resource.clone(),
                error: failure.error.clone(),
                cause: failure.cause.clone(),
            },
            Err(failure) => EventDetails::TaskFailed {
                state_name: name.to_owned(),
                resource: task.resource.clone(),
                error: failure.error.clone(),
                cause: failure.cause.clone(),
            },
        };
        self.recorder.record(details);
        outcome
    }
}
