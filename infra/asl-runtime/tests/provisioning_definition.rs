//! The repository's provisioning definition, run against a stub provisioner.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl_runtime::{
    Definition, ExecutionStatus, FaultInjection, StepFunctionsService, TaskCall, TaskFailure,
    TaskInvoker,
};
use async_trait::async_trait;
use common::{output_of, state_machine_arn, ACCOUNT, REGION, STATE_MACHINE};
use serde_json::{json, Value};

fn definition_text() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/provisioning.asl.json"
    );
    std::fs::read_to_string(path).expect("infra/statemachine/provisioning.asl.json is readable")
}

/// Stub of the provisioner Lambda behind `lambda:invoke`, returning `{"Payload": {...}, "StatusCode": 200}`.
/// The data store reports ready on the second check.
#[derive(Default)]
struct ProvisionerStub {
    steps: Mutex<Vec<(String, Value)>>,
}

impl ProvisionerStub {
    fn steps(&self) -> Vec<String> {
        self.steps
            .lock()
            .unwrap()
            .iter()
            .map(|(step, _)| step.clone())
            .collect()
    }

    fn payload_of(&self, step: &str) -> Option<Value> {
        self.steps
            .lock()
            .unwrap()
            .iter()
            .find(|(name, _)| name == step)
            .map(|(_, payload)| payload.clone())
    }
}

#[async_trait]
impl TaskInvoker for ProvisionerStub {
    async fn invoke(&self, call: TaskCall) -> Result<Value, TaskFailure> {
        let payload = call.input["Payload"].clone();
        let step = payload["step"].as_str().unwrap_or_default().to_owned();
        let checks_so_far = {
            let mut steps = self.steps.lock().unwrap();
            steps.push((step.clone(), payload));
            steps
                .iter()
                .filter(|(name, _)| name == "check_data_store")
                .count()
        };
        let ready = step == "check_data_store" && checks_so_far >= 2;
        Ok(json!({"Payload": {"step": step, "status": "done", "ready": ready}, "StatusCode": 200}))
    }
}

fn service(stub: Arc<ProvisionerStub>, fault: Option<FaultInjection>) -> StepFunctionsService {
    let definition =
        Definition::parse(&definition_text()).expect("the provisioning definition is supported");
    let service = StepFunctionsService::new(stub, fault, REGION, ACCOUNT);
    service
        .register_state_machine(&state_machine_arn(), STATE_MACHINE, definition)
        .expect("registration succeeds");
    service
}

async fn provision(service: &StepFunctionsService) -> asl_runtime::ExecutionDescription {
    let started = service
        .start_execution(
            &state_machine_arn(),
            Some("tnt_1-1".to_owned()),
            json!({"tenant_id": "tnt_1", "attempt": 1}).to_string(),
        )
        .expect("the execution starts");
    service
        .wait_for_completion(&started.execution_arn, Duration::from_secs(3600))
        .await
        .expect("the execution ends")
}

#[test]
fn provisioning_definition_lists_task_states() {
    let definition =
        Definition::parse(&definition_text()).expect("the provisioning definition is supported");
    assert_eq!(definition.start_at(), "Validate");
    for state in [
        "Validate",
        "ReserveCapacity",
        "CreateDataStore",
        "CheckDataStore",
        "ApplyConfigTemplate",
        "EnableModules",
        "CreateAdminInvitation",
        "Activate",
        "Rollback",
    ] {
        assert!(
            definition.task_state_names().contains(&state),
            "{state} is a Task state"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn provisioning_runs_every_step_in_order() {
    let stub = Arc::new(ProvisionerStub::default());
    let service = service(stub.clone(), None);

    let finished = provision(&service).await;

    assert_eq!(finished.status, ExecutionStatus::Succeeded, "{finished:?}");
    assert_eq!(
        stub.steps(),
        vec![
            "validate",
            "reserve_capacity",
            "create_data_store",
            "check_data_store",
            "check_data_store",
            "apply_config_template",
            "enable_modules",
            "create_admin_invitation",
            "activate",
        ]
    );
    let output = output_of(&finished);
    assert_eq!(output["tenant_id"], json!("tnt_1"));
    assert_eq!(output["datastore"]["ready"], json!(true));
}

#[tokio::test(start_paused = true)]
async fn injected_fatal_fault_rolls_back_and_fails() {
    let stub = Arc::new(ProvisionerStub::default());
    let fault = FaultInjection {
        state: "EnableModules".to_owned(),
        error: "Provisioning.Fatal".to_owned(),
        cause: "injected".to_owned(),
    };
    let service = service(stub.clone(), Some(fault));

    let finished = provision(&service).await;

    assert_eq!(finished.status, ExecutionStatus::Failed);
    assert_eq!(finished.error.as_deref(), Some("Provisioning.RolledBack"));
    let steps = stub.steps();
    assert_eq!(
        steps
            .iter()
            .filter(|step| *step == "enable_modules")
            .count(),
        1
    );
    assert_eq!(steps.last().map(String::as_str), Some("rollback"));
    assert!(!steps.contains(&"activate".to_owned()));
    assert_eq!(
        stub.payload_of("rollback"),
        Some(json!({
            "step": "rollback",
            "tenant_id": "tnt_1",
            "attempt": 1,
            "error": {"Error": "Provisioning.Fatal", "Cause": "injected"}
        }))
    );
}
