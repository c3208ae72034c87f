//! AWS adapters behind the ports of `crate::ports`. Clients are built once per cold start.

pub mod dynamo;
pub mod items;
pub mod kms;
pub mod ses;
pub mod sfn;
pub mod sqs;
pub mod tables;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::{is_transient_code, ServiceError, StoreError};

/// Loads the SDK configuration of the process once from the environment. Locally the endpoints
/// come from `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_SFN`, and in Lambda they are the defaults.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Returns whether an SDK error is worth retrying, and the service's error code if it sent one.
pub(crate) fn classify<E>(error: &SdkError<E, HttpResponse>) -> (bool, Option<String>)
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            (true, None)
        }
        SdkError::ServiceError(context) => {
            let code = context.err().code().map(str::to_owned);
            let server_side = context.raw().status().as_u16() >= 500;
            (server_side || is_transient_code(code.as_deref()), code)
        }
        _ => (false, error.code().map(str::to_owned)),
    }
}

pub(crate) fn store_error<E>(
    operation: &'static str,
    error: SdkError<E, HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (transient, _) = classify(&error);
    if transient {
        StoreError::Transient {
            operation,
            source: Box::new(error),
        }
    } else {
        StoreError::Failed {
            operation,
            source: Box::new(error),
        }
    }
}

pub(crate) fn service_error<E>(
    service: &'static str,
    operation: &'static str,
    error: SdkError<E, HttpResponse>,
) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (transient, code) = classify(&error);
    ServiceError {
        service,
        operation,
        transient,
        code,
        source: Box::new(error),
    }
}
