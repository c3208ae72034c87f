//! Provisioner: runs one provisioning step per invocation of a Task state. Errors carry an
//! `errorType` of `Provisioning.Transient` (retried by the state machine) or `Provisioning.Fatal`
//! (caught and rolled back).

// The step futures nest deeply through the SDK calls; the default limit is too low for them.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use onboarding_app::telemetry::cause_chain;
use onboarding_app::usecases::provisioning::{run_step, StepError, StepInput, StepOutput};
use onboarding_app::Services;

/// The Lambda error of a failed step, with the type name Step Functions matches on.
#[derive(Debug)]
struct StepFailure(StepError);

impl From<StepFailure> for Diagnostic {
    fn from(failure: StepFailure) -> Self {
        Diagnostic {
            error_type: failure.0.error_type().to_owned(),
            error_message: cause_chain(&failure.0),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    onboarding_app::telemetry::init();
    let services = Services::from_env().await?;
    run(service_fn(|event: LambdaEvent<StepInput>| {
        let services = &services;
        async move {
            run_step(services, event.payload)
                .await
                .map_err(StepFailure)
                .map(|output: StepOutput| output)
        }
    }))
    .await
}
