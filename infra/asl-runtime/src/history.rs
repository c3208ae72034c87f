//! Execution history events, as returned by GetExecutionHistory.

use serde_json::Value;
use time::OffsetDateTime;

use crate::definition::StateType;

/// One entry of an execution's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// Position in the history, starting at 1.
    pub id: u64,
    /// The id of the event before this one, 0 for the first event.
    pub previous_event_id: u64,
    /// Wall-clock time at which the event was recorded.
    pub timestamp: OffsetDateTime,
    /// Event type and its data.
    pub details: EventDetails,
}

impl HistoryEvent {
    /// Returns the Step Functions event type, for example `TaskStateEntered` or `ExecutionFailed`.
    pub fn event_type(&self) -> String {
        self.details.event_type()
    }

    /// Returns the name of the state that the event belongs to, if any.
    pub fn state_name(&self) -> Option<&str> {
        self.details.state_name()
    }
}

/// Data of one history event. Each variant is one event type.
#[derive(Debug, Clone, PartialEq)]
pub enum EventDetails {
    ExecutionStarted {
        input: Value,
    },
    ExecutionSucceeded {
        output: Value,
    },
    ExecutionFailed {
        error: String,
        cause: String,
    },
    ExecutionTimedOut {
        error: String,
        cause: String,
    },
    ExecutionAborted {
        error: String,
        cause: String,
    },
    /// `{Type}StateEntered`, for example `TaskStateEntered`.
    StateEntered {
        state_type: StateType,
        name: String,
        input: Value,
    },
    /// `{Type}StateExited`, for example `ChoiceStateExited`.
    StateExited {
        state_type: StateType,
        name: String,
        output: Value,
    },
    TaskScheduled {
        state_name: String,
        resource: String,
        region: String,
        /// The effective input sent to the task.
        parameters: Value,
        timeout_seconds: Option<u64>,
    },
    TaskStarted {
        state_name: String,
        resource: String,
    },
    TaskSucceeded {
        state_name: String,
        resource: String,
        output: Value,
    },
    TaskFailed {
        state_name: String,
        resource: String,
        error: String,
        cause: String,
    },
    TaskTimedOut {
        state_name: String,
        resource: String,
        error: String,
        cause: String,
    },
}

impl EventDetails {
    /// Returns the Step Functions event type of these details.
    pub fn event_type(&self) -> String {
        let fixed = match self {
            EventDetails::StateEntered { state_type, .. } => {
                return format!("{state_type}StateEntered")
            }
            EventDetails::StateExited { state_type, .. } => {
                return format!("{state_type}StateExited")
            }
            EventDetails::ExecutionStarted { .. } => "ExecutionStarted",
            EventDetails::ExecutionSucceeded { .. } => "ExecutionSucceeded",
            EventDetails::ExecutionFailed { .. } => "ExecutionFailed",
            EventDetails::ExecutionTimedOut { .. } => "ExecutionTimedOut",
            EventDetails::ExecutionAborted { .. } => "ExecutionAborted",
            EventDetails::TaskScheduled { .. } => "TaskScheduled",
            EventDetails::TaskStarted { .. } => "TaskStarted",
            EventDetails::TaskSucceeded { .. } => "TaskSucceeded",
            EventDetails::TaskFailed { .. } => "TaskFailed",
            EventDetails::TaskTimedOut { .. } => "TaskTimedOut",
        };
        fixed.to_owned()
    }

    /// Returns the name of the state that the event belongs to, if any.
    pub fn state_name(&self) -> Option<&str> {
        match self {
            EventDetails::StateEntered { name, .. } | EventDetails::StateExited { name, .. } => {
                Some(name)
            }
            EventDetails::TaskScheduled { state_name, .. }
            | EventDetails::TaskStarted { state_name, .. }
            | EventDetails::TaskSucceeded { state_name, .. }
            | EventDetails::TaskFailed { state_name, .. }
            | EventDetails::TaskTimedOut { state_name, .. } => Some(state_name),
            EventDetails::ExecutionStarted { .. }
            | EventDetails::ExecutionSucceeded { .. }
            | EventDetails::ExecutionFailed { .. }
            | EventDetails::ExecutionTimedOut { .. }
            | EventDetails::ExecutionAborted { .. } => None,
        }
    }
}

/// Receives the events of a running execution.
pub(crate) trait HistoryRecorder: Send + Sync {
    fn record(&self, details: EventDetails);
}
