//! Provisioning steps run by the state machine, and the rollback that undoes them.
//!
//! Every step is idempotent: it first looks for what an earlier run left and finishes from there.
//! A step's result, its step record and its audit entry are committed in one transaction, so a
//! step either happened completely or not at all as far as the table is concerned.

use onboarding_domain::audit::Actor;
use onboarding_domain::catalog::{enabled_modules, ConfigTemplate};
use onboarding_domain::email::EmailTemplate;
use onboarding_domain::ids::MessageId;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::provisioning::{placement, CellKind, Step, StepStatus};
use onboarding_domain::token::{SecretToken, TokenHash};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::outbox::{dispatch, outbox_write};
use super::Services;
use crate::aws::dynamo::{
    data_store_from_item, data_store_item, step_item, DynamoStore, TenantChange, FIRST_EXTRA_WRITE,
};
use crate::aws::items::{b, n, s, ts, Item, Reader};
use crate::error::{Retryable, StoreError};
use crate::keys;
use crate::records::{
    DataStoreKind, DataStoreRecord, EmailMessage, SealedSecret, StepRecord, TenantRecord,
    SECRET_PLACEHOLDER,
};
use crate::telemetry::cause_chain;

/// Error names the state machine's Retry and Catch match on.
pub const TRANSIENT_ERROR: &str = "Provisioning.Transient";
pub const FATAL_ERROR: &str = "Provisioning.Fatal";

/// Shared cells tried per residency before giving up.
const MAX_SHARED_CELLS: u32 = 50;
/// Provisioning attempts (the first plus watchdog resumes) before the watchdog rolls back.
pub const MAX_ATTEMPTS: u32 = 3;
/// Admin invitations work for 7 days.
const INVITATION_TTL_DAYS: i64 = 7;

/// A step failure, typed so Step Functions can tell retryable from fatal by `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("step {step} failed transiently: {message}")]
    Transient {
        step: &'static str,
        message: String,
        #[source]
        source: Option<anyhow::Error>,
    },
    #[error("step {step} failed: {message}")]
    Fatal {
        step: &'static str,
        message: String,
        #[source]
        source: Option<anyhow::Error>,
    },
}

impl StepError {
    pub fn fatal(step: Step, message: impl Into<String>) -> Self {
        Self::Fatal {
            step: step.as_str(),
            message: message.into(),
            source: None,
        }
    }

    /// Classifies an adapter error by whether a retry can fix it.
    pub fn from_error<E>(step: Step, what: &str, error: E) -> Self
    where
        E: Retryable + std::error::Error + Send + Sync + 'static,
    {
        let transient = error.is_transient();
        let source = Some(anyhow::Error::new(error));
        if transient {
            Self::Transient {
                step: step.as_str(),
                message: what.to_owned(),
                source,
            }
        } else {
            Self::Fatal {
                step: step.as_str(),
                message: what.to_owned(),
                source,
            }
        }
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Transient { .. } => TRANSIENT_ERROR,
            Self::Fatal { .. } => FATAL_ERROR,
        }
    }
}

/// Input of every Task state: ids only, plus the caught error for the rollback.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StepInput {
    pub step: String,
    pub tenant_id: String,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepOutput {
    pub step: String,
    pub status: String,
    pub ready: bool,
}

fn done(step: Step, ready: bool) -> StepOutput {
    StepOutput {
        step: step.as_str().to_owned(),
        status: "succeeded".to_owned(),
        ready,
    }
}

/// Runs one step for one tenant.
#[tracing::instrument(skip_all, fields(tenant_id = %input.tenant_id, step = %input.step, attempt = input.attempt))]
pub async fn run_step(services: &Services, input: StepInput) -> Result<StepOutput, StepError> {
    let step = Step::parse(&input.step).map_err(|_| StepError::Fatal {
        step: "unknown",
        message: format!("unknown step {:?}", input.step),
        source: None,
    })?;
    let result = match step {
        Step::Rollback => {
            rollback(services, &input.tenant_id, input.attempt, reason_of(&input)).await
        }
        forward => run_forward(services, forward, &input.tenant_id, input.attempt).await,
    };
    match &result {
        Ok(output) => tracing::info!(ready = output.ready, "step succeeded"),
        Err(error) => tracing::error!(
            error_type = error.error_type(),
            error = %cause_chain(error),
            "step failed"
        ),
    }
    result
}

