//! The parsed state machine definition.

mod choice;
mod error;
mod fields;
mod parse;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

pub(crate) use choice::ChoiceBranch;
pub use error::{DefinitionError, Location};

use crate::path::Path;
use crate::template::Template;

/// A state machine definition in the supported subset of the Amazon States Language.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub(crate) start_at: String,
    pub(crate) timeout_seconds: Option<u64>,
    pub(crate) states: BTreeMap<String, State>,
}

impl Definition {
    /// Parses and validates a definition.
    ///
    /// Rejects every state type, field and path form outside the supported subset, with a message
    /// that names the state and the field. Also checks that StartAt and every Next, Default and
    /// Catch Next name existing states, that every Task, Pass and Wait state has Next or End, and
    /// that every state can be reached from StartAt.
    pub fn parse(json: &str) -> Result<Definition, DefinitionError> {
        parse::parse_definition(json)
    }

    /// Returns the name of the first state.
    pub fn start_at(&self) -> &str {
        &self.start_at
    }

    /// Returns the execution time limit (top-level TimeoutSeconds), if any.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.timeout_seconds
    }

    /// Returns the state names in lexical order.
    pub fn state_names(&self) -> Vec<&str> {
        self.states.keys().map(String::as_str).collect()
    }

    /// Returns the names of the Task states in lexical order.
    pub fn task_state_names(&self) -> Vec<&str> {
        self.states
            .iter()
            .filter(|(_, state)| state.state_type() == StateType::Task)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Returns the type of the named state, or `None` when the definition has no such state.
    pub fn state_type(&self, name: &str) -> Option<StateType> {
        self.states.get(name).map(State::state_type)
    }
}

/// The state types that the local runtime supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateType {
    Task,
    Choice,
    Wait,
    Pass,
    Succeed,
    Fail,
}

impl StateType {
    /// Returns the name used in the `Type` field and in history event types.
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Pass => "Pass",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
        }
    }
}

impl fmt::Display for StateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State {
    Task(TaskState),
    Choice(ChoiceState),
    Wait(WaitState),
    Pass(PassState),
    Succeed(SucceedState),
    Fail(FailState),
}

impl State {
    pub(crate) fn state_type(&self) -> StateType {
        match self {
            State::Task(_) => StateType::Task,
            State::Choice(_) => StateType::Choice,
            State::Wait(_) => StateType::Wait,
            State::Pass(_) => StateType::Pass,
            State::Succeed(_) => StateType::Succeed,
            State::Fail(_) => StateType::Fail,
        }
    }
}

/// Transition of a Task, Pass or Wait state after it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(String),
    End,
}

/// InputPath and OutputPath. `None` is JSON `null`, which selects an empty object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IoPaths {
    pub(crate) input_path: Option<Path>,
    pub(crate) output_path: Option<Path>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskState {
    pub(crate) resource: String,
    pub(crate) io: IoPaths,
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    /// `None` is JSON `null`: the result is discarded and the state input passes through.
    pub(crate) result_path: Option<Path>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Vec<Retrier>,
    pub(crate) catch: Vec<Catcher>,
    pub(crate) transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retrier {
    pub(crate) error_equals: Vec<String>,
    pub(crate) interval_seconds: u64,
    pub(crate) backoff_rate: f64,
    pub(crate) max_attempts: u32,
    pub(crate) max_delay_seconds: Option<u64>,
}

impl Retrier {
    /// Returns the delay before retry number `retry` (1-based) of this retrier:
    /// IntervalSeconds × BackoffRate^(retry − 1), capped by MaxDelaySeconds.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let mut seconds = self.interval_seconds as f64 * self.backoff_rate.powi(exponent);
        if let Some(max) = self.max_delay_seconds {
            seconds = seconds.min(max as f64);
        }
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catcher {
    pub(crate) error_equals: Vec<String>,
    pub(crate) next: String,
    /// `None` is JSON `null`: the error output is discarded and the state input passes through.
    pub(crate) result_path: Option<Path>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChoiceState {
    pub(crate) io: IoPaths,
    pub(crate) choices: Vec<ChoiceBranch>,
    pub(crate) default: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WaitState {
    pub(crate) io: IoPaths,
    pub(crate) until: WaitUntil,
    pub(crate) transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WaitUntil {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(OffsetDateTime),
    TimestampPath(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PassState {
    pub(crate) io: IoPaths,
    pub(crate) parameters: Option<Template>,
    pub(crate) result: Option<Value>,
    pub(crate) result_path: Option<Path>,
    pub(crate) transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SucceedState {
    pub(crate) io: IoPaths,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailState {
    pub(crate) error: Option<String>,
    pub(crate) cause: Option<String>,
}
