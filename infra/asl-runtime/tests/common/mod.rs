//! A scripted task invoker and helpers shared by the integration tests.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl_runtime::{
    Definition, ExecutionDescription, FaultInjection, StepFunctionsService, TaskCall, TaskFailure,
    TaskInvoker,
};
use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
pub const STATE_MACHINE: &str = "Provisioning";

/// What the fake returns for one invocation of a state.
#[derive(Debug, Clone)]
pub enum Reply {
    Return(Value),
    Fail(&'static str, &'static str),
    /// Sleeps (in tokio time) and then returns the value.
    SleepThenReturn(Duration, Value),
}

/// A task invoker that replays scripted replies per state and records every call.
///
/// A state without a scripted reply left returns its input.
#[derive(Default)]
pub struct FakeInvoker {
    replies: Mutex<HashMap<String, VecDeque<Reply>>>,
    calls: Mutex<Vec<(TaskCall, Instant)>>,
}

impl FakeInvoker {
    pub fn new() -> Arc<FakeInvoker> {
        Arc::new(FakeInvoker::default())
    }

    pub fn script(&self, state: &str, replies: impl IntoIterator<Item = Reply>) {
        self.replies
            .lock()
            .unwrap()
            .entry(state.to_owned())
            .or_default()
            .extend(replies);
    }

    pub fn calls(&self) -> Vec<TaskCall> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(call, _)| call.clone())
            .collect()
    }

    pub fn calls_to(&self, state: &str) -> Vec<TaskCall> {
        self.calls()
            .into_iter()
            .filter(|call| call.state_name == state)
            .collect()
    }

    /// Returns the tokio time of each call to `state`.
    pub fn call_times_to(&self, state: &str) -> Vec<Instant> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(call, _)| call.state_name == state)
            .map(|(_, time)| *time)
            .collect()
    }

    /// Returns the tokio time between consecutive calls to `state`.
    pub fn gaps_between_calls_to(&self, state: &str) -> Vec<Duration> {
        let times = self.call_times_to(state);
        times.windows(2).map(|pair| pair[1] - pair[0]).collect()
    }
}

#[async_trait]
impl TaskInvoker for FakeInvoker {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure> {
        self.calls
            .lock()
            .unwrap()
            .push((call.clone(), Instant::now()));
        let reply = self
            .replies
            .lock()
            .unwrap()
            .get_mut(&call.state_name)
            .and_then(VecDeque::pop_front);
        match reply {
            None => Ok(call.input),
            Some(Reply::Return(value)) => Ok(value),
            Some(Reply::Fail(error, cause)) => Err(TaskFailure::new(error, cause)),
            Some(Reply::SleepThenReturn(duration, value)) => {
                tokio::time::sleep(duration).await;
                Ok(value)
            }
        }
    }
}

pub fn state_machine_arn() -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}")
}

/// Creates a service with `definition` registered as the Provisioning state machine.
pub fn service_with(
    definition: &Value,
    invoker: Arc<FakeInvoker>,
    fault: Option<FaultInjection>,
) -> StepFunctionsService {
    let definition =
        Definition::parse(&definition.to_string()).expect("the test definition is valid");
    let service = StepFunctionsService::new(invoker, fault, REGION, ACCOUNT);
    service
        .register_state_machine(&state_machine_arn(), STATE_MACHINE, definition)
        .expect("registration succeeds");
    service
}

/// Starts an execution with `input` and waits until it ends.
pub async fn run(service: &StepFunctionsService, input: &Value) -> ExecutionDescription {
    let started = service
        .start_execution(
            &state_machine_arn(),
            Some("test-execution".to_owned()),
            input.to_string(),
        )
        .expect("the execution starts");
    service
        .wait_for_completion(&started.execution_arn, Duration::from_secs(24 * 60 * 60))
        .await
        .expect("the execution ends")
}

pub fn output_of(description: &ExecutionDescription) -> Value {
    let text = description
        .output
        .as_deref()
        .expect("the execution has an output");
    serde_json::from_str(text).expect("the output is JSON")
}

/// Returns the event types of an execution's history, in order.
pub fn event_types(service: &StepFunctionsService, execution_arn: &str) -> Vec<String> {
    service
        .get_execution_history(execution_arn)
        .expect("the execution exists")
        .iter()
        .map(|event| event.event_type())
        .collect()
}
