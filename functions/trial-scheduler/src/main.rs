//! Trial scheduler: every 15 minutes, sends trial reminders and moves expired trials to
//! read-only and then to suspended. "Now" is the schedule event's time.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use onboarding_app::usecases::trials;
use onboarding_app::Services;
use time::OffsetDateTime;

#[tokio::main]
async fn main() -> Result<(), Error> {
    onboarding_app::telemetry::init();
    let services = Services::from_env().await?;
    run(service_fn(|event: LambdaEvent<EventBridgeEvent>| {
        let services = &services;
        async move {
            let now = event
                .payload
                .time
                .and_then(|time| time.timestamp_nanos_opt())
                .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok())
                .unwrap_or_else(OffsetDateTime::now_utc);
            let report = trials::run_scheduler(services, now).await?;
            tracing::info!(
                done = report.done.len(),
                skipped = report.skipped.len(),
                failed = report.failed.len(),
                "trial scheduler run finished"
            );
            Ok::<_, Error>(report)
        }
    }))
    .await
}
