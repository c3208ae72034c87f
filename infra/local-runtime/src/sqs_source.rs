//! SQS event source mapping: polls a queue in moto, invokes the function with a batch and deletes what succeeded.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::lambda_pool::FunctionPool;
use crate::moto::{MotoClient, Service};

/// One SQS event of one function.
#[derive(Clone)]
pub struct SqsMapping {
    pub function: Arc<FunctionPool>,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: u32,
    pub report_batch_item_failures: bool,
    pub region: String,
}

impl SqsMapping {
    /// Polls until `stop` turns true.
    pub async fn run(self, moto: MotoClient, mut stop: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(function = %self.function.spec.logical_id, queue = %self.queue_arn, batch_size = self.batch_size, "SQS event source started");
        let mut consecutive_errors = 0u32;
        loop {
            if *stop.borrow() {
                break;
            }
            let poll = self.poll_once(&moto);
            let outcome = tokio::select! {
                outcome = poll => outcome,
                _ = crate::lambda_pool::wait_until_set(&mut stop) => break,
            };
            match outcome {
                Ok(_) => consecutive_errors = 0,
                Err(error) => {
                    consecutive_errors += 1;
                    // Log the first failure and then every 30th, so a stopped moto does not flood the log.
                    if consecutive_errors == 1 || consecutive_errors.checked_rem(30) == Some(0) {
                        tracing::error!(function = %self.function.spec.logical_id, queue = %self.queue_arn, error = %error, failures = consecutive_errors, "SQS poll failed; retrying in 1 s");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        tracing::info!(function = %self.function.spec.logical_id, queue = %self.queue_arn, "SQS event source stopped");
    }

    /// Receives one batch, invokes the function and deletes the handled messages; returns the batch size.
    pub async fn poll_once(&self, moto: &MotoClient) -> Result<usize, crate::moto::MotoError> {
        let received = moto
            .call(
                Service::Sqs,
                "ReceiveMessage",
                &json!({
                    "QueueUrl": self.queue_url,
                    "MaxNumberOfMessages": self.batch_size.clamp(1, 10),
                    "WaitTimeSeconds": 1,
                    "AttributeNames": ["All"],
                    "MessageAttributeNames": ["All"],
                }),
            )
            .await?;
        let messages = received
            .get("Messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if messages.is_empty() {
            return Ok(0);
        }
        let event = self.build_event(&messages);
        let to_delete: Vec<&Value> = match self.function.invoke(&event).await {
            Ok(output) => {
                let failed = self.failed_ids(&output);
                if !failed.is_empty() {
                    tracing::info!(function = %self.function.spec.logical_id, failed = failed.len(), batch = messages.len(), "batch item failures reported; those messages stay in the queue");
                }
                messages
                    .iter()
                    .filter(|m| {
                        let id = m
                            .get("MessageId")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        !failed.contains(id)
                    })
                    .collect()
            }
            Err(error) => {
                tracing::warn!(function = %self.function.spec.logical_id, error = %error, batch = messages.len(), "function failed; the whole batch stays in the queue");
                Vec::new()
            }
        };
        for message in to_delete {
            let handle = message.get("ReceiptHandle").cloned().unwrap_or(Value::Null);
            moto.call(
                Service::Sqs,
                "DeleteMessage",
                &json!({ "QueueUrl": self.queue_url, "ReceiptHandle": handle }),
            )
            .await?;
        }
        Ok(messages.len())
    }

    fn failed_ids(&self, output: &Value) -> HashSet<String> {
        if !self.report_batch_item_failures {
            return HashSet::new();
        }
        output
            .get("batchItemFailures")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("itemIdentifier").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    }

    fn build_event(&self, messages: &[Value]) -> Value {
        let records: Vec<Value> = messages
            .iter()
            .map(|message| {
                let text = |field: &str| message.get(field).cloned().unwrap_or(Value::Null);
                let attributes = message.get("Attributes").cloned().unwrap_or(json!({}));
                let message_attributes: serde_json::Map<String, Value> = message
                    .get("MessageAttributes")
                    .and_then(Value::as_object)
                    .map(|attributes| {
                        attributes
                            .iter()
                            .map(|(name, value)| {
                                let field = |f: &str| value.get(f).cloned().unwrap_or(Value::Null);
                                (
                                    name.clone(),
                                    json!({
                                        "stringValue": field("StringValue"),
                                        "binaryValue": field("BinaryValue"),
                                        "stringListValues": [],
                                        "binaryListValues": [],
                                        "dataType": field("DataType"),
                                    }),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": text("MessageId"),
                    "receiptHandle": text("ReceiptHandle"),
                    "body": text("Body"),
                    "attributes": attributes,
                    "messageAttributes": message_attributes,
                    "md5OfBody": text("MD5OfBody"),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        json!({ "Records": records })
    }
}
