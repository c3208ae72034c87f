//! MSP providers: license pools, customer tenants at `https://{provider}.{base}/{slug}`, and
//! allocations that can never exceed the pool.
//!
//! Two levels only: a provider is a tenant on the msp plan that is not itself a customer, and a
//! customer can never have customers. Pool counters change only by conditional writes that name
//! the counter values they were computed from, in the same transaction as the customer's licenses
//! and the audit entries of both tenants, so concurrent allocations cannot over-allocate and a
//! repeated release changes nothing.
//!
//! Policy when a provider is suspended, or its pool shrinks below what is allocated: no new
//! licenses can be allocated (releases still work), and existing customers keep their licenses
//! and access. The provider is notified.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::TransactWriteItem;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use onboarding_domain::audit::Actor;
use onboarding_domain::ids::TenantId;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::signup::{
    CompanyName, DisposableDomains, EmailAddress, FieldError, Plan, Residency, Subdomain, UseCase,
    ValidSignup, ValidationErrors,
};
use onboarding_domain::trial::TimeZone;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::entitlements::load_tenant;
use super::provisioning::start_execution;
use super::verify::execution_name;
use super::Services;
use crate::aws::dynamo::{
    audit_item, first_audit, following_audit, tenant_item, DynamoStore, TenantChange,
};
use crate::aws::items::{format_time, n, s, Item, Reader};
use crate::error::StoreError;
use crate::http::ApiError;
use crate::keys;
use crate::records::TenantRecord;

/// Plan tiers a provider can buy and allocate. Customers are never on the msp plan.
pub const TIERS: [Plan; 3] = [Plan::Basic, Plan::Professional, Plan::Enterprise];
/// Most customers returned by one page of the customer list.
pub const MAX_PAGE: i32 = 200;
const DEFAULT_PAGE: i32 = 50;
/// Most licenses of one tier a single customer can hold.
const MAX_LICENSES_PER_TIER: u32 = 100_000;

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::Conflict {
        errors: vec![],
        message: message.into(),
    }
}

/// Reads a provider, checking that it may have customers.
pub async fn load_provider(
    store: &DynamoStore,
    provider_id: &str,
) -> Result<TenantRecord, ApiError> {
    let provider = load_tenant(store, provider_id).await?;
    if provider.commercial.parent_id.is_some() {
        return Err(conflict(format!(
            "tenant {provider_id} is a customer of an MSP; customers cannot have customers of their own (only two levels)"
        )));
    }
    if provider.plan != Plan::Msp {
        return Err(conflict(format!(
            "tenant {provider_id} is on the {} plan; only tenants on the msp plan manage customers",
            provider.plan.as_str()
        )));
    }
    Ok(provider)
}

/// Reads a customer of `provider_id`; a tenant of another provider is reported as not found.
async fn load_customer(
    store: &DynamoStore,
    provider_id: &str,
    customer_id: &str,
) -> Result<TenantRecord, ApiError> {
    let customer = load_tenant(store, customer_id).await?;
    if customer.commercial.parent_id.as_deref() != Some(provider_id) {
        return Err(ApiError::NotFound(format!(
            "tenant {provider_id} has no customer {customer_id}"
        )));
    }
    Ok(customer)
}

// ---- pool ------------------------------------------------------------------------------------

/// Purchased and allocated licenses of one tier.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TierCount {
    pub tier: String,
    pub purchased: u64,
    pub allocated: u64,
    pub free: u64,
}

#[derive(Debug, Serialize)]
pub struct PoolView {
    pub provider_id: String,
    pub tiers: Vec<TierCount>,
    /// True when a tier has more allocated than purchased, after the pool shrank.
    pub over_allocated: bool,
    pub policy: &'static str,
}

pub const POLICY: &str = "while the provider is suspended or a tier is over-allocated, no new licenses can be allocated; releases still work, and existing customers keep their licenses and access";

async fn read_pool(
    store: &DynamoStore,
    provider_id: &str,
) -> Result<BTreeMap<String, TierCount>, StoreError> {
    let items = store.query_prefix(keys::pool(provider_id), "TIER#").await?;
    let mut tiers: BTreeMap<String, TierCount> = TIERS
        .iter()
        .map(|tier| {
            (
                tier.as_str().to_owned(),
                TierCount {
                    tier: tier.as_str().to_owned(),
                    ..Default::default()
                },
            )
        })
        .collect();
    for item in items {
        let r = Reader::new(&item);
        let tier = r.s("tier")?.to_owned();
        let purchased: u64 = r.opt_n("purchased")?.unwrap_or(0);
        let allocated: u64 = r.opt_n("allocated")?.unwrap_or(0);
        tiers.insert(
            tier.clone(),
            TierCount {
                tier,
                purchased,
                allocated,
                free: purchased.saturating_sub(allocated),
            },
        );
    }
    Ok(tiers)
}

