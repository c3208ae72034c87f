//! Trials: scheduled reminders, expiry to read-only, suspension after the grace period, and
//! trial extensions that a platform admin approves or rejects.
//!
//! Every timed event is an item in the hour partition it is due in. The scheduler marks an event
//! done in the same transaction as its effect (email, audit entry, state change), so no event
//! takes effect twice, whatever the number of concurrent or repeated runs.

use aws_sdk_dynamodb::types::TransactWriteItem;
use onboarding_domain::audit::Actor;
use onboarding_domain::email::EmailTemplate;
use onboarding_domain::ids::MessageId;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::trial::{reminder_schedule, TimeZone, GRACE_DAYS};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::outbox::{dispatch, outbox_write};
use super::Services;
use crate::aws::dynamo::{DynamoStore, TenantChange, FIRST_EXTRA_WRITE};
use crate::aws::items::{format_time, n, s, ts, Item, Reader};
use crate::error::StoreError;
use crate::http::ApiError;
use crate::keys;
use crate::records::{EmailMessage, TenantRecord};

/// How far back the scheduler looks for events it has not done, so a missed run catches up.
const LOOKBACK_HOURS: i64 = 24;
/// Maximum trial extension a tenant may request, in days.
pub const MAX_EXTENSION_DAYS: u32 = 30;

/// Kinds of scheduled events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduledKind {
    Reminder7Days,
    Reminder3Days,
    Reminder1Day,
    TrialExpired,
    GraceEnded,
    DowngradeWindowEnded,
    /// Emails every customer of an MSP provider about a change at the provider, page by page.
    MspCustomersNotice,
}

impl ScheduledKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reminder7Days => "trial_reminder_7d",
            Self::Reminder3Days => "trial_reminder_3d",
            Self::Reminder1Day => "trial_reminder_1d",
            Self::TrialExpired => "trial_expired",
            Self::GraceEnded => "grace_ended",
            Self::DowngradeWindowEnded => "downgrade_window_ended",
            Self::MspCustomersNotice => "msp_customers_notice",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Reminder7Days,
            Self::Reminder3Days,
            Self::Reminder1Day,
            Self::TrialExpired,
            Self::GraceEnded,
            Self::DowngradeWindowEnded,
            Self::MspCustomersNotice,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }

    fn days_left(self) -> Option<u32> {
        match self {
            Self::Reminder7Days => Some(7),
            Self::Reminder3Days => Some(3),
            Self::Reminder1Day => Some(1),
            _ => None,
        }
    }
}

fn hour_bucket(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour()
    )
}

/// Builds the put of one scheduled event. `basis` is the trial end or window end the event was
/// computed from; the scheduler skips an event whose basis no longer matches the tenant.
pub fn schedule_write(
    store: &DynamoStore,
    tenant_id: &str,
    kind: ScheduledKind,
    due_at: OffsetDateTime,
    basis: OffsetDateTime,
) -> Result<TransactWriteItem, StoreError> {
    let due = format_time(due_at);
    let mut item = DynamoStore::key(
        keys::schedule(&hour_bucket(due_at)),
        keys::scheduled_event(&due, tenant_id, kind.as_str()),
    );
    item.insert("tenant_id".into(), s(tenant_id));
    item.insert("kind".into(), s(kind.as_str()));
    item.insert("due_at".into(), s(&due));
    item.insert("basis".into(), ts(basis));
    item.insert(
        keys::TTL.into(),
        n(due_at.unix_timestamp() + 60 * 24 * 3600),
    );
    store.put_any(item)
}