fn reason_of(input: &StepInput) -> String {
    let Some(error) = &input.error else {
        return "provisioning failed".to_owned();
    };
    let name = error
        .get("Error")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown error");
    let cause = error
        .get("Cause")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    // The cause of a Lambda error is JSON carrying errorMessage.
    let message = serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned());
    let mut reason = format!("provisioning failed: {name}");
    if !message.is_empty() {
        reason.push_str(": ");
        reason.push_str(&message);
    }
    reason.chars().take(500).collect()
}

async fn load_tenant(
    services: &Services,
    step: Step,
    tenant_id: &str,
) -> Result<TenantRecord, StepError> {
    services
        .store
        .get_tenant(tenant_id)
        .await
        .map_err(|e| StepError::from_error(step, "reading the tenant failed", e))?
        .ok_or_else(|| StepError::fatal(step, format!("tenant {tenant_id} does not exist")))
}

async fn run_forward(
    services: &Services,
    step: Step,
    tenant_id: &str,
    attempt: u32,
) -> Result<StepOutput, StepError> {
    let tenant = load_tenant(services, step, tenant_id).await?;
    if step == Step::Activate && tenant.state == TenantState::Active {
        return Ok(done(step, true));
    }
    if tenant.state != TenantState::Provisioning {
        return Err(StepError::fatal(
            step,
            format!("tenant is {}, not provisioning", tenant.state.as_str()),
        ));
    }
    let started_at = OffsetDateTime::now_utc();
    let started = StepRecord {
        attempt,
        step,
        status: StepStatus::Running,
        started_at,
        finished_at: None,
        error: None,
    };
    if let Err(error) = services
        .store
        .put_item(step_item(tenant_id, &started), true)
        .await
    {
        return Err(StepError::from_error(
            step,
            "recording the step start failed",
            error,
        ));
    }
    let started_at = match services.store.get_step(tenant_id, attempt, step).await {
        Ok(Some(record)) => record.started_at,
        _ => started_at,
    };
    let runner = StepRun {
        services,
        step,
        attempt,
        started_at,
    };
    let result = match step {
        Step::Validate => runner.validate(&tenant).await,
        Step::ReserveCapacity => runner.reserve_capacity(&tenant).await,
        Step::CreateDataStore => runner.create_data_store(&tenant).await,
        Step::CheckDataStore => runner.check_data_store(&tenant).await,
        Step::ApplyConfigTemplate => runner.apply_config_template(&tenant).await,
        Step::EnableModules => runner.enable_modules(&tenant).await,
        Step::CreateAdminInvitation => runner.create_admin_invitation(&tenant).await,
        Step::Activate => runner.activate(&tenant).await,
        Step::Rollback => unreachable!("rollback is dispatched before forward steps"),
    };
    if let Err(error) = &result {
        let failed = StepRecord {
            status: StepStatus::Failed,
            finished_at: Some(OffsetDateTime::now_utc()),
            error: Some(error.to_string()),
            ..started
        };
        let mut failed = failed;
        failed.started_at = started_at;
        if let Err(record_error) = services
            .store
            .put_item(step_item(tenant_id, &failed), false)
            .await
        {
            tracing::warn!(error = %cause_chain(&record_error), "recording the step failure failed");
        }
    }
    result
}

/// One run of one forward step.
struct StepRun<'a> {
    services: &'a Services,
    step: Step,
    attempt: u32,
    started_at: OffsetDateTime,
}

