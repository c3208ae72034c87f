//! An in-memory Step Functions service that runs executions on tokio tasks.

mod error;
mod execution;
mod names;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

pub use error::{RegistrationError, ServiceError, WaitError};
pub use execution::{ExecutionDescription, ExecutionStatus, StartedExecution, UnknownStatus};

use crate::definition::Definition;
use crate::errors::STATES_RUNTIME;
use crate::history::HistoryEvent;
use crate::interpreter::{ExecutionIdentity, ExecutionOutcome, Interpreter};
use crate::task::{FaultInjection, TaskInvoker};
use execution::ExecutionEntry;

/// An in-memory Step Functions service. Clones share the same state machines and executions.
#[derive(Clone)]
pub struct StepFunctionsService {
    inner: Arc<ServiceInner>,
}

struct ServiceInner {
    invoker: Arc<dyn TaskInvoker>,
    fault: Option<FaultInjection>,
    region: String,
    account: String,
    generated_names: AtomicU64,
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    state_machines: HashMap<String, Arc<StateMachine>>,
    executions: HashMap<String, Arc<ExecutionEntry>>,
    /// Every execution in start order, for ListExecutions.
    started: Vec<Arc<ExecutionEntry>>,
}

struct StateMachine {
    arn: String,
    name: String,
    definition: Arc<Definition>,
}

impl StepFunctionsService {
    /// Creates a service without state machines.
    ///
    /// `fault`, when given, is checked against each definition that
    /// [`register_state_machine`](Self::register_state_machine) receives.
    pub fn new(
        invoker: Arc<dyn TaskInvoker>,
        fault: Option<FaultInjection>,
        region: impl Into<String>,
        account: impl Into<String>,
    ) -> StepFunctionsService {
        StepFunctionsService {
            inner: Arc::new(ServiceInner {
                invoker,
                fault,
                region: region.into(),
                account: account.into(),
                generated_names: AtomicU64::new(0),
                registry: Mutex::new(Registry::default()),
            }),
        }
    }

