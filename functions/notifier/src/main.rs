//! Notifier: sends the email of each queue message and reports the failed ones, so SQS retries
//! only those and moves a message that keeps failing to the dead-letter queue.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use onboarding_app::telemetry::cause_chain;
use onboarding_app::usecases::notify;
use onboarding_app::Services;

#[tokio::main]
async fn main() -> Result<(), Error> {
    onboarding_app::telemetry::init();
    let services = Services::from_env().await?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let services = &services;
        async move { Ok::<_, Error>(handle(services, event.payload).await) }
    }))
    .await
}

async fn handle(services: &Services, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        if let Err(error) = notify::deliver(services, body).await {
            tracing::error!(sqs_message_id = %id, error = %cause_chain(&error), "email not sent; the message will be retried");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
