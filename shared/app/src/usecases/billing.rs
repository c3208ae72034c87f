//! Stripe billing: Checkout for upgrades, and the webhook that converts trials, runs dunning and
//! applies plan changes.
//!
//! The webhook verifies the signature over the exact raw body before parsing anything. Each event
//! is applied once: its id is written with a condition in the same transaction as its effect, so
//! a repeated or concurrent delivery finds the id taken and changes nothing. Subscription state
//! only moves forward: an event older than the newest one applied is recorded and ignored.

use onboarding_domain::audit::Actor;
use onboarding_domain::billing::{is_newer, DunningAction, SubscriptionStatus};
use onboarding_domain::catalog::Module;
use onboarding_domain::email::EmailTemplate;
use onboarding_domain::entitlements::Downgrade;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::plans::PlanCatalog;
use onboarding_domain::signup::Plan;
use onboarding_domain::stripe::{self as stripe_events, HandledEvent, WebhookEvent};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::entitlements::{catalog_of, load_tenant};
use super::outbox::{dispatch, outbox_write};
use super::trials::{schedule_write, upgrade_url, ScheduledKind};
use super::Services;
use crate::aws::dynamo::{DynamoStore, TenantChange, FIRST_EXTRA_WRITE};
use crate::aws::items::{n, s, ts, Reader};
use crate::error::StoreError;
use crate::http::ApiError;
use crate::keys;
use crate::records::{EmailMessage, TenantRecord};
use crate::stripe::{CheckoutRequest, Purpose};

/// Stripe signatures older than this are rejected as replays.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;
/// Event ids are kept this long to drop repeated deliveries; Stripe retries for up to 3 days.
const EVENT_RETENTION_SECONDS: i64 = 30 * 24 * 3600;
/// Modules a downgrade removes stay read-only this long before their data is archived.
pub const DOWNGRADE_READ_ONLY_DAYS: i64 = 30;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    pub plan: Option<String>,
    pub quantity: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct CheckoutStarted {
    pub checkout_url: String,
    pub session_id: String,
    pub plan: String,
}

/// Creates a Checkout Session for a plan, creating the tenant's one Stripe customer first.
#[tracing::instrument(skip_all, fields(tenant_id))]
pub async fn start_checkout(
    services: &Services,
    tenant_id: &str,
    body: &CheckoutBody,
    now: OffsetDateTime,
) -> Result<CheckoutStarted, ApiError> {
    tracing::Span::current().record("tenant_id", tenant_id);
    let plan_name = body.plan.clone().unwrap_or_default();
    let plan = Plan::parse(&plan_name).map_err(|error| {
        ApiError::Validation(onboarding_domain::signup::ValidationErrors(vec![error]))
    })?;
    let quantity = body.quantity.unwrap_or(1);
    if quantity == 0 || quantity > 100_000 {
        return Err(ApiError::Validation(
            onboarding_domain::signup::ValidationErrors(vec![
                onboarding_domain::signup::FieldError::invalid(
                    "quantity",
                    format!("quantity must be from 1 to 100000; got {quantity}"),
                ),
            ]),
        ));
    }
    let store = &services.store;
    let tenant = load_tenant(store, tenant_id).await?;
    if tenant.commercial.parent_id.is_some() {
        return Err(ApiError::Conflict {
            errors: vec![],
            message: "customers of an MSP are licensed by their provider and cannot buy a plan"
                .into(),
        });
    }
    // An MSP provider buying a tier other than msp buys licenses for its pool.
    let purpose = if tenant.plan == Plan::Msp && plan != Plan::Msp {
        Purpose::LicensePool
    } else {
        Purpose::Plan
    };
    if !matches!(tenant.state, TenantState::Active | TenantState::Suspended) {
        return Err(ApiError::Conflict {
            errors: vec![],
            message: format!(
                "tenant is {}; checkout needs an active or suspended tenant",
                tenant.state.as_str()
            ),
        });
    }
    let customer_id = ensure_customer(services, &tenant).await?;
    // One key per tenant, plan, quantity and hour: a double click returns the same session.
    let idempotency_key = format!(
        "checkout-{tenant_id}-{}-{quantity}-{}",
        plan.as_str(),
        now.unix_timestamp() / 3600
    );
    let session = services
        .stripe
        .create_checkout_session(&CheckoutRequest {
            purpose,
            tenant_id,
            customer_id: &customer_id,
            plan: plan.as_str(),
            quantity,
            catalog_version: PlanCatalog::current().version,
            idempotency_key: &idempotency_key,
        })
        .await
        .map_err(stripe_error)?;
    tracing::info!(session_id = %session.id, plan = plan.as_str(), "checkout session created");
    Ok(CheckoutStarted {
        checkout_url: session.url.unwrap_or_default(),
        session_id: session.id,
        plan: plan.as_str().to_owned(),
    })
}