/// Builds the scheduled event that emails every customer of a provider about `reason`.
pub fn customers_notice_write(
    store: &DynamoStore,
    provider_id: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<TransactWriteItem, StoreError> {
    let due = format_time(now);
    let mut item = DynamoStore::key(
        keys::schedule(&hour_bucket(now)),
        keys::scheduled_event(
            &due,
            provider_id,
            ScheduledKind::MspCustomersNotice.as_str(),
        ),
    );
    item.insert("tenant_id".into(), s(provider_id));
    item.insert("kind".into(), s(ScheduledKind::MspCustomersNotice.as_str()));
    item.insert("due_at".into(), s(&due));
    item.insert("basis".into(), ts(now));
    item.insert("reason".into(), s(reason));
    item.insert(keys::TTL.into(), n(now.unix_timestamp() + 60 * 24 * 3600));
    store.put_any(item)
}

/// Customers emailed per transaction of a customer notice.
const NOTICE_PAGE: i32 = 25;
/// Pages of a customer notice done per scheduler run; the next run continues from the cursor.
const NOTICE_PAGES_PER_RUN: usize = 200;

/// Emails the provider's customers from the stored cursor on, one page per transaction that
/// also moves the cursor, so no customer is emailed twice.
async fn notify_customers(
    services: &Services,
    provider: &TenantRecord,
    item: &Item,
    now: OffsetDateTime,
) -> anyhow::Result<bool> {
    let store = &services.store;
    let r = Reader::new(item);
    let pk = r.s(keys::PK)?.to_owned();
    let sk = r.s(keys::SK)?.to_owned();
    let reason = r
        .opt_s("reason")
        .unwrap_or("its account changed")
        .to_owned();
    let mut cursor = r.opt_s("cursor").map(str::to_owned);
    for _ in 0..NOTICE_PAGES_PER_RUN {
        let start = cursor.as_ref().map(|sort_key| {
            DynamoStore::key(
                keys::provider_customers(&provider.tenant_id),
                sort_key.clone(),
            )
        });
        let output = store
            .client()
            .query()
            .table_name(store.table_name())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::provider_customers(&provider.tenant_id)))
            .expression_attribute_values(":prefix", s(keys::CUSTOMER_PREFIX))
            .limit(NOTICE_PAGE)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::aws::store_error("Query", e))?;
        let next = output
            .last_evaluated_key
            .and_then(|key| key.get(keys::SK).and_then(|v| v.as_s().ok()).cloned());
        let mut messages = Vec::new();
        for entry in output.items.unwrap_or_default() {
            let entry = Reader::new(&entry);
            let (Some(to), Some(customer_id)) =
                (entry.opt_s("admin_email"), entry.opt_s("tenant_id"))
            else {
                continue;
            };
            messages.push(EmailMessage {
                message_id: MessageId::generate().as_str().to_owned(),
                tenant_id: customer_id.to_owned(),
                to: to.to_owned(),
                template: EmailTemplate::ProviderNotice {
                    company_name: entry.opt_s("company_name").unwrap_or_default().to_owned(),
                    provider_name: provider.company_name.as_str().to_owned(),
                    reason: reason.clone(),
                },
                secret: None,
            });
        }
        let (expression, mut values) = match &next {
            Some(next) => ("SET #cursor = :next", vec![(":next", s(next))]),
            None => (
                "SET done_at = :now, outcome = :outcome",
                vec![(":now", ts(now)), (":outcome", s("sent"))],
            ),
        };
        let condition = match &cursor {
            Some(_) => "attribute_not_exists(done_at) AND #cursor = :cursor",
            None => "attribute_not_exists(done_at) AND attribute_not_exists(#cursor)",
        };
        if let Some(cursor) = &cursor {
            values.push((":cursor", s(cursor)));
        }
        let mut writes = vec![store.update(
            pk.clone(),
            &sk,
            expression,
            Some(condition),
            values,
            vec![("#cursor", "cursor")],
        )?];
        for message in &messages {
            writes.push(outbox_write(store, message, now)?);
        }
        match store.transact(writes).await {
            Ok(()) => {}
            // Another run sent this page first.
            Err(error) if error.condition_failed_at(0) => return Ok(false),
            Err(error) => return Err(error.into()),
        }
        for message in &messages {
            dispatch(store, &services.queue, message).await;
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(true),
        }
    }
    Ok(true)
}

