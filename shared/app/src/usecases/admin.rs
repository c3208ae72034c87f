//! Platform administration: creating tenants on paid plans and reading tenants and audit trails.

use onboarding_domain::audit::{verify_chain, Actor, AuditRecord};
use onboarding_domain::ids::TenantId;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::signup::{DisposableDomains, SignupRequest};
use serde::Serialize;
use time::OffsetDateTime;

use super::provisioning::start_execution;
use super::signup::{claim_writes, taken_conflict, StepView};
use super::verify::execution_name;
use super::Services;
use crate::aws::dynamo::{audit_item, first_audit, following_audit, tenant_item};
use crate::aws::items::format_time;
use crate::http::ApiError;
use crate::records::TenantRecord;

#[derive(Debug, Serialize)]
pub struct TenantCreated {
    pub tenant_id: String,
    pub state: TenantState,
    pub execution_name: String,
}

/// Creates a tenant on a paid plan and starts provisioning right away (no email verification).
#[tracing::instrument(skip_all, fields(tenant_id))]
pub async fn create_tenant(
    services: &Services,
    admin: &str,
    request: &SignupRequest,
    now: OffsetDateTime,
) -> Result<TenantCreated, ApiError> {
    let signup = request
        .validate(
            &services.config.served_regions,
            DisposableDomains::builtin(),
        )
        .map_err(ApiError::Validation)?;
    let store = &services.store;
    let new_id = TenantId::generate();
    let tenant_id = new_id.as_str().to_owned();
    tracing::Span::current().record("tenant_id", tenant_id.as_str());
    let actor = Actor::platform_admin(admin).map_err(|error| {
        ApiError::Forbidden(format!(
            "the token subject cannot be recorded as an actor: {error}"
        ))
    })?;
    let created = first_audit(
        &new_id,
        actor.clone(),
        "tenant.created",
        "created by a platform admin",
        TenantState::Pending,
        now,
    );
    let started = following_audit(
        &created,
        actor,
        "provisioning.started",
        "paid plan, no email verification needed",
        TenantState::Provisioning,
        now,
    );
    let attempt = 1;
    let name = execution_name(&tenant_id, attempt);
    let tenant = TenantRecord {
        attempt,
        execution_arn: Some(services.workflow.execution_arn(&name)),
        ..TenantRecord::new(
            &tenant_id,
            &signup,
            TenantState::Provisioning,
            "created by a platform admin",
            &started,
            now,
        )
    };
    let mut writes = claim_writes(store, &signup, &tenant_id, now)?;
    writes.extend([
        store.put_new(tenant_item(&tenant))?,
        store.put_new(audit_item(&created))?,
        store.put_new(audit_item(&started))?,
    ]);
    if let Err(error) = store.transact(writes).await {
        return Err(taken_conflict(error, &signup));
    }
    tracing::info!(
        plan = signup.plan.as_str(),
        "tenant created by a platform admin"
    );
    start_execution(services, &tenant_id, attempt).await;
    Ok(TenantCreated {
        tenant_id,
        state: TenantState::Provisioning,
        execution_name: name,
    })
}

#[derive(Debug, Serialize)]
pub struct TenantView {
    pub tenant_id: String,
    pub signup_id: Option<String>,
    pub email: String,
    pub company_name: String,
    pub subdomain: String,
    pub region: String,
    pub use_case: String,
    pub plan: String,
    pub on_trial: bool,
    pub trial_ends_at: Option<String>,
    pub state: TenantState,
    pub state_reason: String,
    pub workspace_url: Option<String>,
    pub cell_id: Option<String>,
    pub provisioning_attempt: u32,
    pub created_at: String,
    pub updated_at: String,
    pub audit_entries: u64,
    pub steps: Vec<StepView>,
}

pub async fn get_tenant(services: &Services, tenant_id: &str) -> Result<TenantView, ApiError> {
    let not_found = || ApiError::NotFound(format!("tenant {tenant_id} does not exist"));
    TenantId::parse(tenant_id).map_err(|_| not_found())?;
    let store = &services.store;
    let tenant = store
        .get_tenant(tenant_id)
        .await
        .map_err(ApiError::unexpected)?
        .ok_or_else(not_found)?;
    let steps = if tenant.attempt > 0 {
        store
            .list_steps(tenant_id, tenant.attempt)
            .await
            .map_err(ApiError::unexpected)?
    } else {
        Vec::new()
    };
    Ok(TenantView {
        tenant_id: tenant.tenant_id,
        signup_id: tenant.signup_id,
        email: tenant.email.as_str().to_owned(),
        company_name: tenant.company_name.as_str().to_owned(),
        subdomain: tenant.subdomain.as_str().to_owned(),
        region: tenant.residency.as_str().to_owned(),
        use_case: tenant.use_case.as_str().to_owned(),
        plan: tenant.plan.as_str().to_owned(),
        on_trial: tenant.on_trial,
        trial_ends_at: tenant.trial_ends_at.map(format_time),
        state: tenant.state,
        state_reason: tenant.state_reason,
        workspace_url: tenant.workspace_url,
        cell_id: tenant.cell_id,
        provisioning_attempt: tenant.attempt,
        created_at: format_time(tenant.created_at),
        updated_at: format_time(tenant.updated_at),
        audit_entries: tenant.audit_seq,
        steps: steps.into_iter().map(StepView::from).collect(),
    })
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub tenant_id: String,
    pub chain_valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_error: Option<String>,
    pub entries: Vec<AuditRecord>,
}

/// Reads the audit trail of a tenant and checks its hash chain, including that the newest entry
/// is the head the tenant item points to.
pub async fn audit_trail(services: &Services, tenant_id: &str) -> Result<AuditView, ApiError> {
    let not_found = || ApiError::NotFound(format!("tenant {tenant_id} does not exist"));
    TenantId::parse(tenant_id).map_err(|_| not_found())?;
    let store = &services.store;
    let tenant = store
        .get_tenant(tenant_id)
        .await
        .map_err(ApiError::unexpected)?
        .ok_or_else(not_found)?;
    let entries = store
        .list_audit(tenant_id)
        .await
        .map_err(ApiError::unexpected)?;
    let chain_error = check_chain(&tenant, &entries).err();
    Ok(AuditView {
        tenant_id: tenant_id.to_owned(),
        chain_valid: chain_error.is_none(),
        chain_error,
        entries,
    })
}

/// Verifies the chain and that its last entry is the tenant's recorded head.
pub fn check_chain(tenant: &TenantRecord, entries: &[AuditRecord]) -> Result<(), String> {
    verify_chain(entries).map_err(|error| error.to_string())?;
    match entries.last() {
        Some(last) if last.seq == tenant.audit_seq && last.hash == tenant.audit_head => Ok(()),
        Some(last) => Err(format!(
            "the newest entry is seq {} but the tenant records seq {} as its head; entries were removed",
            last.seq, tenant.audit_seq
        )),
        None => Err("the tenant has no audit entries".into()),
    }
}
