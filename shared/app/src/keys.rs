//! Every partition and sort key of the single table is built here, so the key design in
//! docs/architecture.md has exactly one implementation.

use onboarding_domain::lifecycle::TenantState;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const TTL: &str = "expires_at";

pub const TENANT_SK: &str = "TENANT";
pub const SIGNUP_SK: &str = "SIGNUP";
pub const CLAIM_SK: &str = "CLAIM";
pub const DATASTORE_SK: &str = "DATASTORE";
pub const CONFIG_SK: &str = "CONFIG";
pub const MODULES_SK: &str = "MODULES";
pub const INVITATION_SK: &str = "INVITATION";
pub const CELL_SK: &str = "CELL";
pub const AUDIT_PREFIX: &str = "AUDIT#";
pub const STEP_PREFIX: &str = "STEP#";
pub const MEMBER_PREFIX: &str = "MEMBER#";
pub const OUTBOX_PENDING: &str = "OUTBOX#PENDING";

pub fn tenant(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

pub fn signup(signup_id: &str) -> String {
    format!("SIGNUP#{signup_id}")
}

pub fn verification(token_hash: &str) -> String {
    format!("VERIFY#{token_hash}")
}

pub fn invitation_token(token_hash: &str) -> String {
    format!("INVITE#{token_hash}")
}

pub fn subdomain_claim(subdomain: &str) -> String {
    format!("SUBDOMAIN#{subdomain}")
}

pub fn email_claim(email: &str) -> String {
    format!("EMAIL#{email}")
}

pub fn audit(seq: u64) -> String {
    format!("{AUDIT_PREFIX}{seq:010}")
}

/// Sort key prefix of the step records of one provisioning attempt.
pub fn step_prefix(attempt: u32) -> String {
    format!("{STEP_PREFIX}{attempt:03}#")
}

pub fn step(attempt: u32, index: usize) -> String {
    format!("{}{index:02}", step_prefix(attempt))
}

pub fn cell(cell_id: &str) -> String {
    format!("CELL#{cell_id}")
}

pub fn cell_member(tenant_id: &str) -> String {
    format!("{MEMBER_PREFIX}{tenant_id}")
}

pub fn rate(scope: &str, key: &str, window: i64) -> String {
    format!("RATE#{scope}#{key}#{window}")
}

pub fn outbox(message_id: &str) -> String {
    format!("OUTBOX#{message_id}")
}

pub fn delivery(message_id: &str) -> String {
    format!("DELIVERY#{message_id}")
}

/// GSI1 partition that lists tenants in one lifecycle state.
pub fn state_index(state: TenantState) -> String {
    format!("STATE#{}", state.as_str())
}

/// Name of the DynamoDB table of a tenant on a dedicated cell.
pub fn dedicated_table(tenant_id: &str) -> String {
    format!("tenant-{tenant_id}")
}

pub const DEDICATED_TABLE_PREFIX: &str = "tenant-";

/// Partition of the scheduled trial and billing events due in one UTC hour, `YYYY-MM-DDTHH`.
pub fn schedule(hour_bucket: &str) -> String {
    format!("SCHEDULE#{hour_bucket}")
}

pub fn scheduled_event(due_at: &str, tenant_id: &str, kind: &str) -> String {
    format!("{due_at}#{tenant_id}#{kind}")
}

pub fn trial_extension(extension_id: &str) -> String {
    format!("TRIALEXT#{extension_id}")
}

pub fn stripe_event(event_id: &str) -> String {
    format!("STRIPE_EVENT#{event_id}")
}

pub fn stripe_customer(customer_id: &str) -> String {
    format!("STRIPE_CUSTOMER#{customer_id}")
}

/// Claim of a customer slug, unique within its MSP provider.
pub fn slug_claim(provider_id: &str, slug: &str) -> String {
    format!("SLUG#{provider_id}#{slug}")
}

/// Partition of an MSP provider's customer list, sorted by slug.
pub fn provider_customers(provider_id: &str) -> String {
    format!("PROVIDER#{provider_id}")
}

pub const CUSTOMER_PREFIX: &str = "CUSTOMER#";

pub fn provider_customer(slug: &str) -> String {
    format!("{CUSTOMER_PREFIX}{slug}")
}

/// Partition of an MSP provider's license pool, one item per plan tier.
pub fn pool(provider_id: &str) -> String {
    format!("POOL#{provider_id}")
}

pub fn pool_tier(tier: &str) -> String {
    format!("TIER#{tier}")
}
