//! Sends rendered email through SES v2.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;
use onboarding_domain::email::RenderedEmail;

use super::service_error;
use crate::error::ServiceError;

#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    sender: String,
}

impl SesMailer {
    pub fn new(config: &aws_config::SdkConfig, sender: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            sender: sender.into(),
        }
    }

    /// Sends one email and returns the SES message id.
    pub async fn send(&self, to: &str, email: &RenderedEmail) -> Result<String, ServiceError> {
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|error| ServiceError {
                    service: "SESv2",
                    operation: "SendEmail",
                    transient: false,
                    code: None,
                    source: Box::new(error),
                })
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| service_error("SESv2", "SendEmail", e))?;
        Ok(output.message_id.unwrap_or_default())
    }
}
