//! Entitlements, usage reports and the per-tenant API rate limit. Entitlements are computed from
//! the tenant item alone, so a feature check costs one read.

use aws_sdk_dynamodb::types::AttributeValue;
use onboarding_domain::email::EmailTemplate;
use onboarding_domain::entitlements::{AccessMode, EntitlementInput, Entitlements};
use onboarding_domain::ids::{MessageId, TenantId};
use onboarding_domain::plans::{Limit, PlanCatalog};
use onboarding_domain::usage::{crossed_thresholds, Threshold, UsageReport};
use time::OffsetDateTime;

use super::outbox::{dispatch, outbox_write};
use super::trials::upgrade_url;
use super::Services;
use crate::aws::dynamo::DynamoStore;
use crate::aws::items::{n, s};
use crate::http::ApiError;
use crate::keys;
use crate::records::{EmailMessage, TenantRecord};

/// Reads a tenant, or fails with 404 when it does not exist.
pub async fn load_tenant(store: &DynamoStore, tenant_id: &str) -> Result<TenantRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("tenant {tenant_id} does not exist"));
    TenantId::parse(tenant_id).map_err(|_| not_found())?;
    store.get_tenant(tenant_id).await?.ok_or_else(not_found)
}

/// The plan catalog a tenant bought from, or the current one if that version is unknown.
pub fn catalog_of(tenant: &TenantRecord) -> &'static PlanCatalog {
    PlanCatalog::version(tenant.commercial.catalog_version).unwrap_or_else(PlanCatalog::current)
}

/// Computes the entitlements of a tenant as read.
pub fn entitlements_of(tenant: &TenantRecord, now: OffsetDateTime) -> Entitlements {
    let commercial = &tenant.commercial;
    let mut entitlements = Entitlements::compute(&EntitlementInput {
        plan: tenant.plan,
        catalog_version: catalog_of(tenant).version,
        state: tenant.state,
        on_trial: tenant.on_trial,
        trial_ends_at: tenant.trial_ends_at,
        grace_ends_at: commercial
            .grace_ends_at
            .or_else(|| tenant.trial_ends_at.map(super::trials::grace_end)),
        subscription_status: commercial
            .subscription_status
            .as_deref()
            .map(onboarding_domain::entitlements::SubscriptionStatus::parse),
        downgrade: commercial.downgrade.clone(),
        archived: commercial.archived_at.is_some(),
        usage: commercial.usage.clone(),
        now,
    });
    // A customer of an MSP works only with licenses its provider allocated.
    if commercial.parent_id.is_some()
        && commercial.licenses.values().all(|count| *count == 0)
        && entitlements.access_mode != AccessMode::Blocked
    {
        entitlements.access_mode = AccessMode::Blocked;
        entitlements.reason =
            "no license is allocated to this workspace; ask your service provider to allocate one"
                .to_owned();
    }
    entitlements
}

pub async fn get_entitlements(
    services: &Services,
    tenant_id: &str,
    now: OffsetDateTime,
) -> Result<Entitlements, ApiError> {
    let tenant = load_tenant(&services.store, tenant_id).await?;
    Ok(entitlements_of(&tenant, now))
}

/// Counts one API request of a tenant against its plan's requests per minute.
pub async fn limit_api_rate(
    services: &Services,
    tenant: &TenantRecord,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let per_minute = catalog_of(tenant)
        .plan(tenant.plan)
        .limits
        .get(Limit::ApiRequestsPerMinute);
    let per_minute = u32::try_from(per_minute).unwrap_or(u32::MAX);
    match services
        .store
        .count_request("api", &tenant.tenant_id, per_minute, 60, now)
        .await?
    {
        Ok(()) => Ok(()),
        Err(retry_after_seconds) => {
            tracing::warn!(tenant_id = %tenant.tenant_id, limit = per_minute, "API rate limit reached");
            Err(ApiError::RateLimited {
                retry_after_seconds,
                limit: format!("the plan's limit of {per_minute} API requests per minute"),
            })
        }
    }
}

fn period_of(now: OffsetDateTime) -> String {
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

/// Applies a usage report and emails the Tenant Admin once per newly crossed 80 % or 100 %
/// threshold and period. Returns the entitlements after the report, which show any block.
#[tracing::instrument(skip_all, fields(tenant_id))]
pub async fn report_usage(
    services: &Services,
    tenant_id: &str,
    report: &UsageReport,
    now: OffsetDateTime,
) -> Result<Entitlements, ApiError> {
    tracing::Span::current().record("tenant_id", tenant_id);
    let store = &services.store;
    let period = period_of(now);
    for _ in 0..8 {
        let tenant = load_tenant(store, tenant_id).await?;
        let before = &tenant.commercial.usage;
        let after = before.apply(report, &period);
        let limits = &catalog_of(&tenant).plan(tenant.plan).limits;
        let notices: Vec<(Limit, Threshold, String)> = crossed_thresholds(before, &after, limits)
            .into_iter()
            .map(|(limit, threshold)| {
                let key = format!("{}:{}:{period}", limit.as_str(), threshold.percent());
                (limit, threshold, key)
            })
            .filter(|(_, _, key)| !tenant.commercial.limit_notices.contains(key))
            .collect();
        let usage_json = serde_json::to_string(&after).map_err(ApiError::unexpected)?;
        let mut expression = "SET #usage = :usage, usage_version = :next".to_owned();
        let mut values = vec![
            (":usage", s(usage_json)),
            (":next", n(tenant.commercial.usage_version + 1)),
            (":expected", n(tenant.commercial.usage_version)),
        ];
        if !notices.is_empty() {
            expression.push_str(" ADD limit_notices :notices");
            values.push((
                ":notices",
                AttributeValue::Ss(notices.iter().map(|(_, _, key)| key.clone()).collect()),
            ));
        }
        let mut writes = vec![store.update(
            keys::tenant(tenant_id),
            keys::TENANT_SK,
            &expression,
            Some("attribute_not_exists(usage_version) OR usage_version = :expected"),
            values,
            vec![("#usage", "usage")],
        )?];
        let messages: Vec<EmailMessage> = notices
            .iter()
            .map(|(limit, threshold, _)| EmailMessage {
                message_id: MessageId::generate().as_str().to_owned(),
                tenant_id: tenant_id.to_owned(),
                to: tenant.email.as_str().to_owned(),
                template: EmailTemplate::UsageThreshold {
                    company_name: tenant.company_name.as_str().to_owned(),
                    limit: limit.as_str().to_owned(),
                    percent: threshold.percent(),
                    used: after.used(*limit).unwrap_or(0),
                    max: limits.get(*limit),
                    upgrade_url: upgrade_url(services, &tenant),
                },
                secret: None,
            })
            .collect();
        for message in &messages {
            writes.push(outbox_write(store, message, now)?);
        }
        match store.transact(writes).await {
            Ok(()) => {
                for message in &messages {
                    dispatch(store, &services.queue, message).await;
                }
                let mut updated = tenant;
                updated.commercial.usage = after;
                return Ok(entitlements_of(&updated, now));
            }
            // Another report landed first: read again and apply on top of it.
            Err(error) if error.condition_failed_at(0) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::unexpected(anyhow::anyhow!(
        "usage of tenant {tenant_id} kept changing; the report was not applied"
    )))
}
