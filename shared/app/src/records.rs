//! Records the use cases read and write. Their mapping to DynamoDB items lives in `aws::dynamo`.

use std::collections::BTreeMap;

use onboarding_domain::audit::AuditRecord;
use onboarding_domain::email::EmailTemplate;
use onboarding_domain::entitlements::Downgrade;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::plans::PlanCatalog;
use onboarding_domain::provisioning::{Step, StepStatus};
use onboarding_domain::signup::{
    CompanyName, EmailAddress, Plan, Residency, Subdomain, UseCase, ValidSignup,
};
use onboarding_domain::usage::Usage;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A tenant as stored, including the head of its audit chain.
#[derive(Debug, Clone)]
pub struct TenantRecord {
    pub tenant_id: String,
    pub signup_id: Option<String>,
    pub email: EmailAddress,
    pub company_name: CompanyName,
    pub subdomain: Subdomain,
    pub residency: Residency,
    pub use_case: UseCase,
    pub plan: Plan,
    pub on_trial: bool,
    pub trial_ends_at: Option<OffsetDateTime>,
    pub state: TenantState,
    pub state_reason: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Sequence number of the newest audit entry.
    pub audit_seq: u64,
    /// Hash of the newest audit entry.
    pub audit_head: String,
    /// Current provisioning attempt, 0 before the first.
    pub attempt: u32,
    pub execution_arn: Option<String>,
    pub workspace_url: Option<String>,
    pub cell_id: Option<String>,
    pub commercial: CommercialState,
}

/// Plan, trial, billing and usage state of a tenant, kept on the tenant item so entitlements are
/// computed from one read.
#[derive(Debug, Clone, Default)]
pub struct CommercialState {
    /// IANA time zone of the tenant, for reminders on the right local day.
    pub time_zone: String,
    /// Version of the plan catalog the tenant bought.
    pub catalog_version: u32,
    /// End of the read-only grace period after the trial.
    pub grace_ends_at: Option<OffsetDateTime>,
    pub stripe_customer_id: Option<String>,
    pub subscription_id: Option<String>,
    /// Stripe's subscription status as last applied, unknown values kept as text.
    pub subscription_status: Option<String>,
    /// `created` (Unix seconds) of the newest Stripe event applied to the subscription.
    pub billing_event_created: Option<i64>,
    pub past_due_since: Option<OffsetDateTime>,
    /// Modules of a downgrade that are read-only until their window ends.
    pub downgrade: Option<Downgrade>,
    pub usage: Usage,
    /// Incremented by every usage write, so concurrent reports cannot overwrite each other.
    pub usage_version: u64,
    /// Threshold emails already sent, as `limit:percent:period`.
    pub limit_notices: Vec<String>,
    /// When the tenant's data was archived, after the trial grace period or a suspension.
    pub archived_at: Option<OffsetDateTime>,
    /// The MSP provider of a customer tenant; `None` for direct tenants and providers.
    pub parent_id: Option<String>,
    /// The path of a customer tenant under its provider's subdomain.
    pub customer_slug: Option<String>,
    /// Licenses per plan tier that the provider allocated to this customer tenant.
    pub licenses: std::collections::BTreeMap<String, u32>,
}

impl TenantRecord {
    /// Builds a new tenant from validated signup data, with `head` as the newest entry of its
    /// audit chain. Trial, attempt and execution fields start empty for the caller to set.
    pub fn new(
        tenant_id: &str,
        signup: &ValidSignup,
        state: TenantState,
        state_reason: &str,
        head: &AuditRecord,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            signup_id: None,
            email: signup.email.clone(),
            company_name: signup.company_name.clone(),
            subdomain: signup.subdomain.clone(),
            residency: signup.residency,
            use_case: signup.use_case,
            plan: signup.plan,
            on_trial: false,
            trial_ends_at: None,
            state,
            state_reason: state_reason.to_owned(),
            created_at: now,
            updated_at: now,
            audit_seq: head.seq,
            audit_head: head.hash.clone(),
            attempt: 0,
            execution_arn: None,
            workspace_url: None,
            cell_id: None,
            commercial: CommercialState {
                time_zone: signup.time_zone.as_str().to_owned(),
                catalog_version: PlanCatalog::current().version,
                ..CommercialState::default()
            },
        }
    }
}

impl TenantRecord {
    /// Partition keys of the claims this tenant owns: its subdomain and admin email, or for a
    /// customer of an MSP, its slug under the provider.
    pub fn claim_keys(&self) -> Vec<String> {
        match (&self.commercial.parent_id, &self.commercial.customer_slug) {
            (Some(provider), Some(slug)) => vec![crate::keys::slug_claim(provider, slug)],
            _ => vec![
                crate::keys::subdomain_claim(self.subdomain.as_str()),
                crate::keys::email_claim(self.email.as_str()),
            ],
        }
    }

    /// Returns the workspace URL: `https://{subdomain}.{base}`, or for a customer of an MSP, a
    /// path under its provider's workspace.
    pub fn workspace_url(&self, base_domain: &str) -> String {
        let base = onboarding_domain::workspace_url(&self.subdomain, base_domain);
        match &self.commercial.customer_slug {
            Some(slug) => format!("{base}/{slug}"),
            None => base,
        }
    }
}

/// A self-service signup and its current verification token.
#[derive(Debug, Clone)]
pub struct SignupRecord {
    pub signup_id: String,
    pub tenant_id: String,
    pub token_hash: String,
    pub token_expires_at: OffsetDateTime,
    pub verified_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// A verification token looked up by its hash.
#[derive(Debug, Clone)]
pub struct VerificationRecord {
    pub token_hash: String,
    pub signup_id: String,
    pub tenant_id: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// One provisioning step of one attempt.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub attempt: u32,
    pub step: Step,
    pub status: StepStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub error: Option<String>,
}

/// Location of a tenant's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStoreKind {
    /// A partition of the shared store of the residency region.
    Shared,
    /// A DynamoDB table of its own.
    Dedicated { table_name: String },
}

#[derive(Debug, Clone)]
pub struct DataStoreRecord {
    pub tenant_id: String,
    pub kind: DataStoreKind,
    pub aws_region: String,
    /// The tenant's data key, encrypted by KMS, base64.
    pub encrypted_data_key: String,
    pub ready: bool,
}

/// A secret sealed by KMS: only the notifier opens it, right before rendering the email.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedSecret {
    pub ciphertext: String,
    pub context: BTreeMap<String, String>,
}

/// One email on its way through the outbox and the queue. The literal `{secret}` in the
/// template's URLs is replaced by the opened secret just before rendering.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailMessage {
    pub message_id: String,
    pub tenant_id: String,
    pub to: String,
    #[serde(flatten)]
    pub template: EmailTemplate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SealedSecret>,
}

impl EmailMessage {
    /// Builds an email without secrets to a tenant's admin address.
    pub fn to_tenant(tenant: &TenantRecord, template: EmailTemplate) -> Self {
        Self {
            message_id: onboarding_domain::ids::MessageId::generate()
                .as_str()
                .to_owned(),
            tenant_id: tenant.tenant_id.clone(),
            to: tenant.email.as_str().to_owned(),
            template,
            secret: None,
        }
    }
}

/// Placeholder in email URLs for a sealed secret.
pub const SECRET_PLACEHOLDER: &str = "{secret}";