/// Lists pool counts from basic to enterprise, then any other tier found in the table.
fn in_tier_order(mut pool: BTreeMap<String, TierCount>) -> Vec<TierCount> {
    let mut ordered: Vec<TierCount> = TIERS
        .iter()
        .filter_map(|tier| pool.remove(tier.as_str()))
        .collect();
    ordered.extend(pool.into_values());
    ordered
}

pub async fn pool_view(services: &Services, provider_id: &str) -> Result<PoolView, ApiError> {
    load_provider(&services.store, provider_id).await?;
    let tiers: Vec<TierCount> = read_pool(&services.store, provider_id)
        .await?
        .into_values()
        .collect();
    Ok(PoolView {
        provider_id: provider_id.to_owned(),
        over_allocated: tiers.iter().any(|t| t.allocated > t.purchased),
        tiers,
        policy: POLICY,
    })
}

/// Builds the write that adds `quantity` purchased licenses of `tier` to a pool. A purchase
/// through a Stripe subscription also records the subscription and its quantity, so later
/// changes of the subscription adjust the pool by the difference.
pub fn purchase_write(
    store: &DynamoStore,
    provider_id: &str,
    tier: Plan,
    quantity: u64,
    subscription: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let mut expression = "SET tier = :tier, allocated = if_not_exists(allocated, :zero)".to_owned();
    let mut values = vec![
        (":tier", s(tier.as_str())),
        (":zero", n(0)),
        (":quantity", n(quantity)),
    ];
    if let Some(subscription) = subscription {
        expression.push_str(", subscription_id = :subscription, subscription_quantity = :quantity");
        values.push((":subscription", s(subscription)));
    }
    expression.push_str(" ADD purchased :quantity");
    store.update(
        keys::pool(provider_id),
        &keys::pool_tier(tier.as_str()),
        &expression,
        None,
        values,
        vec![],
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    pub tier: Option<String>,
    pub quantity: Option<u64>,
    pub reason: Option<String>,
}

fn parse_tier(field: &str, value: &str) -> Result<Plan, FieldError> {
    match Plan::parse(value) {
        Ok(plan) if TIERS.contains(&plan) => Ok(plan),
        _ => Err(FieldError::invalid(
            field,
            format!("{field} must be basic, professional or enterprise; got {value:?}"),
        )),
    }
}

/// Grants licenses to a provider's pool, as a platform admin, audited on the provider.
pub async fn grant_licenses(
    services: &Services,
    admin: &str,
    provider_id: &str,
    body: &GrantBody,
    now: OffsetDateTime,
) -> Result<PoolView, ApiError> {
    let mut errors = Vec::new();
    let tier = parse_tier("tier", body.tier.as_deref().unwrap_or_default())
        .map_err(|e| errors.push(e))
        .ok();
    let quantity = body.quantity.unwrap_or(0);
    if !(1..=1_000_000).contains(&quantity) {
        errors.push(FieldError::invalid(
            "quantity",
            format!("quantity must be from 1 to 1000000; got {quantity}"),
        ));
    }
    let reason = body.reason.clone().unwrap_or_default();
    if reason.trim().is_empty() || reason.chars().any(char::is_control) {
        errors.push(FieldError::invalid("reason", "reason is required, without control characters, so the grant is explained in the audit trail"));
    }
    let Some(tier) = tier.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(ValidationErrors(errors)));
    };
    let store = &services.store;
    let actor = Actor::platform_admin(admin).map_err(|e| ApiError::Forbidden(e.to_string()))?;
    for _ in 0..5 {
        let provider = load_provider(store, provider_id).await?;
        let change = TenantChange::new(
            actor.clone(),
            "msp.licenses_granted",
            format!(
                "{quantity} {} licenses granted: {}",
                tier.as_str(),
                reason.trim()
            ),
        )
        .with(purchase_write(store, provider_id, tier, quantity, None)?);
        match store.commit_change(&provider, change, now).await {
            Ok(_) => return pool_view(services, provider_id).await,
            Err(error) if error.condition_failed_at(0) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(conflict("the provider kept changing; retry the grant"))
}

// ---- customers -------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub slug: Option<String>,
    pub company_name: Option<String>,
    pub admin_email: Option<String>,
    pub region: Option<String>,
    pub use_case: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CustomerView {
    pub customer_id: String,
    pub provider_id: String,
    pub slug: String,
    pub company_name: String,
    pub workspace_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<TenantState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licenses: Option<BTreeMap<String, u32>>,
}

/// Workspace URL of a customer: a path under its provider's workspace.
pub fn customer_url(services: &Services, provider_subdomain: &Subdomain, slug: &str) -> String {
    format!(
        "{}/{slug}",
        onboarding_domain::workspace_url(
            provider_subdomain,
            &services.config.workspace_base_domain
        )
    )
}

fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, FieldError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| FieldError::missing(field))
}