    /// Returns the region that the service puts into ARNs and history events.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Returns the account id that the service puts into ARNs.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// Returns the ARN that a state machine called `name` has in this service's region and account.
    pub fn state_machine_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.inner.region, self.inner.account
        )
    }

    /// Adds a state machine, or replaces the definition of one with the same ARN.
    ///
    /// Executions already running keep the definition they started with. Fails when the ARN or
    /// name is malformed, or when the service's fault injection does not name a Task state of
    /// `definition`.
    pub fn register_state_machine(
        &self,
        arn: &str,
        name: &str,
        definition: Definition,
    ) -> Result<(), RegistrationError> {
        names::check_state_machine_arn(arn).map_err(RegistrationError::InvalidArn)?;
        names::check_name(name).map_err(RegistrationError::InvalidName)?;
        if let Some(fault) = &self.inner.fault {
            fault.check(&definition)?;
        }
        let state_machine = StateMachine {
            arn: arn.to_owned(),
            name: name.to_owned(),
            definition: Arc::new(definition),
        };
        self.registry()
            .state_machines
            .insert(arn.to_owned(), Arc::new(state_machine));
        tracing::info!(state_machine = arn, "registered state machine");
        Ok(())
    }

    /// Starts an execution on a new tokio task, so it must be called within a tokio runtime.
    ///
    /// Without a name the service generates one. Starting a name that is still running with the
    /// same input (compared as JSON values) returns that execution. Any other reuse of a name fails
    /// with `ExecutionAlreadyExists`, as in Step Functions, which keeps names of ended executions.
    pub fn start_execution(
        &self,
        state_machine_arn: &str,
        name: Option<String>,
        input: String,
    ) -> Result<StartedExecution, ServiceError> {
        names::check_state_machine_arn(state_machine_arn)?;
        let name = match name {
            Some(name) => {
                names::check_name(&name)?;
                name
            }
            None => self.generate_name(),
        };
        let input_value = parse_input(&input)?;

        let mut registry = self.registry();
        let state_machine = registry
            .state_machines
            .get(state_machine_arn)
            .cloned()
            .ok_or_else(|| ServiceError::StateMachineDoesNotExist {
                state_machine_arn: state_machine_arn.to_owned(),
            })?;
        let execution_arn = format!(
            "arn:aws:states:{}:{}:execution:{}:{name}",
            self.inner.region, self.inner.account, state_machine.name
        );

        if let Some(existing) = registry.executions.get(&execution_arn) {
            if existing.status() == ExecutionStatus::Running && existing.input == input_value {
                return Ok(StartedExecution {
                    execution_arn,
                    start_date: existing.start_date,
                });
            }
            return Err(ServiceError::ExecutionAlreadyExists { execution_arn });
        }

        let entry = Arc::new(ExecutionEntry::start(
            execution_arn.clone(),
            state_machine.arn.clone(),
            name,
            input,
            input_value,
        ));
        registry
            .executions
            .insert(execution_arn.clone(), entry.clone());
        registry.started.push(entry.clone());
        drop(registry);

        tracing::info!(execution = %execution_arn, "execution started");
        self.spawn_execution(&state_machine, entry.clone());
        Ok(StartedExecution {
            execution_arn,
            start_date: entry.start_date,
        })
    }

    fn spawn_execution(&self, state_machine: &StateMachine, entry: Arc<ExecutionEntry>) {
        let identity = ExecutionIdentity {
            execution_arn: entry.arn.clone(),
            execution_name: entry.name.clone(),
            state_machine_arn: state_machine.arn.clone(),
            state_machine_name: state_machine.name.clone(),
            start_time: entry.start_date,
            input: entry.input.clone(),
            region: self.inner.region.clone(),
        };
        let inner = self.inner.clone();
        let definition = state_machine.definition.clone();
        let run_entry = entry.clone();
        let handle = tokio::spawn(async move {
            let interpreter = Interpreter {
                definition: &definition,
                invoker: inner.invoker.as_ref(),
                fault: inner.fault.as_ref(),
                recorder: run_entry.as_ref(),
                identity: &identity,
            };
            let outcome = interpreter.run().await;
            run_entry.complete(outcome);
        });
        entry.set_abort_handle(handle.abort_handle());

        // A panic in the task invoker would otherwise leave the execution RUNNING forever.
        tokio::spawn(async move {
            if let Err(error) = handle.await {
                if error.is_panic() {
                    tracing::error!(execution = %entry.arn, "execution task panicked");
                    entry.complete(ExecutionOutcome::Failed {
                        error: STATES_RUNTIME.to_owned(),
                        cause: "The task invoker panicked.".to_owned(),
                    });
                }
            }
        });
    }

    /// Returns the current state of an execution.
    pub fn describe_execution(
        &self,
        execution_arn: &str,
    ) -> Result<ExecutionDescription, ServiceError> {
        Ok(self.execution(execution_arn)?.describe())
    }

    /// Stops a running execution (status ABORTED) and returns its stop date.
    ///
    /// The running task is cancelled at its next await point, so a task invocation in flight is
    /// dropped. Stopping an execution that already ended changes nothing and returns its stop date.
    pub fn stop_execution(
        &self,
        execution_arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<OffsetDateTime, ServiceError> {
        Ok(self.execution(execution_arn)?.stop(error, cause))
    }

    /// Lists the executions of a state machine, newest first, optionally only those with `status`.
    pub fn list_executions(
        &self,
        state_machine_arn: &str,
        status: Option<ExecutionStatus>,
    ) -> Result<Vec<ExecutionDescription>, ServiceError> {
        names::check_state_machine_arn(state_machine_arn)?;
        let registry = self.registry();
        if !registry.state_machines.contains_key(state_machine_arn) {
            return Err(ServiceError::StateMachineDoesNotExist {
                state_machine_arn: state_machine_arn.to_owned(),
            });
        }
        let executions = registry
            .started
            .iter()
            .rev()
            .filter(|entry| entry.state_machine_arn == state_machine_arn)
            .map(|entry| entry.describe())
            .filter(|description| status.is_none_or(|wanted| description.status == wanted))
            .collect();
        Ok(executions)
    }

    /// Returns the history of an execution, oldest event first.
    pub fn get_execution_history(
        &self,
        execution_arn: &str,
    ) -> Result<Vec<HistoryEvent>, ServiceError> {
        Ok(self.execution(execution_arn)?.history())
    }

    /// Waits until an execution is no longer RUNNING and returns its description.
    pub async fn wait_for_completion(
        &self,
        execution_arn: &str,
        timeout: Duration,
    ) -> Result<ExecutionDescription, WaitError> {
        let entry = self.execution(execution_arn)?;
        let mut finished = entry.subscribe();
        let timed_out = tokio::time::timeout(timeout, finished.wait_for(|done| *done))
            .await
            .is_err();
        if timed_out {
            return Err(WaitError::TimedOut {
                execution_arn: execution_arn.to_owned(),
                timeout,
            });
        }
        Ok(entry.describe())
    }

    fn execution(&self, execution_arn: &str) -> Result<Arc<ExecutionEntry>, ServiceError> {
        names::check_execution_arn(execution_arn)?;
        self.registry()
            .executions
            .get(execution_arn)
            .cloned()
            .ok_or_else(|| ServiceError::ExecutionDoesNotExist {
                execution_arn: execution_arn.to_owned(),
            })
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // Every update of the registry is a single insert, so a poisoned lock still holds consistent data.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn generate_name(&self) -> String {
        let sequence = self.inner.generated_names.fetch_add(1, Ordering::Relaxed);
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        format!("{nanos:x}-{sequence}")
    }
}

fn parse_input(input: &str) -> Result<Value, ServiceError> {
    let value: Value =
        serde_json::from_str(input).map_err(|error| ServiceError::InvalidExecutionInput {
            reason: format!("the input is not valid JSON: {error}"),
        })?;
    if !value.is_object() {
        return Err(ServiceError::InvalidExecutionInput {
            reason: "the input must be a JSON object".to_owned(),
        });
    }
    Ok(value)
}
