//! Outbox relay: every minute, queues email that was committed but not queued by its request.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use onboarding_app::usecases::outbox;
use onboarding_app::Services;
use time::OffsetDateTime;

/// Messages younger than this are left to the request that wrote them.
const GRACE_SECONDS: i64 = 30;

#[tokio::main]
async fn main() -> Result<(), Error> {
    onboarding_app::telemetry::init();
    let services = Services::from_env().await?;
    run(service_fn(|_event: LambdaEvent<serde_json::Value>| {
        let services = &services;
        async move {
            let report = outbox::relay_pending(
                &services.store,
                &services.queue,
                OffsetDateTime::now_utc(),
                GRACE_SECONDS,
            )
            .await?;
            tracing::info!(
                queued = report.queued,
                failed = report.failed,
                "outbox relay run finished"
            );
            Ok::<_, Error>(report)
        }
    }))
    .await
}
