//! Email verification. Opening the link only renders a page, because mail scanners prefetch
//! links; the POST from that page (or a JSON POST) verifies and starts provisioning.

use onboarding_domain::audit::Actor;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::token::TokenHash;
use serde::Serialize;
use time::OffsetDateTime;

use super::provisioning::start_execution;
use super::Services;
use crate::aws::dynamo::{TenantChange, FIRST_EXTRA_WRITE};
use crate::aws::items::{n, s, ts};
use crate::http::ApiError;
use crate::keys;

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    Verified,
    AlreadyVerified,
}

#[derive(Debug, Serialize)]
pub struct VerifyOutcome {
    pub status: VerifyStatus,
    pub signup_id: String,
    pub tenant_id: String,
    pub state: TenantState,
    pub status_url: String,
}

/// Maximum token length accepted, far above the 43 characters of a real one.
const MAX_TOKEN_LENGTH: usize = 256;

/// Verifies the email address behind `token` and starts provisioning, once.
#[tracing::instrument(skip_all, fields(tenant_id, signup_id))]
pub async fn confirm(
    services: &Services,
    token: &str,
    now: OffsetDateTime,
) -> Result<VerifyOutcome, ApiError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LENGTH {
        return Err(ApiError::BadRequest(
            "token is missing or malformed; open the link from the newest verification email"
                .into(),
        ));
    }
    let store = &services.store;
    let hash = TokenHash::of(token);
    let invalid = || {
        ApiError::NotFound(
            "this verification link is not valid or was replaced by a newer one; use the newest email or request another with POST /v1/signups/{signup_id}/resend".into(),
        )
    };
    let verification = store
        .get_verification(hash.as_str())
        .await
        .map_err(ApiError::unexpected)?
        .ok_or_else(invalid)?;
    tracing::Span::current().record("tenant_id", verification.tenant_id.as_str());
    tracing::Span::current().record("signup_id", verification.signup_id.as_str());
    let status_url = format!(
        "{}/v1/signups/{}",
        services.config.public_api_url, verification.signup_id
    );

    for _ in 0..5 {
        let tenant = store
            .get_tenant(&verification.tenant_id)
            .await
            .map_err(ApiError::unexpected)?
            .ok_or_else(invalid)?;
        let outcome = |status| VerifyOutcome {
            status,
            signup_id: verification.signup_id.clone(),
            tenant_id: tenant.tenant_id.clone(),
            state: tenant.state,
            status_url: status_url.clone(),
        };
        if verification.used_at.is_some() || tenant.state != TenantState::Pending {
            return Ok(outcome(VerifyStatus::AlreadyVerified));
        }
        if verification.expires_at <= now {
            return Err(ApiError::Gone(format!(
                "this verification link expired; request a new one with POST /v1/signups/{}/resend",
                verification.signup_id
            )));
        }

        let attempt = 1;
        let execution_name = execution_name(&tenant.tenant_id, attempt);
        let change = TenantChange::new(
            Actor::user(tenant.email.as_str()).map_err(ApiError::unexpected)?,
            "signup.verified",
            "email address verified",
        )
        .to_state(TenantState::Provisioning)
        .set("attempt", n(attempt))
        .set(
            "execution_arn",
            s(services.workflow.execution_arn(&execution_name)),
        )
        .with(store.update(
            keys::verification(hash.as_str()),
            "VERIFY",
            "SET used_at = :now",
            Some("attribute_exists(PK) AND attribute_not_exists(used_at)"),
            vec![(":now", ts(now))],
            vec![],
        )?)
        .with(store.update(
            keys::signup(&verification.signup_id),
            keys::SIGNUP_SK,
            "SET verified_at = :now",
            Some("attribute_not_exists(verified_at)"),
            vec![(":now", ts(now))],
            vec![],
        )?);
        match store.commit_change(&tenant, change, now).await {
            Ok(_) => {
                tracing::info!("email verified; provisioning starts");
                start_execution(services, &tenant.tenant_id, attempt).await;
                let mut verified = outcome(VerifyStatus::Verified);
                verified.state = TenantState::Provisioning;
                return Ok(verified);
            }
            Err(error) if error.condition_failed_at(FIRST_EXTRA_WRITE) => {
                return Ok(outcome(VerifyStatus::AlreadyVerified));
            }
            // Another writer changed the tenant since it was read: read it again.
            Err(error) if error.condition_failed_at(0) => continue,
            Err(error) => return Err(ApiError::unexpected(error)),
        }
    }
    Err(ApiError::unexpected(anyhow::anyhow!(
        "tenant {} kept changing during verification",
        verification.tenant_id
    )))
}

pub fn execution_name(tenant_id: &str, attempt: u32) -> String {
    format!("{tenant_id}-{attempt}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}}button{{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:.3rem;background:#2563eb;color:#fff;cursor:pointer}}</style></head>\
<body><h1>{title}</h1>{body}</body></html>\n"
    )
}

/// Renders the page behind the emailed link: a confirm button, and no change to anything.
pub fn confirmation_page(public_api_url: &str, token: &str) -> String {
    page(
        "Confirm your email address",
        &format!(
            "<p>Press the button to confirm your email address and create your workspace.</p>\
<form method=\"post\" action=\"{}/v1/verify\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">Confirm email address</button></form>",
            escape(public_api_url),
            escape(token)
        ),
    )
}

pub fn outcome_page(outcome: &VerifyOutcome) -> String {
    let text = match outcome.status {
        VerifyStatus::Verified => "Your email address is confirmed. Your workspace is being created; we will email you when it is ready, usually within a minute.",
        VerifyStatus::AlreadyVerified => "This email address was already confirmed. Nothing else to do here.",
    };
    page(
        "Email address confirmed",
        &format!("<p>{}</p>", escape(text)),
    )
}

pub fn error_page(error: &ApiError) -> String {
    page(
        "This link cannot be used",
        &format!("<p>{}</p>", escape(&error.to_string())),
    )
}

/// Reads the token of a form body `token=...`.
pub fn token_from_form(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.into_owned())
}
