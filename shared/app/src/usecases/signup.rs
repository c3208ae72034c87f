//! Self-service signup: validation, anti-fraud limits, the one transaction that claims the
//! subdomain and email and writes tenant, audit entry, signup, token and email, and the status read.

use std::collections::BTreeMap;

use onboarding_domain::audit::Actor;
use onboarding_domain::email::EmailTemplate;
use onboarding_domain::ids::{MessageId, SignupId, TenantId};
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::signup::{
    DisposableDomains, FieldError, SignupRequest, Subdomain, ValidSignup, ValidationErrors,
};
use onboarding_domain::token::{SecretToken, TokenHash};
use onboarding_domain::trial::{self, TimeZone};
use serde::Serialize;
use time::OffsetDateTime;

use super::outbox::{dispatch, outbox_write};
use super::trials::trial_schedule;
use super::Services;
use crate::aws::dynamo::{
    audit_item, claim_item, first_audit, signup_item, tenant_item, verification_item, DynamoStore,
};
use crate::aws::items::format_time;
use crate::http::ApiError;
use crate::keys;
use crate::records::{
    EmailMessage, SealedSecret, SignupRecord, StepRecord, TenantRecord, VerificationRecord,
    SECRET_PLACEHOLDER,
};

/// Verification links work for 24 hours.
pub const VERIFICATION_TTL_HOURS: i64 = 24;
const HOUR: i64 = 3600;

#[derive(Debug, Serialize)]
pub struct SignupAccepted {
    pub signup_id: String,
    pub tenant_id: String,
    pub state: TenantState,
    pub status_url: String,
}

/// Creates a signup and queues its verification email.
#[tracing::instrument(skip_all, fields(tenant_id, signup_id))]
pub async fn create_signup(
    services: &Services,
    request: &SignupRequest,
    client_ip: &str,
    now: OffsetDateTime,
) -> Result<SignupAccepted, ApiError> {
    let config = &services.config;
    let signup = request
        .validate(&config.served_regions, DisposableDomains::builtin())
        .map_err(ApiError::Validation)?;

    let store = &services.store;
    limit(
        store,
        "signup-ip",
        client_ip,
        config.signup_limit_per_ip_per_hour,
        now,
    )
    .await?;
    limit(
        store,
        "signup-email",
        signup.email.as_str(),
        config.signup_limit_per_email_per_hour,
        now,
    )
    .await?;

    let new_id = TenantId::generate();
    let tenant_id = new_id.as_str().to_owned();
    let signup_id = SignupId::generate().as_str().to_owned();
    tracing::Span::current().record("tenant_id", tenant_id.as_str());
    tracing::Span::current().record("signup_id", signup_id.as_str());

    let token = SecretToken::generate();
    let token_hash = TokenHash::of(token.expose()).as_str().to_owned();
    let expires_at = now + time::Duration::hours(VERIFICATION_TTL_HOURS);
    let message = verification_message(services, &tenant_id, &signup_id, &signup, &token).await?;

    let record = first_audit(
        &new_id,
        Actor::user(signup.email.as_str()).map_err(ApiError::unexpected)?,
        "signup.created",
        "self-service signup",
        TenantState::Pending,
        now,
    );
    let tenant = TenantRecord {
        signup_id: Some(signup_id.clone()),
        on_trial: true,
        trial_ends_at: Some(trial::trial_ends_at(now)),
        ..TenantRecord::new(
            &tenant_id,
            &signup,
            TenantState::Pending,
            "awaiting email verification",
            &record,
            now,
        )
    };
    let signup_record = SignupRecord {
        signup_id: signup_id.clone(),
        tenant_id: tenant_id.clone(),
        token_hash: token_hash.clone(),
        token_expires_at: expires_at,
        verified_at: None,
        created_at: now,
    };
    let verification = VerificationRecord {
        token_hash,
        signup_id: signup_id.clone(),
        tenant_id: tenant_id.clone(),
        expires_at,
        used_at: None,
    };

    // The claims come first, so cancellation reasons 0 and 1 tell which one was taken.
    let mut writes = claim_writes(store, &signup, &tenant_id, now)?;
    writes.extend([
        store.put_new(tenant_item(&tenant))?,
        store.put_new(audit_item(&record))?,
        store.put_new(signup_item(&signup_record))?,
        store.put_new(verification_item(&verification))?,
        outbox_write(store, &message, now)?,
    ]);
    writes.extend(trial_schedule(
        store,
        &tenant_id,
        signup.time_zone.as_str(),
        trial::trial_ends_at(now),
    )?);
    if let Err(error) = store.transact(writes).await {
        return Err(taken_conflict(error, &signup));
    }
    tracing::info!(subdomain = signup.subdomain.as_str(), "signup created");
    dispatch(store, &services.queue, &message).await;

    Ok(SignupAccepted {
        status_url: format!("{}/v1/signups/{signup_id}", config.public_api_url),
        signup_id,
        tenant_id,
        state: TenantState::Pending,
    })
}

