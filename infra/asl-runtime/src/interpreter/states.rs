//! The Choice, Wait, Pass, Succeed and Fail states.

use std::time::Duration;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::io::{merge_result, select};
use super::{Failure, Interpreter, Step};
use crate::definition::{
    ChoiceState, FailState, PassState, StateType, SucceedState, WaitState, WaitUntil,
};
use crate::errors::STATES_NO_CHOICE_MATCHED;
use crate::history::EventDetails;

impl Interpreter<'_> {
    pub(super) fn enter(&self, state_type: StateType, name: &str, input: &Value) {
        self.recorder.record(EventDetails::StateEntered {
            state_type,
            name: name.to_owned(),
            input: input.clone(),
        });
    }

    pub(super) fn exit(&self, state_type: StateType, name: &str, output: &Value) {
        self.recorder.record(EventDetails::StateExited {
            state_type,
            name: name.to_owned(),
            output: output.clone(),
        });
    }

    pub(super) fn run_choice(
        &self,
        name: &str,
        choice: &ChoiceState,
        input: Value,
    ) -> Result<Step, Failure> {
        self.enter(StateType::Choice, name, &input);
        let context = self.context(name, OffsetDateTime::now_utc(), 0);
        let effective = select(choice.io.input_path.as_ref(), &input, &context)?;

        let mut next = None;
        for branch in &choice.choices {
            if branch.rule.evaluate(&effective, &context)? {
                next = Some(&branch.next);
                break;
            }
        }
        let Some(next) = next.or(choice.default.as_ref()) else {
            return Err(Failure {
                error: STATES_NO_CHOICE_MATCHED.to_owned(),
                cause: format!("No choice rule of state \"{name}\" matched the input and the state has no Default."),
            });
        };

        let output = select(choice.io.output_path.as_ref(), &effective, &context)?;
        self.exit(StateType::Choice, name, &output);
        Ok(Step::Next {
            state: next.clone(),
            output,
        })
    }

    pub(super) async fn run_wait(
        &self,
        name: &str,
        wait: &WaitState,
        input: Value,
    ) -> Result<Step, Failure> {
        self.enter(StateType::Wait, name, &input);
        let context = self.context(name, OffsetDateTime::now_utc(), 0);
        let effective = select(wait.io.input_path.as_ref(), &input, &context)?;

        let duration = match &wait.until {
            WaitUntil::Seconds(seconds) => Duration::from_secs(*seconds),
            WaitUntil::SecondsPath(path) => {
                let value = path.get(&effective, &context)?;
                let seconds = value.as_u64().ok_or_else(|| {
                    Failure::runtime(format!(
                        "SecondsPath \"{path}\" of state \"{name}\" selected {value}, which is not a non-negative integer"
                    ))
                })?;
                Duration::from_secs(seconds)
            }
            WaitUntil::Timestamp(timestamp) => until(*timestamp),
            WaitUntil::TimestampPath(path) => {
                let value = path.get(&effective, &context)?;
                let timestamp = value
                    .as_str()
                    .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok())
                    .ok_or_else(|| {
                        Failure::runtime(format!(
                            "TimestampPath \"{path}\" of state \"{name}\" selected {value}, which is not an RFC 3339 timestamp"
                        ))
                    })?;
                until(timestamp)
            }
        };
        tokio::time::sleep(duration).await;

        let output = select(wait.io.output_path.as_ref(), &effective, &context)?;
        self.exit(StateType::Wait, name, &output);
        Ok(Step::after(&wait.transition, output))
    }

    pub(super) fn run_pass(
        &self,
        name: &str,
        pass: &PassState,
        input: Value,
    ) -> Result<Step, Failure> {
        self.enter(StateType::Pass, name, &input);
        let context = self.context(name, OffsetDateTime::now_utc(), 0);
        let mut effective = select(pass.io.input_path.as_ref(), &input, &context)?;
        if let Some(parameters) = &pass.parameters {
            effective = parameters.evaluate(&effective, &context)?;
        }
        let result = pass.result.clone().unwrap_or(effective);
        let combined = merge_result(pass.result_path.as_ref(), &input, result)?;
        let output = select(pass.io.output_path.as_ref(), &combined, &context)?;
        self.exit(StateType::Pass, name, &output);
        Ok(Step::after(&pass.transition, output))
    }

    pub(super) fn run_succeed(
        &self,
        name: &str,
        succeed: &SucceedState,
        input: Value,
    ) -> Result<Step, Failure> {
        self.enter(StateType::Succeed, name, &input);
        let context = self.context(name, OffsetDateTime::now_utc(), 0);
        let effective = select(succeed.io.input_path.as_ref(), &input, &context)?;
        let output = select(succeed.io.output_path.as_ref(), &effective, &context)?;
        self.exit(StateType::Succeed, name, &output);
        Ok(Step::End(output))
    }

    pub(super) fn run_fail(&self, name: &str, fail: &FailState, input: Value) -> Failure {
        self.enter(StateType::Fail, name, &input);
        Failure {
            error: fail.error.clone().unwrap_or_default(),
            cause: fail.cause.clone().unwrap_or_default(),
        }
    }
}

/// Returns the time left until `timestamp`, or zero when it has passed.
fn until(timestamp: OffsetDateTime) -> Duration {
    let remaining = timestamp - OffsetDateTime::now_utc();
    Duration::try_from(remaining).unwrap_or(Duration::ZERO)
}
