//! Stripe's HTTP API, the parts the product calls: customers and Checkout Sessions. Every call
//! carries an idempotency key, so a retried request never creates a second object.

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Retryable, ServiceError};

/// Stripe settings from the environment.
#[derive(Debug, Clone, Default)]
pub struct StripeSettings {
    /// `STRIPE_API_URL`: `https://api.stripe.com`, or a stand-in in tests.
    pub api_url: String,
    /// `STRIPE_SECRET_KEY`.
    pub secret_key: String,
    /// `STRIPE_WEBHOOK_SECRETS`: comma-separated; several while a secret is rotated.
    pub webhook_secrets: Vec<String>,
    /// `STRIPE_SUCCESS_URL` and `STRIPE_CANCEL_URL`: where Checkout sends the buyer back.
    pub success_url: String,
    pub cancel_url: String,
    /// `STRIPE_PRICE_BASIC` and so on: the price id of each plan.
    pub prices: Vec<(String, String)>,
}

impl StripeSettings {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str, default: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let prices = ["basic", "professional", "enterprise", "msp"]
            .iter()
            .map(|plan| {
                let name = format!("STRIPE_PRICE_{}", plan.to_uppercase());
                ((*plan).to_owned(), text(&name, &format!("price_{plan}")))
            })
            .collect();
        Self {
            api_url: text("STRIPE_API_URL", "https://api.stripe.com")
                .trim_end_matches('/')
                .to_owned(),
            secret_key: text("STRIPE_SECRET_KEY", ""),
            webhook_secrets: text("STRIPE_WEBHOOK_SECRETS", "")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            success_url: text("STRIPE_SUCCESS_URL", "https://example.com/billing/success"),
            cancel_url: text("STRIPE_CANCEL_URL", "https://example.com/billing/cancel"),
            prices,
        }
    }

    /// Returns the price id of a plan.
    pub fn price_for(&self, plan: &str) -> Option<&str> {
        self.prices
            .iter()
            .find(|(p, _)| p == plan)
            .map(|(_, price)| price.as_str())
    }

    /// Returns the plan of a price id, for subscription events.
    pub fn plan_for_price(&self, price: &str) -> Option<&str> {
        self.prices
            .iter()
            .find(|(_, p)| p == price)
            .map(|(plan, _)| plan.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe is not configured: {0}")]
    NotConfigured(&'static str),
    #[error("Stripe call {operation} failed with status {status}: {message}")]
    Rejected {
        operation: &'static str,
        status: u16,
        message: String,
    },
    #[error("Stripe call {operation} failed")]
    Transport {
        operation: &'static str,
        #[source]
        source: reqwest::Error,
    },
}

impl Retryable for StripeError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Rejected { status, .. } => *status == 429 || *status >= 500,
            Self::Transport { .. } => true,
            Self::NotConfigured(_) => false,
        }
    }
}

impl From<StripeError> for ServiceError {
    fn from(error: StripeError) -> Self {
        ServiceError {
            service: "Stripe",
            operation: "call",
            transient: error.is_transient(),
            code: None,
            source: Box::new(error),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    settings: StripeSettings,
}

impl StripeClient {
    pub fn new(settings: StripeSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        Self { http, settings }
    }

    pub fn settings(&self) -> &StripeSettings {
        &self.settings
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        operation: &'static str,
        path: &str,
        idempotency_key: &str,
        form: &[(String, String)],
    ) -> Result<T, StripeError> {
        if self.settings.secret_key.is_empty() {
            return Err(StripeError::NotConfigured("STRIPE_SECRET_KEY is empty"));
        }
        let response = self
            .http
            .post(format!("{}{path}", self.settings.api_url))
            .bearer_auth(&self.settings.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|source| StripeError::Transport { operation, source })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let message = response
                .json::<ErrorBody>()
                .await
                .ok()
                .and_then(|body| body.error.message)
                .unwrap_or_else(|| "no error message".into());
            return Err(StripeError::Rejected {
                operation,
                status,
                message,
            });
        }
        response
            .json()
            .await
            .map_err(|source| StripeError::Transport { operation, source })
    }

    /// Creates the tenant's one Stripe customer. The idempotency key is derived from the tenant,
    /// so a retry or a concurrent request returns the same customer.
    pub async fn create_customer(
        &self,
        tenant_id: &str,
        email: &str,
        company_name: &str,
    ) -> Result<Customer, StripeError> {
        let form = vec![
            ("email".to_owned(), email.to_owned()),
            ("name".to_owned(), company_name.to_owned()),
            ("metadata[tenant_id]".to_owned(), tenant_id.to_owned()),
        ];
        self.post(
            "CreateCustomer",
            "/v1/customers",
            &format!("customer-{tenant_id}"),
            &form,
        )
        .await
    }

    /// Creates a subscription Checkout Session for `plan` with `quantity` licenses.
    pub async fn create_checkout_session(
        &self,
        request: &CheckoutRequest<'_>,
    ) -> Result<CheckoutSession, StripeError> {
        let price = self
            .settings
            .price_for(request.plan)
            .ok_or(StripeError::NotConfigured("no price id for the plan"))?;
        let form = vec![
            ("mode".to_owned(), "subscription".to_owned()),
            ("customer".to_owned(), request.customer_id.to_owned()),
            (
                "client_reference_id".to_owned(),
                request.tenant_id.to_owned(),
            ),
            ("line_items[0][price]".to_owned(), price.to_owned()),
            (
                "line_items[0][quantity]".to_owned(),
                request.quantity.to_string(),
            ),
            ("success_url".to_owned(), self.settings.success_url.clone()),
            ("cancel_url".to_owned(), self.settings.cancel_url.clone()),
            (
                "metadata[tenant_id]".to_owned(),
                request.tenant_id.to_owned(),
            ),
            ("metadata[plan]".to_owned(), request.plan.to_owned()),
            (
                "metadata[catalog_version]".to_owned(),
                request.catalog_version.to_string(),
            ),
            (
                "subscription_data[metadata][tenant_id]".to_owned(),
                request.tenant_id.to_owned(),
            ),
            (
                "subscription_data[metadata][plan]".to_owned(),
                request.plan.to_owned(),
            ),
            (
                "metadata[purpose]".to_owned(),
                request.purpose.as_str().to_owned(),
            ),
            (
                "metadata[quantity]".to_owned(),
                request.quantity.to_string(),
            ),
            (
                "subscription_data[metadata][purpose]".to_owned(),
                request.purpose.as_str().to_owned(),
            ),
        ];
        self.post(
            "CreateCheckoutSession",
            "/v1/checkout/sessions",
            request.idempotency_key,
            &form,
        )
        .await
    }
}

/// Object of a purchase: the tenant's own plan, or licenses for an MSP provider's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Plan,
    LicensePool,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plan => "plan",
            Self::LicensePool => "license_pool",
        }
    }
}

/// Parameters of a Checkout Session.
pub struct CheckoutRequest<'a> {
    pub purpose: Purpose,
    pub tenant_id: &'a str,
    pub customer_id: &'a str,
    pub plan: &'a str,
    pub quantity: u32,
    pub catalog_version: u32,
    pub idempotency_key: &'a str,
}
