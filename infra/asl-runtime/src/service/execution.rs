//! The stored state of one execution, shared between the service and the task that runs it.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::history::{EventDetails, HistoryEvent, HistoryRecorder};
use crate::interpreter::ExecutionOutcome;

/// Status of an execution, as DescribeExecution and ListExecutions report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// Returns the API name, for example `TIMED_OUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT and ABORTED.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown execution status \"{0}\" (expected RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED)"
)]
pub struct UnknownStatus(pub String);

impl FromStr for ExecutionStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<ExecutionStatus, UnknownStatus> {
        match text {
            "RUNNING" => Ok(ExecutionStatus::Running),
            "SUCCEEDED" => Ok(ExecutionStatus::Succeeded),
            "FAILED" => Ok(ExecutionStatus::Failed),
            "TIMED_OUT" => Ok(ExecutionStatus::TimedOut),
            "ABORTED" => Ok(ExecutionStatus::Aborted),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

/// Description of an execution, as DescribeExecution returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub start_date: OffsetDateTime,
    pub stop_date: Option<OffsetDateTime>,
    /// The execution input as JSON text.
    pub input: String,
    /// The execution output as JSON text, once the execution succeeded.
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Result of StartExecution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedExecution {
    pub execution_arn: String,
    pub start_date: OffsetDateTime,
}

struct ExecutionRecord {
    status: ExecutionStatus,
    stop_date: Option<OffsetDateTime>,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    events: Vec<HistoryEvent>,
    abort: Option<AbortHandle>,
}

impl ExecutionRecord {
    fn push(&mut self, details: EventDetails) {
        let id = self.events.len() as u64 + 1;
        self.events.push(HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: OffsetDateTime::now_utc(),
            details,
        });
    }
}

pub(super) struct ExecutionEntry {
    pub(super) arn: String,
    pub(super) state_machine_arn: String,
    pub(super) name: String,
    pub(super) input_text: String,
    pub(super) input: Value,
    pub(super) start_date: OffsetDateTime,
    record: Mutex<ExecutionRecord>,
    finished: watch::Sender<bool>,
}

impl ExecutionEntry {
    /// Creates a running execution whose history starts with ExecutionStarted.
    pub(super) fn start(
        arn: String,
        state_machine_arn: String,
        name: String,
        input_text: String,
        input: Value,
    ) -> ExecutionEntry {
        let mut record = ExecutionRecord {
            status: ExecutionStatus::Running,
            stop_date: None,
            output: None,
            error: None,
            cause: None,
            events: Vec::new(),
            abort: None,
        };
        record.push(EventDetails::ExecutionStarted {
            input: input.clone(),
        });
        ExecutionEntry {
            arn,
            state_machine_arn,
            name,
            input_text,
            input,
            start_date: OffsetDateTime::now_utc(),
            record: Mutex::new(record),
            finished: watch::channel(false).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ExecutionRecord> {
        // A panic while the lock is held cannot leave the record half-written, so the data stays usable.
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn status(&self) -> ExecutionStatus {
        self.lock().status
    }

    /// Stores the handle that StopExecution uses. An execution stopped before this call is
    /// aborted at once, so its task cannot invoke more tasks.
    pub(super) fn set_abort_handle(&self, abort: AbortHandle) {
        let mut record = self.lock();
        if record.status == ExecutionStatus::Running {
            record.abort = Some(abort);
        } else if record.status == ExecutionStatus::Aborted {
            abort.abort();
        }
    }

    pub(super) fn describe(&self) -> ExecutionDescription {
        let record = self.lock();
        ExecutionDescription {
            execution_arn: self.arn.clone(),
            state_machine_arn: self.state_machine_arn.clone(),
            name: self.name.clone(),
            status: record.status,
            start_date: self.start_date,
            stop_date: record.stop_date,
            input: self.input_text.clone(),
            output: record.output.clone(),
            error: record.error.clone(),
            cause: record.cause.clone(),
        }
    }

    pub(super) fn history(&self) -> Vec<HistoryEvent> {
        self.lock().events.clone()
    }

    /// Records how the execution ended, unless it has already ended (for example by StopExecution).
    pub(super) fn complete(&self, outcome: ExecutionOutcome) {
        let (status, output, error, cause, details) = match outcome {
            ExecutionOutcome::Succeeded(output) => (
                ExecutionStatus::Succeeded,
                Some(output.to_string()),
                None,
                None,
                EventDetails::ExecutionSucceeded { output },
            ),
            ExecutionOutcome::Failed { error, cause } => (
                ExecutionStatus::Failed,
                None,
                Some(error.clone()),
                Some(cause.clone()),
                EventDetails::ExecutionFailed { error, cause },
            ),
            ExecutionOutcome::TimedOut { error, cause } => (
                ExecutionStatus::TimedOut,
                None,
                Some(error.clone()),
                Some(cause.clone()),
                EventDetails::ExecutionTimedOut { error, cause },
            ),
        };
        if self.finish(status, output, error, cause, details).is_some() {
            tracing::info!(execution = %self.arn, status = %status, "execution finished");
        }
    }

    /// Aborts a running execution. Returns the stop date, which for an execution that already
    /// ended is the date it ended.
    pub(super) fn stop(&self, error: Option<String>, cause: Option<String>) -> OffsetDateTime {
        let details = EventDetails::ExecutionAborted {
            error: error.clone().unwrap_or_default(),
            cause: cause.clone().unwrap_or_default(),
        };
        if let Some(stop_date) = self.finish(ExecutionStatus::Aborted, None, error, cause, details)
        {
            tracing::info!(execution = %self.arn, "execution stopped");
            return stop_date;
        }
        self.lock()
            .stop_date
            .unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// Moves a running execution to its final status. Returns the stop date, or `None` when the
    /// execution had already ended.
    fn finish(
        &self,
        status: ExecutionStatus,
        output: Option<String>,
        error: Option<String>,
        cause: Option<String>,
        details: EventDetails,
    ) -> Option<OffsetDateTime> {
        let mut record = self.lock();
        if record.status != ExecutionStatus::Running {
            return None;
        }
        // Completion runs on the execution's own task, so only a stop aborts that task.
        if let Some(abort) = record
            .abort
            .take()
            .filter(|_| status == ExecutionStatus::Aborted)
        {
            abort.abort();
        }
        let stop_date = OffsetDateTime::now_utc();
        record.status = status;
        record.stop_date = Some(stop_date);
        record.output = output;
        record.error = error.filter(|text| !text.is_empty());
        record.cause = cause.filter(|text| !text.is_empty());
        record.push(details);
        drop(record);
        self.finished.send_replace(true);
        Some(stop_date)
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<bool> {
        self.finished.subscribe()
    }
}

impl HistoryRecorder for ExecutionEntry {
    fn record(&self, details: EventDetails) {
        let mut record = self.lock();
        // A stopped execution's task may still be between two await points; drop its late events.
        if record.status == ExecutionStatus::Running {
            record.push(details);
        }
    }
}