/// Maps a Stripe failure: missing configuration is reported as such, anything else is unexpected.
fn stripe_error(error: crate::stripe::StripeError) -> ApiError {
    match error {
        crate::stripe::StripeError::NotConfigured(what) => ApiError::NotConfigured(format!(
            "checkout is not available: Stripe is not configured ({what}); set STRIPE_SECRET_KEY, STRIPE_API_URL and the STRIPE_PRICE_* settings"
        )),
        other => ApiError::unexpected(other),
    }
}

/// Returns the tenant's Stripe customer, creating it once. The Stripe call carries an idempotency
/// key derived from the tenant, and the id is stored with a condition, so concurrent requests
/// end with one customer.
async fn ensure_customer(services: &Services, tenant: &TenantRecord) -> Result<String, ApiError> {
    if let Some(id) = &tenant.commercial.stripe_customer_id {
        return Ok(id.clone());
    }
    let customer = services
        .stripe
        .create_customer(
            &tenant.tenant_id,
            tenant.email.as_str(),
            tenant.company_name.as_str(),
        )
        .await
        .map_err(stripe_error)?;
    let store = &services.store;
    let mut lookup = DynamoStore::key(keys::stripe_customer(&customer.id), "STRIPE_CUSTOMER");
    lookup.insert("tenant_id".into(), s(&tenant.tenant_id));
    let writes = vec![
        store.update(
            keys::tenant(&tenant.tenant_id),
            keys::TENANT_SK,
            "SET stripe_customer_id = :id",
            Some("attribute_not_exists(stripe_customer_id) OR stripe_customer_id = :id"),
            vec![(":id", s(&customer.id))],
            vec![],
        )?,
        store.put_any(lookup)?,
    ];
    match store.transact(writes).await {
        Ok(()) => Ok(customer.id),
        Err(error) if error.condition_failed_at(0) => {
            let current = load_tenant(store, &tenant.tenant_id).await?;
            current
                .commercial
                .stripe_customer_id
                .ok_or_else(|| ApiError::unexpected(error))
        }
        Err(error) => Err(error.into()),
    }
}

/// Reasons a webhook delivery is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the Stripe-Signature header is invalid: {0}")]
    Signature(#[source] stripe_events::SignatureError),
    #[error("webhook secrets are not configured; set STRIPE_WEBHOOK_SECRETS")]
    NotConfigured,
    #[error("event {event_id} of type {event_type} cannot be read")]
    Unreadable {
        event_id: String,
        event_type: String,
        #[source]
        source: stripe_events::EventError,
    },
    #[error("the payload is not a Stripe event")]
    NotAnEvent(#[source] stripe_events::EventError),
    #[error("applying event {event_id} failed")]
    Apply {
        event_id: String,
        #[source]
        source: anyhow::Error,
    },
}

/// Outcome of a delivered event.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    Applied,
    Duplicate,
    Stale,
    Ignored,
}