/// Builds the scheduled events of a trial that ends at `trial_ends_at`: three reminders in the
/// tenant's time zone, the expiry, and the end of the grace period.
pub fn trial_schedule(
    store: &DynamoStore,
    tenant_id: &str,
    time_zone: &str,
    trial_ends_at: OffsetDateTime,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let zone = TimeZone::parse(time_zone).unwrap_or_default();
    let mut writes = Vec::new();
    for (reminder, due_at) in reminder_schedule(trial_ends_at, &zone) {
        let kind = match reminder.as_str() {
            "trial_reminder_7d" => ScheduledKind::Reminder7Days,
            "trial_reminder_3d" => ScheduledKind::Reminder3Days,
            _ => ScheduledKind::Reminder1Day,
        };
        writes.push(schedule_write(
            store,
            tenant_id,
            kind,
            due_at,
            trial_ends_at,
        )?);
    }
    writes.push(schedule_write(
        store,
        tenant_id,
        ScheduledKind::TrialExpired,
        trial_ends_at,
        trial_ends_at,
    )?);
    writes.push(schedule_write(
        store,
        tenant_id,
        ScheduledKind::GraceEnded,
        grace_end(trial_ends_at),
        trial_ends_at,
    )?);
    Ok(writes)
}

pub fn grace_end(trial_ends_at: OffsetDateTime) -> OffsetDateTime {
    trial_ends_at + time::Duration::days(GRACE_DAYS)
}

/// Events of one scheduler run, as `kind:tenant_id`, by outcome.
#[derive(Debug, Default, Serialize)]
pub struct SchedulerReport {
    pub done: Vec<String>,
    pub skipped: Vec<String>,
    pub failed: Vec<String>,
}

/// Does every scheduled event due at `now` that is not done yet.
pub async fn run_scheduler(
    services: &Services,
    now: OffsetDateTime,
) -> anyhow::Result<SchedulerReport> {
    let store = &services.store;
    let mut report = SchedulerReport::default();
    let cutoff = format!("{}~", format_time(now));
    for hours_back in (0..=LOOKBACK_HOURS).rev() {
        let bucket = hour_bucket(now - time::Duration::hours(hours_back));
        let items = query_due(store, &keys::schedule(&bucket), &cutoff).await?;
        for item in items {
            let r = Reader::new(&item);
            if r.opt_s("done_at").is_some() {
                continue;
            }
            let label = format!(
                "{}:{}",
                r.opt_s("kind").unwrap_or_default(),
                r.opt_s("tenant_id").unwrap_or_default()
            );
            match do_event(services, &item, now).await {
                Ok(true) => report.done.push(label),
                Ok(false) => report.skipped.push(label),
                Err(error) => {
                    tracing::error!(event = %label, error = %format!("{error:#}"), "scheduled event failed; the next run retries it");
                    report.failed.push(label);
                }
            }
        }
    }
    Ok(report)
}

async fn query_due(store: &DynamoStore, pk: &str, cutoff: &str) -> Result<Vec<Item>, StoreError> {
    let output = store
        .client()
        .query()
        .table_name(store.table_name())
        .key_condition_expression("PK = :pk AND SK <= :cutoff")
        .expression_attribute_values(":pk", s(pk))
        .expression_attribute_values(":cutoff", s(cutoff))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| crate::aws::store_error("Query", e))?;
    Ok(output.items.unwrap_or_default())
}

/// Builds the write that marks a scheduled event done. It fails when another run did it first.
fn mark_done(
    store: &DynamoStore,
    item: &Item,
    outcome: &str,
    now: OffsetDateTime,
) -> Result<TransactWriteItem, StoreError> {
    let r = Reader::new(item);
    store.update(
        r.s(keys::PK)?.to_owned(),
        r.s(keys::SK)?,
        "SET done_at = :now, outcome = :outcome",
        Some("attribute_exists(PK) AND attribute_not_exists(done_at)"),
        vec![(":now", ts(now)), (":outcome", s(outcome))],
        vec![],
    )
}

