//! Watchdog: every minute, resumes or rolls back tenants stuck in provisioning.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use onboarding_app::usecases::watchdog;
use onboarding_app::Services;
use time::OffsetDateTime;

#[tokio::main]
async fn main() -> Result<(), Error> {
    onboarding_app::telemetry::init();
    let services = Services::from_env().await?;
    run(service_fn(|_event: LambdaEvent<serde_json::Value>| {
        let services = &services;
        async move {
            let report = watchdog::run(services, OffsetDateTime::now_utc()).await?;
            tracing::info!(
                resumed = report.resumed.len(),
                rolled_back = report.rolled_back.len(),
                failed = report.failed.len(),
                "watchdog run finished"
            );
            Ok::<_, Error>(report)
        }
    }))
    .await
}