/// Verifies and applies one webhook delivery.
#[tracing::instrument(skip_all, fields(event_id, event_type, tenant_id))]
pub async fn handle_webhook(
    services: &Services,
    signature_header: Option<&str>,
    raw_body: &[u8],
    now: OffsetDateTime,
) -> Result<WebhookOutcome, WebhookError> {
    let secrets: Vec<&str> = services
        .config
        .stripe
        .webhook_secrets
        .iter()
        .map(String::as_str)
        .collect();
    if secrets.is_empty() {
        return Err(WebhookError::NotConfigured);
    }
    stripe_events::verify_signature(
        signature_header.unwrap_or_default(),
        raw_body,
        &secrets,
        now.unix_timestamp(),
        SIGNATURE_TOLERANCE_SECONDS,
    )
    .map_err(WebhookError::Signature)?;
    let event = stripe_events::parse_event(raw_body).map_err(WebhookError::NotAnEvent)?;
    tracing::Span::current().record("event_id", event.id.as_str());
    tracing::Span::current().record("event_type", event.event_type.as_str());
    let handled = match HandledEvent::from_event(&event) {
        Ok(Some(handled)) => handled,
        Ok(None) => {
            tracing::info!("event type not handled; acknowledged");
            return Ok(WebhookOutcome::Ignored);
        }
        Err(source) => {
            return Err(WebhookError::Unreadable {
                event_id: event.id.clone(),
                event_type: event.event_type.clone(),
                source,
            })
        }
    };
    apply(services, &event, handled, now)
        .await
        .map_err(|source| WebhookError::Apply {
            event_id: event.id.clone(),
            source,
        })
}

/// Builds the conditional put that makes an event apply once.
fn event_marker(
    store: &DynamoStore,
    event: &WebhookEvent,
    now: OffsetDateTime,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let mut item = DynamoStore::key(keys::stripe_event(&event.id), "STRIPE_EVENT");
    item.insert("event_type".into(), s(&event.event_type));
    item.insert("created".into(), n(event.created));
    item.insert("received_at".into(), ts(now));
    item.insert(
        keys::TTL.into(),
        n(now.unix_timestamp() + EVENT_RETENTION_SECONDS),
    );
    store.put_new(item)
}

/// Finds the tenant of a Stripe object by its customer, or else by the tenant id in its metadata.
async fn tenant_for(
    store: &DynamoStore,
    customer: Option<&str>,
    tenant_hint: Option<&str>,
) -> anyhow::Result<Option<TenantRecord>> {
    if let Some(customer) = customer {
        if let Some(item) = store
            .get(keys::stripe_customer(customer), "STRIPE_CUSTOMER")
            .await?
        {
            let tenant_id = Reader::new(&item).s("tenant_id")?.to_owned();
            return Ok(store.get_tenant(&tenant_id).await?);
        }
    }
    match tenant_hint {
        Some(tenant_id) => Ok(store.get_tenant(tenant_id).await?),
        None => Ok(None),
    }
}

/// Records an event that changes nothing, so a repeated delivery is reported as a duplicate.
async fn record_only(
    store: &DynamoStore,
    event: &WebhookEvent,
    now: OffsetDateTime,
    outcome: WebhookOutcome,
) -> anyhow::Result<WebhookOutcome> {
    match store.transact(vec![event_marker(store, event, now)?]).await {
        Ok(()) => Ok(outcome),
        Err(error) if error.condition_failed_at(0) => Ok(WebhookOutcome::Duplicate),
        Err(error) => Err(error.into()),
    }
}