/// Does one event. Returns false when it was skipped because the tenant no longer needs it.
#[tracing::instrument(skip_all, fields(tenant_id, kind))]
async fn do_event(services: &Services, item: &Item, now: OffsetDateTime) -> anyhow::Result<bool> {
    let store = &services.store;
    let r = Reader::new(item);
    let tenant_id = r.s("tenant_id")?.to_owned();
    let kind = ScheduledKind::parse(r.s("kind")?)
        .ok_or_else(|| anyhow::anyhow!("unknown scheduled event kind {:?}", r.opt_s("kind")))?;
    tracing::Span::current().record("tenant_id", tenant_id.as_str());
    tracing::Span::current().record("kind", kind.as_str());
    let basis = r.opt_time("basis")?;
    let Some(tenant) = store.get_tenant(&tenant_id).await? else {
        return skip(store, item, "tenant does not exist", now).await;
    };

    let trial_current = tenant.on_trial && tenant.trial_ends_at == basis;
    match kind {
        ScheduledKind::MspCustomersNotice => notify_customers(services, &tenant, item, now).await,
        ScheduledKind::Reminder7Days
        | ScheduledKind::Reminder3Days
        | ScheduledKind::Reminder1Day => {
            if !trial_current || tenant.state != TenantState::Active {
                return skip(
                    store,
                    item,
                    "trial converted, changed or tenant not active",
                    now,
                )
                .await;
            }
            let message = EmailMessage::to_tenant(
                &tenant,
                EmailTemplate::TrialReminder {
                    company_name: tenant.company_name.as_str().to_owned(),
                    days_left: kind.days_left().unwrap_or(1),
                    trial_ends_at: format_time(tenant.trial_ends_at.unwrap_or(now)),
                    upgrade_url: upgrade_url(services, &tenant),
                },
            );
            let writes = vec![
                mark_done(store, item, "sent", now)?,
                outbox_write(store, &message, now)?,
            ];
            if let Err(error) = store.transact(writes).await {
                if error.condition_failed_at(0) {
                    return Ok(false);
                }
                return Err(error.into());
            }
            tracing::info!("trial reminder queued");
            dispatch(store, &services.queue, &message).await;
            Ok(true)
        }
        ScheduledKind::TrialExpired => {
            if !trial_current || tenant.state != TenantState::Active {
                return skip(
                    store,
                    item,
                    "trial converted, changed or tenant not active",
                    now,
                )
                .await;
            }
            let grace = grace_end(tenant.trial_ends_at.unwrap_or(now));
            let message = EmailMessage::to_tenant(
                &tenant,
                EmailTemplate::TrialExpired {
                    company_name: tenant.company_name.as_str().to_owned(),
                    grace_ends_at: format_time(grace),
                    upgrade_url: upgrade_url(services, &tenant),
                },
            );
            let change = TenantChange::new(
                Actor::system("trial-scheduler"),
                "trial.expired",
                format!(
                    "trial ended; data is read-only until {}",
                    format_time(grace)
                ),
            )
            .set("grace_ends_at", ts(grace))
            .with(mark_done(store, item, "expired", now)?)
            .with(outbox_write(store, &message, now)?);
            commit_event(services, &tenant, change, &message, now).await
        }
        ScheduledKind::GraceEnded => {
            if !trial_current
                || !matches!(tenant.state, TenantState::Active | TenantState::Suspended)
            {
                return skip(
                    store,
                    item,
                    "trial converted, changed or tenant not active",
                    now,
                )
                .await;
            }
            let message = EmailMessage::to_tenant(&tenant, EmailTemplate::TenantSuspended {
                company_name: tenant.company_name.as_str().to_owned(),
                reason: "the trial and its grace period ended without a subscription; the data is archived and can be restored by subscribing".to_owned(),
            });
            let mut change = TenantChange::new(
                Actor::system("trial-scheduler"),
                "trial.grace_ended",
                "trial grace period ended without a subscription; data archived",
            )
            .set("archived_at", ts(now))
            .with(mark_done(store, item, "suspended", now)?)
            .with(outbox_write(store, &message, now)?);
            if tenant.state == TenantState::Active {
                change = change.to_state(TenantState::Suspended);
            }
            commit_event(services, &tenant, change, &message, now).await
        }
        ScheduledKind::DowngradeWindowEnded => {
            let current = tenant
                .commercial
                .downgrade
                .as_ref()
                .is_some_and(|d| Some(d.read_only_until) == basis);
            if !current {
                return skip(store, item, "downgrade changed meanwhile", now).await;
            }
            let change = TenantChange::new(
                Actor::system("trial-scheduler"),
                "plan.downgrade_archived",
                "read-only window of the downgraded modules ended; their data is archived",
            )
            .with(mark_done(store, item, "archived", now)?);
            let (writes, _) = store.change_writes(&tenant, change, now)?;
            match store.transact(writes).await {
                Ok(()) => Ok(true),
                Err(error) if error.condition_failed_at(FIRST_EXTRA_WRITE) => Ok(false),
                Err(error) => Err(error.into()),
            }
        }
    }
}