impl StepRun<'_> {
    fn store(&self) -> &DynamoStore {
        &self.services.store
    }

    fn store_error(&self, what: &str, error: StoreError) -> StepError {
        StepError::from_error(self.step, what, error)
    }

    fn succeeded_write(
        &self,
        tenant: &TenantRecord,
        now: OffsetDateTime,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StepError> {
        let record = StepRecord {
            attempt: self.attempt,
            step: self.step,
            status: StepStatus::Succeeded,
            started_at: self.started_at,
            finished_at: Some(now),
            error: None,
        };
        self.store()
            .put_any(step_item(&tenant.tenant_id, &record))
            .map_err(|e| self.store_error("building the step record failed", e))
    }

    /// Commits the step's writes with its step record and audit entry.
    async fn commit(
        &self,
        tenant: &TenantRecord,
        change: TenantChange,
        reason: &str,
    ) -> Result<(), StepError> {
        let now = OffsetDateTime::now_utc();
        let mut change = change;
        change.action = format!("provisioning.{}.succeeded", self.step.as_str());
        change.reason = reason.to_owned();
        let change = change.with(self.succeeded_write(tenant, now)?);
        self.store()
            .commit_change(tenant, change, now)
            .await
            .map_err(|e| self.store_error("committing the step failed", e))?;
        Ok(())
    }

    fn change(&self) -> TenantChange {
        TenantChange::new(Actor::system("provisioner"), "", "")
    }

    async fn validate(&self, tenant: &TenantRecord) -> Result<StepOutput, StepError> {
        let store = self.store();
        for claim in tenant.claim_keys() {
            let owner = store
                .claim_owner(claim.clone())
                .await
                .map_err(|e| self.store_error("reading a claim failed", e))?;
            if owner.as_deref() != Some(tenant.tenant_id.as_str()) {
                return Err(StepError::fatal(
                    self.step,
                    format!("claim {claim} is not held by this tenant"),
                ));
            }
        }
        if !self
            .services
            .config
            .served_regions
            .contains(tenant.residency)
        {
            return Err(StepError::fatal(
                self.step,
                format!(
                    "region {} is not served by this deployment",
                    tenant.residency.as_str()
                ),
            ));
        }
        self.commit(tenant, self.change(), "tenant, claims and region checked")
            .await?;
        Ok(done(self.step, true))
    }

    async fn reserve_capacity(&self, tenant: &TenantRecord) -> Result<StepOutput, StepError> {
        if tenant.cell_id.is_some() {
            return Ok(done(self.step, true));
        }
        let store = self.store();
        let kind = placement(tenant.plan, tenant.on_trial);
        let candidates: Vec<(String, u32)> = match kind {
            CellKind::Shared => (1..=MAX_SHARED_CELLS)
                .map(|index| {
                    (
                        format!("shared-{}-{index:03}", tenant.residency.as_str()),
                        self.services.config.shared_cell_capacity,
                    )
                })
                .collect(),
            CellKind::Dedicated => vec![(format!("dedicated-{}", tenant.tenant_id), 1)],
        };
        let kind_name = match kind {
            CellKind::Shared => "shared",
            CellKind::Dedicated => "dedicated",
        };
        for (cell_id, capacity) in candidates {
            let mut member: Item =
                DynamoStore::key(keys::cell(&cell_id), keys::cell_member(&tenant.tenant_id));
            member.insert("tenant_id".into(), s(&tenant.tenant_id));
            member.insert("cell_id".into(), s(&cell_id));
            let change = self
                .change()
                .set("cell_id", s(&cell_id))
                .with(store.put_new(member).map_err(|e| self.store_error("building the member failed", e))?)
                .with(
                    store
                        .update(
                            keys::cell(&cell_id),
                            keys::CELL_SK,
                            "SET #capacity = if_not_exists(#capacity, :capacity), #kind = :kind, #residency = :residency, #cell = :cell ADD #used :one",
                            Some("attribute_not_exists(#used) OR #used < #capacity"),
                            vec![
                                (":capacity", n(capacity)),
                                (":kind", s(kind_name)),
                                (":residency", s(tenant.residency.as_str())),
                                (":cell", s(&cell_id)),
                                (":one", n(1)),
                            ],
                            vec![
                                ("#capacity", "capacity"),
                                ("#kind", "kind"),
                                ("#residency", "residency"),
                                ("#cell", "cell_id"),
                                ("#used", "used"),
                            ],
                        )
                        .map_err(|e| self.store_error("building the cell update failed", e))?,
                );
            match self
                .commit(
                    tenant,
                    change,
                    &format!("placed on {kind_name} cell {cell_id}"),
                )
                .await
            {
                Ok(()) => return Ok(done(self.step, true)),
                Err(error) => {
                    tracing::info!(cell_id, error = %cause_chain(&error), "reserving a place failed; checking whether the cell is full");
                }
            }
            // Learn why the commit failed: a full cell moves on to the next one.
            let cell = store
                .get(keys::cell(&cell_id), keys::CELL_SK)
                .await
                .map_err(|e| self.store_error("reading the cell failed", e))?;
            let full = cell.as_ref().is_some_and(|item| {
                let r = Reader::new(item);
                matches!((r.opt_n::<u32>("used"), r.opt_n::<u32>("capacity")), (Ok(Some(u)), Ok(Some(c))) if u >= c)
            });
            if !full {
                return Err(StepError::Transient {
                    step: self.step.as_str(),
                    message: format!(
                        "reserving a place on cell {cell_id} conflicted with another write"
                    ),
                    source: None,
                });
            }
        }
        Err(StepError::fatal(
            self.step,
            format!(
                "no {kind_name} cell in {} has free capacity",
                tenant.residency.as_str()
            ),
        ))
    }

    async fn create_data_store(&self, tenant: &TenantRecord) -> Result<StepOutput, StepError> {
        let store = self.store();
        if let Some(existing) = store
            .get_data_store(&tenant.tenant_id)
            .await
            .map_err(|e| self.store_error("reading the data store failed", e))?
        {
            return Ok(done(self.step, existing.ready));
        }
        let region = tenant.residency.aws_region();
        let kind = match placement(tenant.plan, tenant.on_trial) {
            CellKind::Shared => DataStoreKind::Shared,
            CellKind::Dedicated => {
                let table_name = keys::dedicated_table(&tenant.tenant_id);
                self.services
                    .tables
                    .create(region, &table_name, &tenant.tenant_id)
                    .await
                    .map_err(|e| {
                        StepError::from_error(self.step, "creating the tenant table failed", e)
                    })?;
                DataStoreKind::Dedicated { table_name }
            }
        };
        let encrypted_data_key = self
            .services
            .kms
            .generate_data_key(&tenant.tenant_id)
            .await
            .map_err(|e| StepError::from_error(self.step, "generating the data key failed", e))?;
        // A dedicated table is reported ready only by the check step, so the state machine's
        // wait loop is the one place that waits for ACTIVE.
        let ready = kind == DataStoreKind::Shared;
        let record = DataStoreRecord {
            tenant_id: tenant.tenant_id.clone(),
            kind: kind.clone(),
            aws_region: region.to_owned(),
            encrypted_data_key,
            ready,
        };
        let change = self.change().with(
            store
                .put_new(data_store_item(&record))
                .map_err(|e| self.store_error("building the data store item failed", e))?,
        );
        let description = match kind {
            DataStoreKind::Shared => {
                format!("shared partition registered in {region} with a data key")
            }
            DataStoreKind::Dedicated { table_name } => {
                format!("dedicated table {table_name} created in {region}")
            }
        };
        self.commit(tenant, change, &description).await?;
        Ok(done(self.step, ready))
    }

    async fn check_data_store(&self, tenant: &TenantRecord) -> Result<StepOutput, StepError> {
        let store = self.store();
        let item = store
            .get(keys::tenant(&tenant.tenant_id), keys::DATASTORE_SK)
            .await
            .map_err(|e| self.store_error("reading the data store failed", e))?
            .ok_or_else(|| StepError::fatal(self.step, "the data store record is missing"))?;
        let record = data_store_from_item(&item)
            .map_err(|e| self.store_error("the data store record is unreadable", e))?;
        if record.ready {
            return Ok(done(self.step, true));
        }
        let DataStoreKind::Dedicated { table_name } = &record.kind else {
            return Ok(done(self.step, true));
        };
        let active = self
            .services
            .tables
            .is_active(&record.aws_region, table_name)
            .await
            .map_err(|e| {
                StepError::from_error(self.step, "describing the tenant table failed", e)
            })?;
        match active {
            None => Err(StepError::fatal(
                self.step,
                format!("table {table_name} does not exist"),
            )),
            Some(false) => Ok(done(self.step, false)),
            Some(true) => {
                let change = self.change().with(
                    store
                        .update(
                            keys::tenant(&tenant.tenant_id),
                            keys::DATASTORE_SK,
                            "SET ready = :ready",
                            Some("attribute_exists(PK)"),
                            vec![(":ready", b(true))],
                            vec![],
                        )
                        .map_err(|e| self.store_error("building the update failed", e))?,
                );
                self.commit(tenant, change, &format!("table {table_name} is active"))
                    .await?;
                Ok(done(self.step, true))
            }
        }
    }

    async fn apply_config_template(&self, tenant: &TenantRecord) -> Result<StepOutput, StepError> {
        let store = self.store();
        if store
            .get(keys::tenant(&tenant.tenant_id), keys::CONFIG_SK)
            .await
            .map_err(|e| self.store_error("reading the configuration failed", e))?
            .is_some()
        {
            return Ok(done(self.step, true));
        }
        let template = ConfigTemplate::for_use_case(tenant.use_case);
        let mut item = DynamoStore::key(keys::tenant(&tenant.tenant_id), keys::CONFIG_SK);
        item.insert("tenant_id".into(), s(&tenant.tenant_id));
        item.insert("template_id".into(), s(&template.id));
        item.insert("template_version".into(), n(template.version));
        item.insert("settings".into(), s(template.settings.to_string()));
        let change = self.change().with(
            store
                .put_new(item)
                .map_err(|e| self.store_error("building the configuration failed", e))?,
        );
        self.commit(
            tenant,
            change,
            &format!(
                "template {} version {} applied",
                template.id, template.version
            ),
        )
        .await?;
        Ok(done(self.step, true))
    }

    async fn enable_modules(&self, tenant: &TenantRecord) -> Result<StepOutput, StepError> {
        let store = self.store();
        if store
            .get(keys::tenant(&tenant.tenant_id), keys::MODULES_SK)
            .await
            .map_err(|e| self.store_error("reading the modules failed", e))?
            .is_some()
        {
            return Ok(done(self.step, true));
        }
        let template = ConfigTemplate::for_use_case(tenant.use_case);
        let modules = enabled_modules(tenant.plan, template);
        let names: Vec<String> = modules
            .iter()
            .map(|m| {
                serde_json::to_value(m)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        let mut item = DynamoStore::key(keys::tenant(&tenant.tenant_id), keys::MODULES_SK);
        item.insert("tenant_id".into(), s(&tenant.tenant_id));
        item.insert("plan".into(), s(tenant.plan.as_str()));
        item.insert(
            "modules".into(),
            aws_sdk_dynamodb::types::AttributeValue::L(names.iter().map(s).collect()),
        );
        let change = self.change().with(
            store
                .put_new(item)
                .map_err(|e| self.store_error("building the modules failed", e))?,
        );
        self.commit(
            tenant,
            change,
            &format!("modules enabled: {}", names.join(", ")),
        )
        .await?;
        Ok(done(self.step, true))
    }

    async fn create_admin_invitation(
        &self,
        tenant: &TenantRecord,
    ) -> Result<StepOutput, StepError> {
        let store = self.store();
        if store
            .get(keys::tenant(&tenant.tenant_id), keys::INVITATION_SK)
            .await
            .map_err(|e| self.store_error("reading the invitation failed", e))?
            .is_some()
        {
            return Ok(done(self.step, true));
        }
        let token = SecretToken::generate();
        let hash = TokenHash::of(token.expose()).as_str().to_owned();
        let sealed = self
            .services
            .kms
            .seal(token.expose(), invitation_context(&tenant.tenant_id))
            .await
            .map_err(|e| {
                StepError::from_error(self.step, "sealing the invitation token failed", e)
            })?;
        let expires_at = OffsetDateTime::now_utc() + time::Duration::days(INVITATION_TTL_DAYS);
        let mut invitation = DynamoStore::key(keys::tenant(&tenant.tenant_id), keys::INVITATION_SK);
        invitation.insert("tenant_id".into(), s(&tenant.tenant_id));
        invitation.insert("email".into(), s(tenant.email.as_str()));
        invitation.insert("token_hash".into(), s(&hash));
        invitation.insert(
            "sealed_token".into(),
            s(serde_json::to_string(&sealed).unwrap_or_default()),
        );
        invitation.insert("expires_at_time".into(), ts(expires_at));
        let mut lookup = DynamoStore::key(keys::invitation_token(&hash), "INVITE");
        lookup.insert("tenant_id".into(), s(&tenant.tenant_id));
        lookup.insert(keys::TTL.into(), n(expires_at.unix_timestamp()));
        let change = self
            .change()
            .with(
                store
                    .put_new(invitation)
                    .map_err(|e| self.store_error("building the invitation failed", e))?,
            )
            .with(
                store
                    .put_new(lookup)
                    .map_err(|e| self.store_error("building the invitation lookup failed", e))?,
            );
        self.commit(tenant, change, "admin invitation created")
            .await?;
        Ok(done(self.step, true))
    }

    async fn activate(&self, tenant: &TenantRecord) -> Result<StepOutput, StepError> {
        let store = self.store();
        let invitation = store
            .get(keys::tenant(&tenant.tenant_id), keys::INVITATION_SK)
            .await
            .map_err(|e| self.store_error("reading the invitation failed", e))?
            .ok_or_else(|| StepError::fatal(self.step, "the admin invitation is missing"))?;
        let sealed: Option<SealedSecret> = Reader::new(&invitation)
            .opt_s("sealed_token")
            .and_then(|text| serde_json::from_str(text).ok());
        let url = tenant.workspace_url(&self.services.config.workspace_base_domain);
        let message = EmailMessage {
            message_id: MessageId::generate().as_str().to_owned(),
            tenant_id: tenant.tenant_id.clone(),
            to: tenant.email.as_str().to_owned(),
            template: EmailTemplate::Welcome {
                company_name: tenant.company_name.as_str().to_owned(),
                workspace_url: url.clone(),
                set_password_url: format!("{url}/set-password?token={SECRET_PLACEHOLDER}"),
                checklist: Vec::new(),
            },
            secret: sealed,
        };
        let now = OffsetDateTime::now_utc();
        let change = TenantChange::new(
            Actor::system("provisioner"),
            format!("provisioning.{}.succeeded", self.step.as_str()),
            format!("workspace active at {url}"),
        )
        .to_state(TenantState::Active)
        .set("workspace_url", s(&url))
        .with(self.succeeded_write(tenant, now)?)
        .with(
            store
                .update(
                    keys::tenant(&tenant.tenant_id),
                    keys::INVITATION_SK,
                    "REMOVE sealed_token SET sent_at = :now",
                    Some("attribute_exists(PK)"),
                    vec![(":now", ts(now))],
                    vec![],
                )
                .map_err(|e| self.store_error("building the invitation update failed", e))?,
        )
        .with(
            outbox_write(store, &message, now)
                .map_err(|e| self.store_error("building the welcome email failed", e))?,
        );
        store
            .commit_change(tenant, change, now)
            .await
            .map_err(|e| self.store_error("activating the tenant failed", e))?;
        tracing::info!(workspace_url = %url, "tenant active");
        dispatch(store, &self.services.queue, &message).await;
        Ok(done(self.step, true))
    }
}

fn invitation_context(tenant_id: &str) -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([
        ("purpose".to_owned(), "invitation".to_owned()),
        ("owner".to_owned(), tenant_id.to_owned()),
    ])
}

/// Starts the execution of `attempt`. A failure is logged and left to the watchdog, which resumes
/// tenants that make no progress.
pub async fn start_execution(services: &Services, tenant_id: &str, attempt: u32) {
    let name = super::verify::execution_name(tenant_id, attempt);
    let input = json!({ "tenant_id": tenant_id, "attempt": attempt });
    match services.workflow.start(&name, &input).await {
        Ok(arn) => tracing::info!(tenant_id, execution_arn = %arn, "provisioning started"),
        Err(error) => tracing::error!(
            tenant_id,
            error = %cause_chain(&error),
            "starting provisioning failed; the watchdog will resume it"
        ),
    }
}

// ---- rollback ----------------------------------------------------------------------------------

/// Undoes every step in reverse, deactivates the tenant with `reason` and releases its claims.
/// Running it again after it finished changes nothing.
#[tracing::instrument(skip_all, fields(tenant_id))]
pub async fn rollback(
    services: &Services,
    tenant_id: &str,
    attempt: u32,
    reason: String,
) -> Result<StepOutput, StepError> {
    let step = Step::Rollback;
    let mut tenant = load_tenant(services, step, tenant_id).await?;
    if tenant.state == TenantState::Deactivated {
        return Ok(done(step, true));
    }
    let store = &services.store;
    let mut failures = Vec::new();
    for forward in Step::FORWARD.iter().rev().copied() {
        match undo(services, &tenant, forward).await {
            Ok(None) => {}
            Ok(Some((description, writes))) => {
                let now = OffsetDateTime::now_utc();
                let mut change = TenantChange::new(
                    Actor::system("provisioner"),
                    format!("provisioning.{}.undone", forward.as_str()),
                    description,
                );
                change.extra = writes;
                if let Ok(Some(mut record)) = store.get_step(tenant_id, attempt, forward).await {
                    record.status = StepStatus::Undone;
                    record.finished_at = Some(now);
                    change =
                        change.with(store.put_any(step_item(tenant_id, &record)).map_err(|e| {
                            StepError::from_error(step, "building the step record failed", e)
                        })?);
                }
                match store.commit_change(&tenant, change, now).await {
                    Ok(audit) => {
                        tenant.audit_seq = audit.seq;
                        tenant.audit_head = audit.hash;
                    }
                    Err(error) if error.is_transient() || error.condition_failed_at(0) => {
                        return Err(StepError::from_error(
                            step,
                            "undo conflicted; retrying",
                            error,
                        )
                        .into_transient());
                    }
                    Err(error) => {
                        tracing::error!(undo = forward.as_str(), error = %cause_chain(&error), "undo failed");
                        failures.push(forward.as_str());
                    }
                }
            }
            Err(error @ StepError::Transient { .. }) => return Err(error),
            Err(error) => {
                tracing::error!(undo = forward.as_str(), error = %cause_chain(&error), "undo failed");
                failures.push(forward.as_str());
            }
        }
    }
    if !failures.is_empty() {
        return Err(StepError::fatal(
            step,
            format!(
                "undo failed for {}; the tenant stays provisioning for the watchdog",
                failures.join(", ")
            ),
        ));
    }

    let now = OffsetDateTime::now_utc();
    let message = EmailMessage {
        message_id: MessageId::generate().as_str().to_owned(),
        tenant_id: tenant_id.to_owned(),
        to: tenant.email.as_str().to_owned(),
        template: EmailTemplate::ProvisioningFailed {
            company_name: tenant.company_name.as_str().to_owned(),
            reason: "we could not finish setting up your workspace and undid every step; you can sign up again with the same subdomain".to_owned(),
        },
        secret: None,
    };
    let mut change = TenantChange::new(
        Actor::system("provisioner"),
        "provisioning.rolled_back",
        reason,
    )
    .to_state(TenantState::Deactivated)
    .remove("workspace_url")
    .remove("cell_id");
    let claims = tenant.claim_keys();
    for claim in &claims {
        change = change.with(
            store
                .delete_owned(claim.clone(), keys::CLAIM_SK, tenant_id)
                .map_err(|e| StepError::from_error(step, "building the claim release failed", e))?,
        );
    }
    // A customer of an MSP also leaves its provider's customer list.
    if let (Some(provider), Some(slug)) = (
        &tenant.commercial.parent_id,
        &tenant.commercial.customer_slug,
    ) {
        change = change.with(
            store
                .delete_owned(
                    keys::provider_customers(provider),
                    &keys::provider_customer(slug),
                    tenant_id,
                )
                .map_err(|e| StepError::from_error(step, "building the list removal failed", e))?,
        );
    }
    change = change.with(
        outbox_write(store, &message, now)
            .map_err(|e| StepError::from_error(step, "building the email failed", e))?,
    );
    match store.commit_change(&tenant, change, now).await {
        Ok(_) => {}
        Err(error)
            if (0..claims.len())
                .any(|index| error.condition_failed_at(FIRST_EXTRA_WRITE + index)) =>
        {
            return Err(StepError::fatal(
                step,
                "a claim belongs to another tenant; it was left in place",
            ));
        }
        Err(error) => {
            return Err(
                StepError::from_error(step, "deactivating the tenant failed", error)
                    .into_transient(),
            )
        }
    }
    tracing::info!("tenant rolled back and deactivated");
    dispatch(store, &services.queue, &message).await;
    Ok(done(step, true))
}

impl StepError {
    /// Treats a failure as retryable: used where a retry re-reads the state and converges.
    fn into_transient(self) -> Self {
        match self {
            Self::Fatal {
                step,
                message,
                source,
            }
            | Self::Transient {
                step,
                message,
                source,
            } => Self::Transient {
                step,
                message,
                source,
            },
        }
    }
}

type UndoWrites = Option<(String, Vec<aws_sdk_dynamodb::types::TransactWriteItem>)>;

/// Undoes the external effects of `step` and returns the table writes to commit with its audit
/// entry, or `None` when the step left nothing behind.
async fn undo(
    services: &Services,
    tenant: &TenantRecord,
    step: Step,
) -> Result<UndoWrites, StepError> {
    let store = &services.store;
    let tenant_id = tenant.tenant_id.as_str();
    let pk = keys::tenant(tenant_id);
    let fail = |what: &str, e: StoreError| StepError::from_error(Step::Rollback, what, e);
    let exists = |sk: &'static str| {
        let pk = pk.clone();
        async move { store.get(pk, sk).await }
    };
    match step {
        Step::Validate | Step::CheckDataStore | Step::Activate => Ok(None),
        Step::CreateAdminInvitation => {
            let Some(item) = exists(keys::INVITATION_SK)
                .await
                .map_err(|e| fail("reading the invitation failed", e))?
            else {
                return Ok(None);
            };
            let hash = Reader::new(&item)
                .opt_s("token_hash")
                .unwrap_or_default()
                .to_owned();
            let writes = vec![
                store
                    .delete_any(pk.clone(), keys::INVITATION_SK)
                    .map_err(|e| fail("building the delete failed", e))?,
                store
                    .delete_any(keys::invitation_token(&hash), "INVITE")
                    .map_err(|e| fail("building the delete failed", e))?,
            ];
            Ok(Some(("admin invitation deleted".into(), writes)))
        }
        Step::EnableModules | Step::ApplyConfigTemplate => {
            let sk = if step == Step::EnableModules {
                keys::MODULES_SK
            } else {
                keys::CONFIG_SK
            };
            if exists(sk)
                .await
                .map_err(|e| fail("reading failed", e))?
                .is_none()
            {
                return Ok(None);
            }
            let writes = vec![store
                .delete_any(pk.clone(), sk)
                .map_err(|e| fail("building the delete failed", e))?];
            Ok(Some((format!("{} removed", sk.to_lowercase()), writes)))
        }
        Step::CreateDataStore => {
            let record = store
                .get_data_store(tenant_id)
                .await
                .map_err(|e| fail("reading the data store failed", e))?;
            let region = tenant.residency.aws_region();
            // The table may exist without its record when a run stopped between the two.
            let mut description = Vec::new();
            if placement(tenant.plan, tenant.on_trial) == CellKind::Dedicated
                || matches!(
                    record.as_ref().map(|r| &r.kind),
                    Some(DataStoreKind::Dedicated { .. })
                )
            {
                let table = keys::dedicated_table(tenant_id);
                if services
                    .tables
                    .is_active(region, &table)
                    .await
                    .map_err(|e| {
                        StepError::from_error(
                            Step::Rollback,
                            "describing the tenant table failed",
                            e,
                        )
                    })?
                    .is_some()
                {
                    services.tables.delete(region, &table).await.map_err(|e| {
                        StepError::from_error(Step::Rollback, "deleting the tenant table failed", e)
                    })?;
                    description.push(format!("table {table} deleted in {region}"));
                }
            }
            if record.is_some() {
                description.push("data store record and encrypted data key deleted".into());
                let writes = vec![store
                    .delete_any(pk.clone(), keys::DATASTORE_SK)
                    .map_err(|e| fail("building the delete failed", e))?];
                return Ok(Some((description.join("; "), writes)));
            }
            if description.is_empty() {
                Ok(None)
            } else {
                Ok(Some((description.join("; "), Vec::new())))
            }
        }
        Step::ReserveCapacity => {
            let Some(cell_id) = tenant.cell_id.clone() else {
                return Ok(None);
            };
            let member = store
                .get(keys::cell(&cell_id), &keys::cell_member(tenant_id))
                .await
                .map_err(|e| fail("reading the cell member failed", e))?;
            if member.is_none() {
                return Ok(None);
            }
            let mut writes = vec![store
                .delete_any(keys::cell(&cell_id), &keys::cell_member(tenant_id))
                .map_err(|e| fail("building the delete failed", e))?];
            if cell_id.starts_with("dedicated-") {
                writes.push(
                    store
                        .delete_any(keys::cell(&cell_id), keys::CELL_SK)
                        .map_err(|e| fail("building the delete failed", e))?,
                );
            } else {
                writes.push(
                    store
                        .update(
                            keys::cell(&cell_id),
                            keys::CELL_SK,
                            "ADD #used :minus_one",
                            Some("#used > :zero"),
                            vec![(":minus_one", n(-1)), (":zero", n(0))],
                            vec![("#used", "used")],
                        )
                        .map_err(|e| fail("building the cell update failed", e))?,
                );
            }
            Ok(Some((format!("place on cell {cell_id} released"), writes)))
        }
        Step::Rollback => Ok(None),
    }
}