async fn apply(
    services: &Services,
    event: &WebhookEvent,
    handled: HandledEvent,
    now: OffsetDateTime,
) -> anyhow::Result<WebhookOutcome> {
    let store = &services.store;
    for _ in 0..5 {
        let plan = match plan_change(services, event, &handled, now).await? {
            Some(plan) => plan,
            None => return record_only(store, event, now, WebhookOutcome::Ignored).await,
        };
        let PlannedChange {
            tenant,
            change,
            emails,
            outcome,
        } = plan;
        tracing::Span::current().record("tenant_id", tenant.tenant_id.as_str());
        let Some(change) = change else {
            return record_only(store, event, now, outcome).await;
        };
        // The marker follows the change's own writes. A failed condition at its index means
        // a duplicate delivery.
        let marker_index = FIRST_EXTRA_WRITE + change.extra.len();
        let mut change = change.with(event_marker(store, event, now)?);
        for email in &emails {
            change = change.with(outbox_write(store, email, now)?);
        }
        match store.commit_change(&tenant, change, now).await {
            Ok(_) => {
                for email in &emails {
                    dispatch(store, &services.queue, email).await;
                }
                tracing::info!("Stripe event applied");
                return Ok(outcome);
            }
            Err(error) if error.condition_failed_at(marker_index) => {
                tracing::info!("Stripe event already applied; duplicate delivery dropped");
                return Ok(WebhookOutcome::Duplicate);
            }
            // The tenant changed since it was read: plan the change again.
            Err(error) if error.condition_failed_at(0) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    anyhow::bail!("tenant kept changing while applying event {}", event.id)
}

struct PlannedChange {
    tenant: TenantRecord,
    change: Option<TenantChange>,
    emails: Vec<EmailMessage>,
    outcome: WebhookOutcome,
}

fn actor() -> Actor {
    Actor::system("stripe")
}

/// Decides what an event changes on its tenant, without writing anything.
async fn plan_change(
    services: &Services,
    event: &WebhookEvent,
    handled: &HandledEvent,
    now: OffsetDateTime,
) -> anyhow::Result<Option<PlannedChange>> {
    let store = &services.store;
    match handled {
        HandledEvent::CheckoutSessionCompleted(session) => {
            let Some(tenant_id) = session.tenant_id().map(str::to_owned) else {
                tracing::warn!("checkout session without a tenant reference; ignored");
                return Ok(None);
            };
            let Some(tenant) = store.get_tenant(&tenant_id).await? else {
                tracing::warn!(tenant_id, "checkout session for an unknown tenant; ignored");
                return Ok(None);
            };
            if session.metadata.get("purpose").map(String::as_str)
                == Some(Purpose::LicensePool.as_str())
            {
                return pool_purchase(store, tenant, session);
            }
            let plan = session
                .metadata
                .get("plan")
                .and_then(|p| Plan::parse(p).ok())
                .unwrap_or(tenant.plan);
            let mut change = TenantChange::new(
                actor(),
                "billing.converted",
                format!("payment succeeded; plan {}", plan.as_str()),
            )
            .set("plan", s(plan.as_str()))
            .set("on_trial", crate::aws::items::b(false))
            .set("catalog_version", n(PlanCatalog::current().version))
            .remove("grace_ends_at")
            .remove("archived_at")
            .remove("past_due_since");
            if let Some(customer) = &session.customer {
                change = change.set("stripe_customer_id", s(customer));
            }
            if let Some(subscription) = &session.subscription {
                change = change.set("subscription_id", s(subscription));
            }
            if tenant.state == TenantState::Suspended {
                change = change.to_state(TenantState::Active);
            }
            change = change.with(modules_write(store, &tenant.tenant_id, plan)?);
            let email = EmailMessage::to_tenant(
                &tenant,
                EmailTemplate::UpgradeConfirmed {
                    company_name: tenant.company_name.as_str().to_owned(),
                    plan: plan.as_str().to_owned(),
                    workspace_url: tenant.workspace_url.clone().unwrap_or_default(),
                },
            );
            Ok(Some(PlannedChange {
                tenant,
                change: Some(change),
                emails: vec![email],
                outcome: WebhookOutcome::Applied,
            }))
        }
        HandledEvent::SubscriptionCreated(subscription)
        | HandledEvent::SubscriptionUpdated(subscription)
        | HandledEvent::SubscriptionDeleted(subscription) => {
            let Some(tenant) = tenant_for(
                store,
                subscription.customer.as_deref(),
                subscription.tenant_id(),
            )
            .await?
            else {
                tracing::warn!(customer = ?subscription.customer, "subscription of an unknown customer; ignored");
                return Ok(None);
            };
            if subscription.metadata.get("purpose").map(String::as_str)
                == Some(Purpose::LicensePool.as_str())
            {
                let deleted = matches!(handled, HandledEvent::SubscriptionDeleted(_));
                return pool_subscription_change(
                    services,
                    tenant,
                    subscription,
                    deleted,
                    event.created,
                    now,
                )
                .await;
            }
            if !is_newer(tenant.commercial.billing_event_created, event.created) {
                tracing::info!(stored = ?tenant.commercial.billing_event_created, event_created = event.created, "older subscription event ignored");
                return Ok(Some(PlannedChange {
                    tenant,
                    change: None,
                    emails: vec![],
                    outcome: WebhookOutcome::Stale,
                }));
            }
            let status = if matches!(handled, HandledEvent::SubscriptionDeleted(_)) {
                "canceled".to_owned()
            } else {
                subscription.status.as_str().to_owned()
            };
            let mut change = TenantChange::new(
                actor(),
                format!("billing.subscription.{status}"),
                format!("subscription {} is {status}", subscription.id),
            )
            .set("subscription_id", s(&subscription.id))
            .set("subscription_status", s(&status))
            .set("billing_event_created", n(event.created));
            let mut emails = Vec::new();
            let previous = tenant
                .commercial
                .subscription_status
                .as_deref()
                .map(SubscriptionStatus::parse);
            match DunningAction::for_status_change(
                previous.as_ref(),
                &SubscriptionStatus::parse(&status),
            ) {
                Some(DunningAction::StartGrace) => {
                    if tenant.commercial.past_due_since.is_none() {
                        change = change.set("past_due_since", ts(now));
                    }
                    emails.push(EmailMessage::to_tenant(
                        &tenant,
                        EmailTemplate::PaymentFailed {
                            company_name: tenant.company_name.as_str().to_owned(),
                            billing_url: upgrade_url(services, &tenant),
                        },
                    ));
                }
                Some(DunningAction::Suspend) => {
                    if is_provider(&tenant) {
                        change = change.with(super::trials::customers_notice_write(
                            store,
                            &tenant.tenant_id,
                            &format!("its subscription is {status}"),
                            now,
                        )?);
                    }
                    if tenant.state == TenantState::Active {
                        change = change.to_state(TenantState::Suspended);
                        change.reason = format!(
                            "subscription {} is {status}; features blocked, data read-only",
                            subscription.id
                        );
                    }
                    emails.push(EmailMessage::to_tenant(&tenant, EmailTemplate::TenantSuspended {
                        company_name: tenant.company_name.as_str().to_owned(),
                        reason: format!("the subscription is {status}; your data stays readable, and paying the open invoice restores access"),
                    }));
                }
                Some(DunningAction::Restore) => {
                    change = change.remove("past_due_since");
                    if tenant.state == TenantState::Suspended
                        && tenant.commercial.archived_at.is_none()
                    {
                        change = change.to_state(TenantState::Active);
                        change.reason = format!("subscription {} is active again", subscription.id);
                    }
                }
                None => {}
            }
            if let Some(new_plan) = subscription
                .plan_lookup_key
                .as_deref()
                .and_then(|key| plan_for_lookup_key(services, key))
            {
                if new_plan != tenant.plan
                    && !matches!(handled, HandledEvent::SubscriptionDeleted(_))
                {
                    change = plan_switch(services, &tenant, new_plan, change, &mut emails, now)?;
                }
            }
            Ok(Some(PlannedChange {
                tenant,
                change: Some(change),
                emails,
                outcome: WebhookOutcome::Applied,
            }))
        }
        HandledEvent::SubscriptionTrialWillEnd(subscription) => {
            tracing::info!(subscription = %subscription.id, "Stripe trial ends soon; the trial scheduler sends the reminders");
            Ok(None)
        }
        HandledEvent::InvoicePaid(invoice) => {
            let Some(tenant) = tenant_for(store, invoice.customer.as_deref(), None).await? else {
                return Ok(None);
            };
            let mut change = TenantChange::new(
                actor(),
                "billing.invoice.paid",
                format!("invoice {} paid", invoice.id),
            )
            .remove("past_due_since");
            if tenant.state == TenantState::Suspended && tenant.commercial.archived_at.is_none() {
                change = change.to_state(TenantState::Active);
            }
            Ok(Some(PlannedChange {
                tenant,
                change: Some(change),
                emails: vec![],
                outcome: WebhookOutcome::Applied,
            }))
        }
        HandledEvent::InvoicePaymentFailed(invoice) => {
            let Some(tenant) = tenant_for(store, invoice.customer.as_deref(), None).await? else {
                return Ok(None);
            };
            let change = TenantChange::new(
                actor(),
                "billing.invoice.payment_failed",
                format!("payment of invoice {} failed", invoice.id),
            );
            let email = EmailMessage::to_tenant(
                &tenant,
                EmailTemplate::PaymentFailed {
                    company_name: tenant.company_name.as_str().to_owned(),
                    billing_url: upgrade_url(services, &tenant),
                },
            );
            Ok(Some(PlannedChange {
                tenant,
                change: Some(change),
                emails: vec![email],
                outcome: WebhookOutcome::Applied,
            }))
        }
    }
}

fn is_provider(tenant: &TenantRecord) -> bool {
    tenant.plan == Plan::Msp && tenant.commercial.parent_id.is_none()
}

/// Applies a change of a license pool subscription: its quantity is the number of licenses of
/// its tier, and a canceled or unpaid one counts as zero. When the pool shrinks below what is
/// allocated, the over-allocation policy applies and the provider and its customers are told.
async fn pool_subscription_change(
    services: &Services,
    tenant: TenantRecord,
    subscription: &onboarding_domain::stripe::Subscription,
    deleted: bool,
    event_created: i64,
    now: OffsetDateTime,
) -> anyhow::Result<Option<PlannedChange>> {
    let store = &services.store;
    let tier = subscription
        .metadata
        .get("plan")
        .and_then(|p| Plan::parse(p).ok())
        .or_else(|| {
            subscription
                .plan_lookup_key
                .as_deref()
                .and_then(|key| plan_for_lookup_key(services, key))
        });
    let Some(tier) = tier else {
        anyhow::bail!("pool subscription {} names no tier", subscription.id);
    };
    let item = store
        .get(
            keys::pool(&tenant.tenant_id),
            &keys::pool_tier(tier.as_str()),
        )
        .await?;
    let (old_quantity, purchased, allocated, stored_created) = match &item {
        Some(item) => {
            let r = Reader::new(item);
            (
                r.opt_n::<u64>("subscription_quantity")?.unwrap_or(0),
                r.opt_n::<u64>("purchased")?.unwrap_or(0),
                r.opt_n::<u64>("allocated")?.unwrap_or(0),
                r.opt_n::<i64>("event_created")?,
            )
        }
        None => (0, 0, 0, None),
    };
    if !is_newer(stored_created, event_created) {
        return Ok(Some(PlannedChange {
            tenant,
            change: None,
            emails: vec![],
            outcome: WebhookOutcome::Stale,
        }));
    }
    let active = !deleted && !subscription.status.stops_writes();
    let new_quantity = if active {
        subscription.quantity.unwrap_or(0)
    } else {
        0
    };
    let delta = i128::from(new_quantity) - i128::from(old_quantity);
    let new_purchased = (i128::from(purchased) + delta).max(0) as u64;
    let pool_write = store.update(
        keys::pool(&tenant.tenant_id),
        &keys::pool_tier(tier.as_str()),
        "SET tier = :tier, subscription_quantity = :new, purchased = :purchased, event_created = :created, subscription_id = :subscription, allocated = if_not_exists(allocated, :zero)",
        Some("attribute_not_exists(purchased) OR purchased = :old_purchased"),
        vec![
            (":tier", s(tier.as_str())),
            (":new", n(new_quantity)),
            (":purchased", n(new_purchased)),
            (":created", n(event_created)),
            (":subscription", s(&subscription.id)),
            (":zero", n(0)),
            (":old_purchased", n(purchased)),
        ],
        vec![],
    )?;
    let mut change = TenantChange::new(
        actor(),
        "msp.pool_changed",
        format!(
            "{} licenses: {purchased} → {new_purchased} after subscription {} changed",
            tier.as_str(),
            subscription.id
        ),
    )
    .with(pool_write);
    let mut emails = Vec::new();
    if new_purchased < allocated {
        let reason = format!(
            "its pool of {} licenses shrank to {new_purchased} while {allocated} are allocated",
            tier.as_str()
        );
        change = change.with(super::trials::customers_notice_write(
            store,
            &tenant.tenant_id,
            &reason,
            now,
        )?);
        emails.push(EmailMessage::to_tenant(
            &tenant,
            EmailTemplate::PoolOverAllocated {
                company_name: tenant.company_name.as_str().to_owned(),
                reason: format!("{reason}; {}", super::msp::POLICY),
            },
        ));
    }
    Ok(Some(PlannedChange {
        tenant,
        change: Some(change),
        emails,
        outcome: WebhookOutcome::Applied,
    }))
}

/// Adds the licenses of a completed pool checkout to the provider's pool.
fn pool_purchase(
    store: &DynamoStore,
    tenant: TenantRecord,
    session: &onboarding_domain::stripe::CheckoutSession,
) -> anyhow::Result<Option<PlannedChange>> {
    let tier = session
        .metadata
        .get("plan")
        .and_then(|p| Plan::parse(p).ok());
    let quantity = session
        .metadata
        .get("quantity")
        .and_then(|q| q.parse::<u64>().ok());
    let (Some(tier), Some(quantity)) = (tier, quantity) else {
        anyhow::bail!(
            "pool checkout {} lacks plan or quantity metadata",
            session.id
        );
    };
    let change = TenantChange::new(
        actor(),
        "msp.licenses_purchased",
        format!(
            "{quantity} {} licenses bought with checkout {}",
            tier.as_str(),
            session.id
        ),
    )
    .with(super::msp::purchase_write(
        store,
        &tenant.tenant_id,
        tier,
        quantity,
        session.subscription.as_deref(),
    )?);
    Ok(Some(PlannedChange {
        tenant,
        change: Some(change),
        emails: vec![],
        outcome: WebhookOutcome::Applied,
    }))
}

fn plan_for_lookup_key(services: &Services, key: &str) -> Option<Plan> {
    services
        .config
        .stripe
        .plan_for_price(key)
        .and_then(|plan| Plan::parse(plan).ok())
        .or_else(|| Plan::parse(key).ok())
}

fn modules_write(
    store: &DynamoStore,
    tenant_id: &str,
    plan: Plan,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let modules = PlanCatalog::current().plan(plan).modules.clone();
    store.update(
        keys::tenant(tenant_id),
        keys::MODULES_SK,
        "SET #plan = :plan, modules = :modules",
        None,
        vec![
            (":plan", s(plan.as_str())),
            (
                ":modules",
                aws_sdk_dynamodb::types::AttributeValue::L(
                    modules.iter().map(|m| s(m.as_str())).collect(),
                ),
            ),
        ],
        vec![("#plan", "plan")],
    )
}

/// Adds a plan change to `change`. Modules the new plan lacks are blocked at once and their data
/// stays read-only for 30 days, after which the scheduler archives it.
fn plan_switch(
    services: &Services,
    tenant: &TenantRecord,
    new_plan: Plan,
    change: TenantChange,
    emails: &mut Vec<EmailMessage>,
    now: OffsetDateTime,
) -> anyhow::Result<TenantChange> {
    let store = &services.store;
    let old_modules = &catalog_of(tenant).plan(tenant.plan).modules;
    let new_modules = &PlanCatalog::current().plan(new_plan).modules;
    let removed: Vec<Module> = old_modules
        .iter()
        .filter(|m| !new_modules.contains(m))
        .copied()
        .collect();
    let mut change = change
        .set("plan", s(new_plan.as_str()))
        .set("catalog_version", n(PlanCatalog::current().version))
        .with(modules_write(store, &tenant.tenant_id, new_plan)?);
    change.action = format!("plan.changed.{}", new_plan.as_str());
    change.reason = format!(
        "plan changed from {} to {}",
        tenant.plan.as_str(),
        new_plan.as_str()
    );
    if removed.is_empty() {
        return Ok(change);
    }
    let until = now + time::Duration::days(DOWNGRADE_READ_ONLY_DAYS);
    let downgrade = Downgrade {
        from_plan: tenant.plan,
        to_plan: new_plan,
        blocked_modules: removed.clone(),
        read_only_until: until,
    };
    change = change
        .set("downgrade", s(serde_json::to_string(&downgrade)?))
        .with(schedule_write(
            store,
            &tenant.tenant_id,
            ScheduledKind::DowngradeWindowEnded,
            until,
            until,
        )?);
    change.action = "plan.downgraded".into();
    change.reason = format!(
        "plan downgraded from {} to {}; {} blocked, data read-only until {}",
        tenant.plan.as_str(),
        new_plan.as_str(),
        removed
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        crate::aws::items::format_time(until)
    );
    emails.push(EmailMessage::to_tenant(
        tenant,
        EmailTemplate::PlanDowngraded {
            company_name: tenant.company_name.as_str().to_owned(),
            plan: new_plan.as_str().to_owned(),
            blocked_modules: removed.iter().map(|m| m.as_str().to_owned()).collect(),
            read_only_until: crate::aws::items::format_time(until),
        },
    ));
    Ok(change)
}
