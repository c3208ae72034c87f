//! The notifier: renders and sends queued email, and drops a message whose delivery is already
//! recorded. Two copies delivered at the same moment can still both be sent.

use onboarding_domain::email::{render, EmailTemplate};
use time::OffsetDateTime;

use super::Services;
use crate::aws::dynamo::DynamoStore;
use crate::aws::items::{n, s, ts};
use crate::keys;
use crate::records::{EmailMessage, SECRET_PLACEHOLDER};
use crate::telemetry::cause_chain;

/// Delivery records are kept two weeks, longer than any message stays in the queue.
const DELIVERY_RETENTION_SECONDS: i64 = 14 * 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the message body is not an email message")]
    Unreadable(#[source] serde_json::Error),
    #[error("opening the sealed secret failed")]
    Secret(#[source] crate::error::ServiceError),
    #[error("the template does not serialize")]
    Template(#[source] serde_json::Error),
    #[error("sending through SES failed")]
    Send(#[source] crate::error::ServiceError),
    #[error("recording the delivery failed")]
    Record(#[source] crate::error::StoreError),
}

/// Whether the message was sent now or had been sent before.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    AlreadySent,
}

/// Sends the email in one queue message body.
#[tracing::instrument(skip_all, fields(tenant_id, message_id))]
pub async fn deliver(services: &Services, body: &str) -> Result<Delivery, NotifyError> {
    let message: EmailMessage = serde_json::from_str(body).map_err(NotifyError::Unreadable)?;
    tracing::Span::current().record("tenant_id", message.tenant_id.as_str());
    tracing::Span::current().record("message_id", message.message_id.as_str());
    let store = &services.store;
    let delivered = store
        .get(keys::delivery(&message.message_id), "DELIVERY")
        .await
        .map_err(NotifyError::Record)?;
    if delivered.is_some() {
        tracing::info!("email already sent; duplicate dropped");
        return Ok(Delivery::AlreadySent);
    }
    let template = match &message.secret {
        None => message.template.clone(),
        Some(sealed) => {
            let secret = services
                .kms
                .open(sealed)
                .await
                .map_err(NotifyError::Secret)?;
            fill_secret(&message.template, &secret).map_err(NotifyError::Template)?
        }
    };
    let rendered = render(&template);
    let ses_id = services
        .mailer
        .send(&message.to, &rendered)
        .await
        .map_err(NotifyError::Send)?;
    let now = OffsetDateTime::now_utc();
    let mut item = DynamoStore::key(keys::delivery(&message.message_id), "DELIVERY");
    item.insert("message_id".into(), s(&message.message_id));
    item.insert("tenant_id".into(), s(&message.tenant_id));
    item.insert("ses_message_id".into(), s(&ses_id));
    item.insert("sent_at".into(), ts(now));
    item.insert(
        keys::TTL.into(),
        n(now.unix_timestamp() + DELIVERY_RETENTION_SECONDS),
    );
    if let Err(error) = store.put_item(item, false).await {
        // The email went out; a missing record only risks a duplicate on redelivery.
        tracing::warn!(error = %cause_chain(&error), "email sent but its delivery record was not written");
    }
    tracing::info!(ses_message_id = %ses_id, "email sent");
    Ok(Delivery::Sent)
}

/// Replaces the secret placeholder in every string of the template.
fn fill_secret(template: &EmailTemplate, secret: &str) -> Result<EmailTemplate, serde_json::Error> {
    let mut value = serde_json::to_value(template)?;
    replace_in(&mut value, secret);
    serde_json::from_value(value)
}

fn replace_in(value: &mut serde_json::Value, secret: &str) {
    match value {
        serde_json::Value::String(text) if text.contains(SECRET_PLACEHOLDER) => {
            *text = text.replace(SECRET_PLACEHOLDER, secret);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| replace_in(v, secret)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| replace_in(v, secret)),
        _ => {}
    }
}