struct ValidCustomer {
    slug: Subdomain,
    signup: ValidSignup,
}

fn validate_customer(
    services: &Services,
    provider: &TenantRecord,
    body: &NewCustomer,
) -> Result<ValidCustomer, ApiError> {
    let mut errors = Vec::new();
    let slug = required("slug", &body.slug)
        .and_then(Subdomain::parse)
        .map_err(|mut e| {
            // Slugs follow the subdomain rules; the error names the field the caller sent.
            e.field = "slug".into();
            e.message = e.message.replace("subdomain", "slug");
            e
        })
        .map_err(|e| errors.push(e))
        .ok();
    let company_name = required("company_name", &body.company_name)
        .and_then(CompanyName::parse)
        .map_err(|e| errors.push(e))
        .ok();
    let email = required("admin_email", &body.admin_email)
        .and_then(EmailAddress::parse)
        .map_err(|mut e| {
            e.field = "admin_email".into();
            e
        })
        .and_then(|email| {
            if DisposableDomains::builtin().is_disposable(&email) {
                Err(FieldError::new(
                    "admin_email",
                    "disposable",
                    "disposable email domains are not accepted; use a company address",
                ))
            } else {
                Ok(email)
            }
        })
        .map_err(|e| errors.push(e))
        .ok();
    let residency = match body.region.as_deref() {
        None => Some(provider.residency),
        Some(region) => Residency::parse(region)
            .and_then(|r| {
                if services.config.served_regions.contains(r) {
                    Ok(r)
                } else {
                    Err(FieldError::new(
                        "region",
                        "unsupported",
                        format!("region {region} is not served by this deployment"),
                    ))
                }
            })
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let use_case = match body.use_case.as_deref().unwrap_or("itsm") {
        "msp" => {
            errors.push(FieldError::new(
                "use_case",
                "unsupported",
                "a customer of an MSP cannot be an MSP itself (only two levels); choose itsm, itom or full_suite",
            ));
            None
        }
        other => UseCase::parse(other).map_err(|e| errors.push(e)).ok(),
    };
    match (slug, company_name, email, residency, use_case) {
        (Some(slug), Some(company_name), Some(email), Some(residency), Some(use_case))
            if errors.is_empty() =>
        {
            Ok(ValidCustomer {
                signup: ValidSignup {
                    email,
                    company_name,
                    subdomain: provider.subdomain.clone(),
                    residency,
                    use_case,
                    plan: Plan::Basic,
                    time_zone: TimeZone::parse(&provider.commercial.time_zone).unwrap_or_default(),
                },
                slug,
            })
        }
        _ => Err(ApiError::Validation(ValidationErrors(errors))),
    }
}

/// Creates a customer tenant under a provider and starts its provisioning.
#[tracing::instrument(skip_all, fields(provider_id, tenant_id))]
pub async fn create_customer(
    services: &Services,
    caller: &str,
    provider_id: &str,
    body: &NewCustomer,
    now: OffsetDateTime,
) -> Result<CustomerView, ApiError> {
    tracing::Span::current().record("provider_id", provider_id);
    let store = &services.store;
    let new_id = TenantId::generate();
    let customer_id = new_id.as_str().to_owned();
    tracing::Span::current().record("tenant_id", customer_id.as_str());
    let actor = Actor::user(caller).map_err(ApiError::unexpected)?;
    for _ in 0..5 {
        let provider = load_provider(store, provider_id).await?;
        if provider.state != TenantState::Active {
            return Err(conflict(format!(
                "provider {provider_id} is {}; new customers need an active provider",
                provider.state.as_str()
            )));
        }
        let valid = validate_customer(services, &provider, body)?;
        let slug = valid.slug.as_str().to_owned();
        let url = customer_url(services, &provider.subdomain, &slug);
        let created = first_audit(
            &new_id,
            actor.clone(),
            "tenant.created",
            &format!("customer {slug} of MSP {provider_id}"),
            TenantState::Pending,
            now,
        );
        let started = following_audit(
            &created,
            actor.clone(),
            "provisioning.started",
            "customer of an MSP, no email verification needed",
            TenantState::Provisioning,
            now,
        );
        let name = execution_name(&customer_id, 1);
        let mut tenant = TenantRecord::new(
            &customer_id,
            &valid.signup,
            TenantState::Provisioning,
            "created by its MSP",
            &started,
            now,
        );
        tenant.attempt = 1;
        tenant.execution_arn = Some(services.workflow.execution_arn(&name));
        tenant.commercial.parent_id = Some(provider_id.to_owned());
        tenant.commercial.customer_slug = Some(slug.clone());
        let mut claim = DynamoStore::key(keys::slug_claim(provider_id, &slug), keys::CLAIM_SK);
        claim.insert("tenant_id".into(), s(&customer_id));
        let mut entry: Item = DynamoStore::key(
            keys::provider_customers(provider_id),
            keys::provider_customer(&slug),
        );
        entry.insert("tenant_id".into(), s(&customer_id));
        entry.insert("slug".into(), s(&slug));
        entry.insert("company_name".into(), s(valid.signup.company_name.as_str()));
        entry.insert("admin_email".into(), s(valid.signup.email.as_str()));
        entry.insert("created_at".into(), s(format_time(now)));
        let provider_change = TenantChange::new(
            actor.clone(),
            "msp.customer_created",
            format!("customer {slug} ({customer_id}) created"),
        );
        let (mut writes, _) = store.change_writes(&provider, provider_change, now)?;
        // Index 2 is the slug claim: its failure means the slug is taken.
        writes.extend([
            store.put_new(claim)?,
            store.put_new(tenant_item(&tenant))?,
            store.put_new(audit_item(&created))?,
            store.put_new(audit_item(&started))?,
            store.put_new(entry)?,
        ]);
        match store.transact(writes).await {
            Ok(()) => {
                tracing::info!(slug, "MSP customer created");
                start_execution(services, &customer_id, 1).await;
                return Ok(CustomerView {
                    customer_id,
                    provider_id: provider_id.to_owned(),
                    slug,
                    company_name: valid.signup.company_name.as_str().to_owned(),
                    workspace_url: url,
                    state: Some(TenantState::Provisioning),
                    licenses: Some(BTreeMap::new()),
                });
            }
            Err(error) if error.condition_failed_at(2) => {
                return Err(ApiError::Conflict {
                    errors: vec![FieldError::new("slug", "taken", format!("slug {slug} is already used by another customer of this provider; choose another one"))],
                    message: format!("slug {slug} is already taken"),
                });
            }
            Err(error) if error.condition_failed_at(0) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(conflict("the provider kept changing; retry"))
}

#[derive(Debug, Serialize)]
pub struct CustomerPage {
    pub customers: Vec<CustomerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Lists a provider's customers by slug, one page at a time, with a Query on the provider's
/// partition: the cost of a page does not depend on how many customers there are.
pub async fn list_customers(
    services: &Services,
    provider_id: &str,
    cursor: Option<&str>,
    limit: Option<&str>,
) -> Result<CustomerPage, ApiError> {
    let provider = load_provider(&services.store, provider_id).await?;
    let limit = match limit {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<i32>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| {
                ApiError::Validation(ValidationErrors(vec![FieldError::invalid(
                    "limit",
                    format!("limit must be from 1 to {MAX_PAGE}; got {text:?}"),
                )]))
            })?,
    };
    let start = match cursor {
        None => None,
        Some(cursor) => {
            let sort_key = URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .filter(|key| key.starts_with(keys::CUSTOMER_PREFIX))
                .ok_or_else(|| {
                    ApiError::Validation(ValidationErrors(vec![FieldError::invalid(
                        "cursor",
                        "cursor is not one this API returned; start again without it",
                    )]))
                })?;
            Some(DynamoStore::key(
                keys::provider_customers(provider_id),
                sort_key,
            ))
        }
    };
    let store = &services.store;
    let output = store
        .client()
        .query()
        .table_name(store.table_name())
        .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
        .expression_attribute_values(":pk", s(keys::provider_customers(provider_id)))
        .expression_attribute_values(":prefix", s(keys::CUSTOMER_PREFIX))
        .limit(limit)
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| ApiError::unexpected(crate::aws::store_error("Query", e)))?;
    let customers = output
        .items
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let r = Reader::new(item);
            let slug = r.s("slug")?.to_owned();
            Ok(CustomerView {
                customer_id: r.s("tenant_id")?.to_owned(),
                provider_id: provider_id.to_owned(),
                workspace_url: customer_url(services, &provider.subdomain, &slug),
                slug,
                company_name: r.opt_s("company_name").unwrap_or_default().to_owned(),
                state: None,
                licenses: None,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let next_cursor = output
        .last_evaluated_key
        .and_then(|key| key.get(keys::SK).and_then(|v| v.as_s().ok()).cloned())
        .map(|sort_key| URL_SAFE_NO_PAD.encode(sort_key));
    Ok(CustomerPage {
        customers,
        next_cursor,
    })
}

pub async fn get_customer(
    services: &Services,
    provider_id: &str,
    customer_id: &str,
) -> Result<CustomerView, ApiError> {
    let provider = load_provider(&services.store, provider_id).await?;
    let customer = load_customer(&services.store, provider_id, customer_id).await?;
    let slug = customer
        .commercial
        .customer_slug
        .clone()
        .unwrap_or_default();
    Ok(CustomerView {
        customer_id: customer.tenant_id.clone(),
        provider_id: provider_id.to_owned(),
        workspace_url: customer_url(services, &provider.subdomain, &slug),
        slug,
        company_name: customer.company_name.as_str().to_owned(),
        state: Some(customer.state),
        licenses: Some(customer.commercial.licenses.clone()),
    })
}

// ---- allocations -----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationBody {
    /// Counts per tier, read as JSON values so each bad one is reported by its field.
    pub licenses: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Serialize)]
pub struct AllocationResult {
    pub customer_id: String,
    pub licenses: BTreeMap<String, u32>,
    /// False when the request changed nothing, such as a repeated release.
    pub changed: bool,
    pub pool: Vec<TierCount>,
}

/// Checks licenses sent as JSON: every tier must be known and every count a whole number.
pub fn parse_licenses(
    requested: &BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, u32>, ApiError> {
    let mut errors = Vec::new();
    let mut counts = BTreeMap::new();
    for (tier, value) in requested {
        match value.as_u64().and_then(|count| u32::try_from(count).ok()) {
            Some(count) => {
                counts.insert(tier.clone(), count);
            }
            None => errors.push(FieldError::invalid(
                &format!("licenses.{tier}"),
                format!("licenses.{tier} must be a whole number from 0 to {MAX_LICENSES_PER_TIER}; got {value}"),
            )),
        }
    }
    match validate_licenses(&counts) {
        Err(ApiError::Validation(more)) => errors.extend(more.0),
        Err(other) => return Err(other),
        Ok(valid) if errors.is_empty() => return Ok(valid),
        Ok(_) => {}
    }
    Err(ApiError::Validation(ValidationErrors(errors)))
}

fn validate_licenses(requested: &BTreeMap<String, u32>) -> Result<BTreeMap<String, u32>, ApiError> {
    let mut errors = Vec::new();
    let mut licenses = BTreeMap::new();
    for (tier, count) in requested {
        let field = format!("licenses.{tier}");
        match parse_tier(&field, tier) {
            Err(error) => errors.push(error),
            Ok(_) if *count > MAX_LICENSES_PER_TIER => errors.push(FieldError::invalid(
                &field,
                format!("at most {MAX_LICENSES_PER_TIER} licenses per tier; got {count}"),
            )),
            Ok(plan) if *count > 0 => {
                licenses.insert(plan.as_str().to_owned(), *count);
            }
            Ok(_) => {}
        }
    }
    if errors.is_empty() {
        Ok(licenses)
    } else {
        Err(ApiError::Validation(ValidationErrors(errors)))
    }
}

/// Returns the plan a customer gets from its licenses: the highest tier it holds, if any.
fn plan_of(licenses: &BTreeMap<String, u32>) -> Option<Plan> {
    TIERS
        .iter()
        .rev()
        .copied()
        .find(|tier| licenses.get(tier.as_str()).copied().unwrap_or(0) > 0)
}

/// Sets a customer's licenses per tier; an empty map releases them all. Increases need free
/// licenses in the pool and an active provider; decreases always work and never take a counter
/// below zero.
#[tracing::instrument(skip_all, fields(provider_id, tenant_id = customer_id))]
pub async fn set_allocation(
    services: &Services,
    caller: &str,
    provider_id: &str,
    customer_id: &str,
    requested: &BTreeMap<String, u32>,
    now: OffsetDateTime,
) -> Result<AllocationResult, ApiError> {
    tracing::Span::current().record("provider_id", provider_id);
    let wanted = validate_licenses(requested)?;
    let store = &services.store;
    let actor = Actor::user(caller).map_err(ApiError::unexpected)?;
    for _ in 0..12 {
        let provider = load_provider(store, provider_id).await?;
        let customer = load_customer(store, provider_id, customer_id).await?;
        let current = customer.commercial.licenses.clone();
        let pool = read_pool(store, provider_id).await?;
        if current == wanted {
            return Ok(AllocationResult {
                customer_id: customer_id.to_owned(),
                licenses: current,
                changed: false,
                pool: in_tier_order(pool),
            });
        }
        let mut pool_writes = Vec::new();
        let mut summary = Vec::new();
        for tier in TIERS {
            let name = tier.as_str();
            let before = i64::from(current.get(name).copied().unwrap_or(0));
            let after = i64::from(wanted.get(name).copied().unwrap_or(0));
            let delta = after - before;
            if delta == 0 {
                continue;
            }
            summary.push(format!("{name} {before} → {after}"));
            let counts = pool.get(name).cloned().unwrap_or_default();
            if delta > 0 {
                if provider.state != TenantState::Active {
                    return Err(conflict(format!(
                        "provider is {}; {POLICY}",
                        provider.state.as_str()
                    )));
                }
                let free = counts.purchased.saturating_sub(counts.allocated);
                if (delta as u64) > free {
                    return Err(ApiError::Conflict {
                        errors: vec![FieldError::new(&format!("licenses.{name}"), "pool_exhausted", format!("the pool has {free} free {name} licenses; {delta} more were requested"))],
                        message: format!("not enough free {name} licenses: {free} free, {delta} requested"),
                    });
                }
                // The write names the counts it was computed from, so a concurrent allocation
                // that changed them makes this one fail and read again.
                pool_writes.push(store.update(
                    keys::pool(provider_id),
                    &keys::pool_tier(name),
                    "ADD allocated :delta",
                    Some("purchased = :purchased AND allocated = :allocated"),
                    vec![
                        (":delta", n(delta)),
                        (":purchased", n(counts.purchased)),
                        (":allocated", n(counts.allocated)),
                    ],
                    vec![],
                )?);
            } else {
                pool_writes.push(store.update(
                    keys::pool(provider_id),
                    &keys::pool_tier(name),
                    "ADD allocated :delta",
                    Some("allocated >= :release"),
                    vec![(":delta", n(delta)), (":release", n(-delta))],
                    vec![],
                )?);
            }
        }
        let reason = summary.join(", ");
        let licenses_json = serde_json::to_string(&wanted).map_err(ApiError::unexpected)?;
        let mut customer_change = TenantChange::new(
            actor.clone(),
            if wanted.is_empty() {
                "msp.licenses_released"
            } else {
                "msp.licenses_allocated"
            },
            reason.clone(),
        )
        .set("licenses", s(licenses_json));
        // Without licenses the customer falls back to basic, and its entitlements are blocked.
        let plan = plan_of(&wanted).unwrap_or(Plan::Basic);
        customer_change = customer_change.set("plan", s(plan.as_str()));
        let provider_change = TenantChange::new(
            actor.clone(),
            "msp.customer_licenses_changed",
            format!("customer {customer_id}: {reason}"),
        );
        let (mut writes, _) = store.change_writes(&customer, customer_change, now)?;
        let (provider_writes, _) = store.change_writes(&provider, provider_change, now)?;
        writes.extend(provider_writes);
        writes.extend(pool_writes);
        match store.transact(writes).await {
            Ok(()) => {
                tracing::info!(%reason, "licenses changed");
                let pool = read_pool(store, provider_id).await?;
                return Ok(AllocationResult {
                    customer_id: customer_id.to_owned(),
                    licenses: wanted,
                    changed: true,
                    pool: in_tier_order(pool),
                });
            }
            // A concurrent change to either tenant or the pool: read everything again.
            Err(StoreError::TransactionCancelled { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(conflict("the pool kept changing while allocating; retry"))
}

/// Parses a tenant id from a path, failing with 404 for ids that cannot exist.
pub fn parse_tenant_id(value: &str) -> Result<String, ApiError> {
    TenantId::parse(value)
        .map(|id| id.as_str().to_owned())
        .map_err(|_| ApiError::NotFound(format!("tenant {value} does not exist")))
}
