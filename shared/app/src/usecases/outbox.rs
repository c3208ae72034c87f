//! The transactional outbox: an email is written in the same transaction as the change that
//! causes it, queued right after the commit, and queued by the relay if that did not happen.

use aws_sdk_dynamodb::types::TransactWriteItem;
use time::OffsetDateTime;

use crate::aws::dynamo::DynamoStore;
use crate::aws::items::{format_time, n, s, Item, Reader};
use crate::aws::sqs::EmailQueue;
use crate::error::StoreError;
use crate::keys;
use crate::records::EmailMessage;
use crate::telemetry::cause_chain;

/// Outbox items are kept for a month after they are written, then TTL removes them.
const OUTBOX_RETENTION_SECONDS: i64 = 30 * 24 * 3600;

/// Builds the put of a pending outbox message, for a transaction.
pub fn outbox_write(
    store: &DynamoStore,
    message: &EmailMessage,
    now: OffsetDateTime,
) -> Result<TransactWriteItem, StoreError> {
    let payload = serde_json::to_string(message).map_err(|error| StoreError::Malformed {
        item: keys::outbox(&message.message_id),
        reason: format!("message cannot be serialized: {error}"),
    })?;
    let mut item: Item = DynamoStore::key(keys::outbox(&message.message_id), "OUTBOX");
    item.insert("message_id".into(), s(&message.message_id));
    item.insert("tenant_id".into(), s(&message.tenant_id));
    item.insert("payload".into(), s(payload));
    item.insert("status".into(), s("pending"));
    item.insert(keys::GSI1PK.into(), s(keys::OUTBOX_PENDING));
    item.insert(
        keys::GSI1SK.into(),
        s(format!("{}#{}", format_time(now), message.message_id)),
    );
    item.insert(
        keys::TTL.into(),
        n(now.unix_timestamp() + OUTBOX_RETENTION_SECONDS),
    );
    store.put_new(item)
}

/// Queues a committed message and takes it off the pending index. A failure is logged and left
/// to the relay, because the message is already safe in the outbox.
pub async fn dispatch(store: &DynamoStore, queue: &EmailQueue, message: &EmailMessage) {
    if let Err(error) = queue.send(message).await {
        tracing::warn!(
            tenant_id = %message.tenant_id,
            message_id = %message.message_id,
            error = %cause_chain(&error),
            "queueing the email failed; the outbox relay will retry"
        );
        return;
    }
    if let Err(error) = mark_queued(store, &message.message_id).await {
        tracing::warn!(
            tenant_id = %message.tenant_id,
            message_id = %message.message_id,
            error = %cause_chain(&error),
            "marking the email queued failed; the relay may queue it again and the notifier will drop the copy"
        );
    }
}

async fn mark_queued(store: &DynamoStore, message_id: &str) -> Result<(), StoreError> {
    let write = store.update(
        keys::outbox(message_id),
        "OUTBOX",
        "SET #status = :queued REMOVE GSI1PK, GSI1SK",
        Some("attribute_exists(PK)"),
        vec![(":queued", s("queued"))],
        vec![("#status", "status")],
    )?;
    store.transact(vec![write]).await
}

/// Counts of one relay run.
#[derive(Debug, Default, serde::Serialize)]
pub struct RelayReport {
    pub queued: usize,
    pub failed: usize,
}

/// Queues every outbox message still pending after `grace_seconds`, oldest first.
pub async fn relay_pending(
    store: &DynamoStore,
    queue: &EmailQueue,
    now: OffsetDateTime,
    grace_seconds: i64,
) -> Result<RelayReport, StoreError> {
    let cutoff = format_time(now - time::Duration::seconds(grace_seconds));
    let items = store
        .query_index_before(keys::OUTBOX_PENDING, &cutoff, 100)
        .await?;
    let mut report = RelayReport::default();
    for item in items {
        let reader = Reader::new(&item);
        let message: EmailMessage = match reader.s("payload").and_then(|payload| {
            serde_json::from_str(payload).map_err(|e| reader.malformed(format!("payload: {e}")))
        }) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(error = %cause_chain(&error), "outbox message is unreadable; skipped");
                report.failed += 1;
                continue;
            }
        };
        match queue.send(&message).await {
            Ok(()) => {
                mark_queued(store, &message.message_id).await?;
                report.queued += 1;
            }
            Err(error) => {
                tracing::error!(
                    tenant_id = %message.tenant_id,
                    message_id = %message.message_id,
                    error = %cause_chain(&error),
                    "relay could not queue the email"
                );
                report.failed += 1;
            }
        }
    }
    Ok(report)
}
