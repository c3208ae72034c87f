//! Sends email messages to the email queue.

use aws_sdk_sqs::Client;

use super::service_error;
use crate::error::ServiceError;
use crate::records::EmailMessage;

#[derive(Clone)]
pub struct EmailQueue {
    client: Client,
    queue_url: String,
}

impl EmailQueue {
    pub fn new(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            queue_url: queue_url.into(),
        }
    }

    pub async fn send(&self, message: &EmailMessage) -> Result<(), ServiceError> {
        let body = serde_json::to_string(message).map_err(|error| ServiceError {
            service: "SQS",
            operation: "SendMessage",
            transient: false,
            code: None,
            source: Box::new(error),
        })?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| service_error("SQS", "SendMessage", e))?;
        Ok(())
    }
}