/// Builds the puts that claim the subdomain and the email, in that order, for a transaction.
pub fn claim_writes(
    store: &DynamoStore,
    signup: &ValidSignup,
    tenant_id: &str,
    now: OffsetDateTime,
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, crate::error::StoreError> {
    Ok(vec![
        store.put_new(claim_item(
            keys::subdomain_claim(signup.subdomain.as_str()),
            tenant_id,
            now,
        ))?,
        store.put_new(claim_item(
            keys::email_claim(signup.email.as_str()),
            tenant_id,
            now,
        ))?,
    ])
}

/// Maps a cancelled signup transaction to 409 naming the taken fields.
pub fn taken_conflict(error: crate::error::StoreError, signup: &ValidSignup) -> ApiError {
    let mut errors = Vec::new();
    if error.condition_failed_at(0) {
        errors.push(FieldError::new(
            "subdomain",
            "taken",
            format!(
                "subdomain {} is already taken; choose another one",
                signup.subdomain.as_str()
            ),
        ));
    }
    if error.condition_failed_at(1) {
        errors.push(FieldError::new(
            "email",
            "taken",
            "this email address already has a workspace; sign in or use another address",
        ));
    }
    if errors.is_empty() {
        return ApiError::unexpected(error);
    }
    let message = errors
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::Conflict { errors, message }
}

async fn verification_message(
    services: &Services,
    tenant_id: &str,
    signup_id: &str,
    signup: &ValidSignup,
    token: &SecretToken,
) -> Result<EmailMessage, ApiError> {
    let sealed = seal_token(services, token, "verification", signup_id).await?;
    Ok(EmailMessage {
        message_id: MessageId::generate().as_str().to_owned(),
        tenant_id: tenant_id.to_owned(),
        to: signup.email.as_str().to_owned(),
        template: EmailTemplate::Verification {
            company_name: signup.company_name.as_str().to_owned(),
            verify_url: format!(
                "{}/v1/verify?token={SECRET_PLACEHOLDER}",
                services.config.public_api_url
            ),
            expires_hours: VERIFICATION_TTL_HOURS as u32,
        },
        secret: Some(sealed),
    })
}

/// Seals a token for the notifier, bound by its encryption context to purpose and owner.
pub async fn seal_token(
    services: &Services,
    token: &SecretToken,
    purpose: &str,
    owner: &str,
) -> Result<SealedSecret, ApiError> {
    let context = BTreeMap::from([
        ("purpose".to_owned(), purpose.to_owned()),
        ("owner".to_owned(), owner.to_owned()),
    ]);
    services
        .kms
        .seal(token.expose(), context)
        .await
        .map_err(ApiError::unexpected)
}

/// Counts one request against a per-hour limit and returns 429 when it is used up.
pub async fn limit(
    store: &DynamoStore,
    scope: &str,
    key: &str,
    per_hour: u32,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    match store
        .count_request(scope, key, per_hour, HOUR, now)
        .await
        .map_err(ApiError::unexpected)?
    {
        Ok(()) => Ok(()),
        Err(retry_after_seconds) => {
            tracing::warn!(scope, limit = per_hour, "rate limit reached");
            Err(ApiError::RateLimited {
                retry_after_seconds,
                limit: format!("the limit of {per_hour} {} per hour", describe_scope(scope)),
            })
        }
    }
}

fn describe_scope(scope: &str) -> &str {
    match scope {
        "signup-ip" => "signups from one client address",
        "signup-email" => "signups for one email address",
        "resend" => "verification emails per signup",
        other => other,
    }
}

/// Availability of a subdomain and, when unavailable, why.
#[derive(Debug, Serialize)]
pub struct Availability {
    pub subdomain: String,
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub async fn subdomain_availability(
    store: &DynamoStore,
    name: &str,
) -> Result<Availability, ApiError> {
    let unavailable = |reason, message| Availability {
        subdomain: name.to_owned(),
        available: false,
        reason: Some(reason),
        message: Some(message),
    };
    let subdomain = match Subdomain::parse(name) {
        Ok(subdomain) => subdomain,
        Err(error) => {
            let reason = if error.code == "reserved" {
                "reserved"
            } else {
                "invalid"
            };
            return Ok(unavailable(reason, error.message));
        }
    };
    let owner = store
        .claim_owner(keys::subdomain_claim(subdomain.as_str()))
        .await
        .map_err(ApiError::unexpected)?;
    Ok(match owner {
        Some(_) => unavailable("taken", format!("{name} is already taken")),
        None => Availability {
            subdomain: name.to_owned(),
            available: true,
            reason: None,
            message: None,
        },
    })
}

/// Status of a signup as shown to the Tenant Admin while the workspace is prepared.
#[derive(Debug, Serialize)]
pub struct SignupStatus {
    pub signup_id: String,
    pub tenant_id: String,
    pub state: TenantState,
    pub state_reason: String,
    pub email_verified: bool,
    pub subdomain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub provisioning_attempt: u32,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Serialize)]
pub struct StepView {
    #[serde(flatten)]
    pub record: StepRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
}

impl From<StepRecord> for StepView {
    fn from(record: StepRecord) -> Self {
        let duration_ms = record
            .finished_at
            .map(|finished| (finished - record.started_at).whole_milliseconds() as i64);
        Self {
            record,
            duration_ms,
        }
    }
}

pub async fn signup_status(store: &DynamoStore, signup_id: &str) -> Result<SignupStatus, ApiError> {
    let not_found = || ApiError::NotFound(format!("signup {signup_id} does not exist"));
    SignupId::parse(signup_id).map_err(|_| not_found())?;
    let signup = store
        .get_signup(signup_id)
        .await
        .map_err(ApiError::unexpected)?
        .ok_or_else(not_found)?;
    let tenant = store
        .get_tenant(&signup.tenant_id)
        .await
        .map_err(ApiError::unexpected)?
        .ok_or_else(not_found)?;
    let steps = if tenant.attempt > 0 {
        store
            .list_steps(&tenant.tenant_id, tenant.attempt)
            .await
            .map_err(ApiError::unexpected)?
    } else {
        Vec::new()
    };
    Ok(SignupStatus {
        signup_id: signup.signup_id,
        tenant_id: tenant.tenant_id,
        state: tenant.state,
        state_reason: tenant.state_reason,
        email_verified: signup.verified_at.is_some(),
        subdomain: tenant.subdomain.as_str().to_owned(),
        workspace_url: tenant
            .workspace_url
            .filter(|_| tenant.state == TenantState::Active),
        created_at: format_time(tenant.created_at),
        updated_at: format_time(tenant.updated_at),
        provisioning_attempt: tenant.attempt,
        steps: steps.into_iter().map(StepView::from).collect(),
    })
}

/// Replaces the verification token of a pending signup and queues a fresh email.
pub async fn resend_verification(
    services: &Services,
    signup_id: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let store = &services.store;
    let not_found = || ApiError::NotFound(format!("signup {signup_id} does not exist"));
    SignupId::parse(signup_id).map_err(|_| not_found())?;
    let signup = store
        .get_signup(signup_id)
        .await
        .map_err(ApiError::unexpected)?
        .ok_or_else(not_found)?;
    if signup.verified_at.is_some() {
        return Err(ApiError::Conflict {
            errors: vec![],
            message: "this signup is already verified; nothing to resend".into(),
        });
    }
    limit(
        store,
        "resend",
        signup_id,
        services.config.resend_limit_per_hour,
        now,
    )
    .await?;
    let tenant = store
        .get_tenant(&signup.tenant_id)
        .await
        .map_err(ApiError::unexpected)?
        .ok_or_else(not_found)?;
    if tenant.state != TenantState::Pending {
        return Err(ApiError::Conflict {
            errors: vec![],
            message: format!("the tenant is {}; nothing to resend", tenant.state.as_str()),
        });
    }

    let token = SecretToken::generate();
    let token_hash = TokenHash::of(token.expose()).as_str().to_owned();
    let expires_at = now + time::Duration::hours(VERIFICATION_TTL_HOURS);
    let valid = ValidSignup {
        email: tenant.email.clone(),
        company_name: tenant.company_name.clone(),
        subdomain: tenant.subdomain.clone(),
        residency: tenant.residency,
        use_case: tenant.use_case,
        plan: tenant.plan,
        time_zone: TimeZone::parse(&tenant.commercial.time_zone).unwrap_or_default(),
    };
    let message =
        verification_message(services, &tenant.tenant_id, signup_id, &valid, &token).await?;
    let verification = VerificationRecord {
        token_hash: token_hash.clone(),
        signup_id: signup_id.to_owned(),
        tenant_id: tenant.tenant_id.clone(),
        expires_at,
        used_at: None,
    };
    let writes = vec![
        // The old token stops working in the same transaction that issues the new one.
        store.delete_any(keys::verification(&signup.token_hash), "VERIFY")?,
        store.put_new(verification_item(&verification))?,
        store.update(
            keys::signup(signup_id),
            keys::SIGNUP_SK,
            "SET token_hash = :hash, token_expires_at = :expires",
            Some("token_hash = :old AND attribute_not_exists(verified_at)"),
            vec![
                (":hash", crate::aws::items::s(&token_hash)),
                (":expires", crate::aws::items::ts(expires_at)),
                (":old", crate::aws::items::s(&signup.token_hash)),
            ],
            vec![],
        )?,
        outbox_write(store, &message, now)?,
    ];
    store.transact(writes).await.map_err(|error| {
        if error.condition_failed_at(2) {
            ApiError::Conflict {
                errors: vec![],
                message: "the signup changed meanwhile (verified or resent); reload its status"
                    .into(),
            }
        } else {
            ApiError::unexpected(error)
        }
    })?;
    tracing::info!(tenant_id = %tenant.tenant_id, signup_id, "verification email resent");
    dispatch(store, &services.queue, &message).await;
    Ok(())
}

/// Field errors of a validation failure, for callers outside HTTP.
pub fn describe(errors: &ValidationErrors) -> String {
    errors
        .0
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}
