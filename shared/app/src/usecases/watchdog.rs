//! The watchdog: no tenant stays in provisioning without progress for longer than the threshold.

use onboarding_domain::audit::Actor;
use onboarding_domain::lifecycle::TenantState;
use serde::Serialize;
use time::OffsetDateTime;

use super::provisioning::{rollback, start_execution, MAX_ATTEMPTS};
use super::verify::execution_name;
use super::Services;
use crate::aws::dynamo::{tenant_from_item, TenantChange};
use crate::aws::items::{format_time, n, s};
use crate::aws::sfn::ExecutionState;
use crate::keys;
use crate::telemetry::cause_chain;

#[derive(Debug, Default, Serialize)]
pub struct WatchdogReport {
    pub resumed: Vec<String>,
    pub rolled_back: Vec<String>,
    pub failed: Vec<String>,
}

/// Resumes or rolls back every tenant stuck in provisioning at `now`.
pub async fn run(services: &Services, now: OffsetDateTime) -> anyhow::Result<WatchdogReport> {
    let threshold =
        now - time::Duration::seconds(services.config.provisioning_stuck_after_seconds as i64);
    let items = services
        .store
        .query_index_before(
            &keys::state_index(TenantState::Provisioning),
            &format_time(threshold),
            25,
        )
        .await?;
    let mut report = WatchdogReport::default();
    for item in items {
        let tenant = match tenant_from_item(&item) {
            Ok(tenant) => tenant,
            Err(error) => {
                tracing::error!(error = %cause_chain(&error), "stuck tenant is unreadable");
                continue;
            }
        };
        let tenant_id = tenant.tenant_id.clone();
        match handle(services, tenant, now).await {
            Ok(Action::Resumed) => report.resumed.push(tenant_id),
            Ok(Action::RolledBack) => report.rolled_back.push(tenant_id),
            Err(error) => {
                tracing::error!(tenant_id, error = %format!("{error:#}"), "watchdog could not unstick the tenant");
                report.failed.push(tenant_id);
            }
        }
    }
    Ok(report)
}

enum Action {
    Resumed,
    RolledBack,
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant.tenant_id, attempt = tenant.attempt))]
async fn handle(
    services: &Services,
    tenant: crate::records::TenantRecord,
    now: OffsetDateTime,
) -> anyhow::Result<Action> {
    let arn = tenant.execution_arn.clone().unwrap_or_else(|| {
        services
            .workflow
            .execution_arn(&execution_name(&tenant.tenant_id, tenant.attempt.max(1)))
    });
    let execution = services.workflow.describe(&arn).await?;
    tracing::warn!(execution = ?execution, "tenant made no progress in provisioning");
    if execution == ExecutionState::Running {
        services
            .workflow
            .stop(&arn, "no progress within the provisioning time limit")
            .await?;
    }
    let ended_badly = matches!(execution, ExecutionState::Ended(_));
    if ended_badly || tenant.attempt >= MAX_ATTEMPTS {
        let reason = format!(
            "provisioning made no progress for {} s after {} attempt(s); rolled back by the watchdog",
            services.config.provisioning_stuck_after_seconds, tenant.attempt
        );
        rollback(services, &tenant.tenant_id, tenant.attempt, reason).await?;
        return Ok(Action::RolledBack);
    }
    let attempt = tenant.attempt + 1;
    let name = execution_name(&tenant.tenant_id, attempt);
    let change = TenantChange::new(
        Actor::system("watchdog"),
        "provisioning.resumed",
        format!(
            "no progress for {} s; starting attempt {attempt}",
            services.config.provisioning_stuck_after_seconds
        ),
    )
    .set("attempt", n(attempt))
    .set("execution_arn", s(services.workflow.execution_arn(&name)));
    services.store.commit_change(&tenant, change, now).await?;
    start_execution(services, &tenant.tenant_id, attempt).await;
    Ok(Action::Resumed)
}
