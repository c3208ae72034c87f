//! Errors of the adapters, classified so callers can tell a retryable failure from a fatal one.

use std::error::Error as StdError;

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// Whether retrying the same call later can succeed.
pub trait Retryable {
    fn is_transient(&self) -> bool;
}

/// A failed call to the single table.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition of a single-item write did not hold.
    #[error("the condition of the write to {item} did not hold")]
    ConditionFailed { item: String },
    /// A transaction was cancelled; `reasons` has one entry per item, `None` where the item was fine.
    #[error("the transaction was cancelled: {reasons:?}")]
    TransactionCancelled { reasons: Vec<Option<String>> },
    /// An item exists but cannot be read into its type: a bug or a manual edit.
    #[error("item {item} is malformed: {reason}")]
    Malformed { item: String, reason: String },
    /// Throttling, a 5xx response, or a network failure.
    #[error("DynamoDB call {operation} failed transiently")]
    Transient {
        operation: &'static str,
        #[source]
        source: Source,
    },
    /// Any other failure of the SDK call.
    #[error("DynamoDB call {operation} failed")]
    Failed {
        operation: &'static str,
        #[source]
        source: Source,
    },
}

impl StoreError {
    /// Returns the cancellation reason of item `index` of a cancelled transaction.
    pub fn cancellation_reason(&self, index: usize) -> Option<&str> {
        match self {
            Self::TransactionCancelled { reasons } => reasons.get(index)?.as_deref(),
            _ => None,
        }
    }

    /// Returns whether item `index` of a cancelled transaction failed its condition.
    pub fn condition_failed_at(&self, index: usize) -> bool {
        self.cancellation_reason(index) == Some("ConditionalCheckFailed")
    }
}

impl Retryable for StoreError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Transient { .. } => true,
            Self::TransactionCancelled { reasons } => reasons.iter().flatten().any(|reason| {
                matches!(
                    reason.as_str(),
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            }),
            _ => false,
        }
    }
}

/// A failed call to another AWS service (SQS, SES, KMS, Step Functions).
#[derive(Debug, thiserror::Error)]
#[error("{service} call {operation} failed{}", if *.transient { " transiently" } else { "" })]
pub struct ServiceError {
    pub service: &'static str,
    pub operation: &'static str,
    pub transient: bool,
    /// The error code the service returned, when it returned one.
    pub code: Option<String>,
    #[source]
    pub source: Source,
}

impl Retryable for ServiceError {
    fn is_transient(&self) -> bool {
        self.transient
    }
}

/// Error codes that AWS services use for throttling and server-side failures.
pub fn is_transient_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "ThrottledException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "ProvisionedThroughputExceededException"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "InternalServerError"
                | "InternalFailure"
                | "InternalServerException"
                | "KMSInternalException"
                | "DependencyTimeoutException"
                | "LimitExceededException"
        )
    )
}