async fn commit_event(
    services: &Services,
    tenant: &TenantRecord,
    change: TenantChange,
    message: &EmailMessage,
    now: OffsetDateTime,
) -> anyhow::Result<bool> {
    match services.store.commit_change(tenant, change, now).await {
        Ok(_) => {
            dispatch(&services.store, &services.queue, message).await;
            Ok(true)
        }
        // Another run did this event first.
        Err(error) if error.condition_failed_at(FIRST_EXTRA_WRITE) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

async fn skip(
    store: &DynamoStore,
    item: &Item,
    why: &str,
    now: OffsetDateTime,
) -> anyhow::Result<bool> {
    tracing::info!(why, "scheduled event skipped");
    match store
        .transact(vec![mark_done(store, item, "skipped", now)?])
        .await
    {
        Ok(()) => Ok(false),
        Err(error) if error.condition_failed_at(0) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Returns the billing page of the workspace, where a Tenant Admin upgrades.
pub fn upgrade_url(services: &Services, tenant: &TenantRecord) -> String {
    format!(
        "{}/settings/billing",
        onboarding_domain::workspace_url(&tenant.subdomain, &services.config.workspace_base_domain)
    )
}

// ---- extensions ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    pub days: Option<u32>,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExtensionView {
    pub extension_id: String,
    pub tenant_id: String,
    pub days: u32,
    pub reason: String,
    pub status: String,
    pub trial_ends_at: Option<String>,
}

/// Records a tenant's request for a longer trial, for a platform admin to decide.
pub async fn request_extension(
    services: &Services,
    caller: &str,
    tenant_id: &str,
    request: &ExtensionRequest,
    now: OffsetDateTime,
) -> Result<ExtensionView, ApiError> {
    let mut errors = Vec::new();
    let days = request.days.unwrap_or(0);
    if !(1..=MAX_EXTENSION_DAYS).contains(&days) {
        errors.push(onboarding_domain::signup::FieldError::invalid(
            "days",
            format!("days must be a whole number from 1 to {MAX_EXTENSION_DAYS}; got {days}"),
        ));
    }
    let reason = request.reason.clone().unwrap_or_default().trim().to_owned();
    if reason.chars().any(char::is_control) || reason.chars().count() > 500 {
        errors.push(onboarding_domain::signup::FieldError::invalid(
            "reason",
            "reason must be at most 500 characters without control characters",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(
            onboarding_domain::signup::ValidationErrors(errors),
        ));
    }
    let store = &services.store;
    let tenant = super::entitlements::load_tenant(store, tenant_id).await?;
    if !tenant.on_trial {
        return Err(ApiError::Conflict {
            errors: vec![],
            message: "the tenant is not on a trial; nothing to extend".into(),
        });
    }
    let extension_id = format!("ext_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut item = DynamoStore::key(keys::trial_extension(&extension_id), "TRIALEXT");
    item.insert("extension_id".into(), s(&extension_id));
    item.insert("tenant_id".into(), s(tenant_id));
    item.insert("days".into(), n(days));
    item.insert("reason".into(), s(&reason));
    item.insert("status".into(), s("requested"));
    item.insert("requested_by".into(), s(caller));
    item.insert(keys::GSI1PK.into(), s("TRIALEXT#requested"));
    item.insert(
        keys::GSI1SK.into(),
        s(format!("{}#{extension_id}", format_time(now))),
    );
    let actor = Actor::user(caller).map_err(ApiError::unexpected)?;
    let change = TenantChange::new(
        actor,
        "trial.extension_requested",
        format!("{days} more days requested: {reason}"),
    )
    .with(store.put_new(item)?);
    store.commit_change(&tenant, change, now).await?;
    Ok(ExtensionView {
        extension_id,
        tenant_id: tenant_id.to_owned(),
        days,
        reason,
        status: "requested".into(),
        trial_ends_at: tenant.trial_ends_at.map(format_time),
    })
}

/// Approves or rejects a requested extension; an approval moves the trial end and its schedule.
pub async fn decide_extension(
    services: &Services,
    admin: &str,
    extension_id: &str,
    approve: bool,
    now: OffsetDateTime,
) -> Result<ExtensionView, ApiError> {
    let store = &services.store;
    let not_found = || ApiError::NotFound(format!("trial extension {extension_id} does not exist"));
    let item = store
        .get(keys::trial_extension(extension_id), "TRIALEXT")
        .await?
        .ok_or_else(not_found)?;
    let r = Reader::new(&item);
    let tenant_id = r.s("tenant_id")?.to_owned();
    let days: u32 = r.n("days")?;
    let reason = r.opt_s("reason").unwrap_or_default().to_owned();
    if r.opt_s("status") != Some("requested") {
        return Err(ApiError::Conflict {
            errors: vec![],
            message: format!(
                "trial extension {extension_id} was already decided: {}",
                r.opt_s("status").unwrap_or_default()
            ),
        });
    }
    let tenant = super::entitlements::load_tenant(store, &tenant_id).await?;
    let status = if approve { "approved" } else { "rejected" };
    let actor =
        Actor::platform_admin(admin).map_err(|error| ApiError::Forbidden(error.to_string()))?;
    let decide = store.update(
        keys::trial_extension(extension_id),
        "TRIALEXT",
        "SET #status = :status, decided_by = :admin, decided_at = :now REMOVE GSI1PK, GSI1SK",
        Some("#status = :requested"),
        vec![
            (":status", s(status)),
            (":admin", s(admin)),
            (":now", ts(now)),
            (":requested", s("requested")),
        ],
        vec![("#status", "status")],
    )?;
    let mut new_end = tenant.trial_ends_at;
    let mut change = TenantChange::new(
        actor,
        format!("trial.extension_{status}"),
        format!("{days} days: {reason}"),
    )
    .with(decide);
    let template = if approve {
        let base = tenant.trial_ends_at.unwrap_or(now).max(now);
        let end = base + time::Duration::days(i64::from(days));
        new_end = Some(end);
        change = change
            .set("trial_ends_at", ts(end))
            .set("grace_ends_at", ts(grace_end(end)))
            .remove("archived_at");
        for write in trial_schedule(store, &tenant_id, &tenant.commercial.time_zone, end)? {
            change = change.with(write);
        }
        if tenant.state == TenantState::Suspended {
            change = change.to_state(TenantState::Active);
        }
        EmailTemplate::TrialExtensionDecided {
            company_name: tenant.company_name.as_str().to_owned(),
            approved: true,
            trial_ends_at: Some(format_time(end)),
        }
    } else {
        EmailTemplate::TrialExtensionDecided {
            company_name: tenant.company_name.as_str().to_owned(),
            approved: false,
            trial_ends_at: tenant.trial_ends_at.map(format_time),
        }
    };
    let message = EmailMessage::to_tenant(&tenant, template);
    change = change.with(outbox_write(store, &message, now)?);
    match store.commit_change(&tenant, change, now).await {
        Ok(_) => {}
        Err(error) if error.condition_failed_at(FIRST_EXTRA_WRITE) => {
            return Err(ApiError::Conflict {
                errors: vec![],
                message: format!("trial extension {extension_id} was decided meanwhile"),
            });
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(tenant_id, extension_id, status, "trial extension decided");
    dispatch(store, &services.queue, &message).await;
    Ok(ExtensionView {
        extension_id: extension_id.to_owned(),
        tenant_id,
        days,
        reason,
        status: status.into(),
        trial_ends_at: new_end.map(format_time),
    })
}
