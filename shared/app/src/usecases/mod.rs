//! Use cases. Each function's `main` builds `Services` once and calls into one of these modules.

pub mod admin;
pub mod billing;
pub mod entitlements;
pub mod msp;
pub mod notify;
pub mod outbox;
pub mod provisioning;
pub mod scan;
pub mod signup;
pub mod trials;
pub mod verify;
pub mod watchdog;

use crate::aws::dynamo::DynamoStore;
use crate::aws::kms::Kms;
use crate::aws::ses::SesMailer;
use crate::aws::sfn::Workflow;
use crate::aws::sqs::EmailQueue;
use crate::aws::tables::TenantTables;
use crate::config::Config;
use crate::stripe::StripeClient;

/// Every adapter a function may need, built once per cold start from one SDK configuration.
#[derive(Clone)]
pub struct Services {
    pub config: Config,
    pub store: DynamoStore,
    pub queue: EmailQueue,
    pub kms: Kms,
    pub mailer: SesMailer,
    pub workflow: Workflow,
    pub tables: TenantTables,
    pub stripe: StripeClient,
}

impl Services {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        Self {
            store: DynamoStore::from_sdk_config(sdk, &config.table_name),
            queue: EmailQueue::new(sdk, &config.email_queue_url),
            kms: Kms::new(sdk, &config.kms_key_id),
            mailer: SesMailer::new(sdk, &config.sender_email),
            workflow: Workflow::new(sdk, &config.state_machine_arn),
            tables: TenantTables::new(sdk),
            stripe: StripeClient::new(config.stripe.clone()),
            config,
        }
    }

    /// Reads the configuration and the SDK settings from the environment.
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let sdk = crate::aws::load_sdk_config().await;
        Ok(Self::new(config, &sdk))
    }
}
