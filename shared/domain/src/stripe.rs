//! Stripe webhooks without I/O: the signature check, the event envelope and typed readers of
//! the event objects the product handles.
//!
//! Readers keep only the fields the product uses and ignore all others, and unknown status
//! values are kept as text, so new Stripe fields and values do not break webhook handling.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sha2::Sha256;

use crate::billing::SubscriptionStatus;

type HmacSha256 = Hmac<Sha256>;

/// Maximum age of a signed webhook in seconds, the default of Stripe's own libraries.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// Metadata key under which checkout sessions and subscriptions carry the tenant id.
pub const TENANT_METADATA_KEY: &str = "tenant_id";

/// Reason a `Stripe-Signature` header is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or empty")]
    MissingHeader,
    #[error("the Stripe-Signature header is malformed: {detail}")]
    Malformed { detail: String },
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("no webhook signing secret is configured; set STRIPE_WEBHOOK_SECRETS")]
    NoSecrets,
    /// The signature is valid but its timestamp is outside the tolerance, so the request may
    /// be a replay. `age_seconds` is negative for a timestamp in the future.
    #[error("the webhook was signed {age_seconds} seconds ago, outside the accepted tolerance")]
    Stale { age_seconds: i64 },
    #[error("no v1 signature matches a configured webhook signing secret")]
    Mismatch,
}

/// Verifies a `Stripe-Signature` header such as `t=1700000000,v1=5257a8…,v0=6ffbb…` over the
/// raw request body.
///
/// Each `v1` value is compared with the hex HMAC-SHA256 of `"{t}.{payload}"` under every
/// secret, in constant time, and one match is enough, so a secret can be rotated while both
/// are configured. Other schemes such as `v0` are ignored. The timestamp is checked after the
/// signature, so [`SignatureError::Stale`] means an authentic but old or future request:
/// `|now_unix - t|` above `tolerance_seconds` ([`DEFAULT_TOLERANCE_SECONDS`] in production).
pub fn verify_signature(
    header: &str,
    payload: &[u8],
    secrets: &[&str],
    now_unix: i64,
    tolerance_seconds: i64,
) -> Result<(), SignatureError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(SignatureError::MissingHeader);
    }
    let parsed = parse_header(header)?;
    if parsed.signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    if secrets.is_empty() {
        return Err(SignatureError::NoSecrets);
    }

    let matched = secrets.iter().any(|secret| {
        parsed
            .signatures
            .iter()
            .any(|signature| signature_matches(secret, parsed.timestamp, payload, signature))
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }

    let age_seconds = now_unix.saturating_sub(parsed.timestamp);
    if age_seconds.saturating_abs() > tolerance_seconds {
        return Err(SignatureError::Stale { age_seconds });
    }
    Ok(())
}

/// Builds the `Stripe-Signature` header that Stripe would send for `payload` signed with
/// `secret` at Unix time `timestamp`. Tests and the local Stripe stand-in use it.
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let signature = hex::encode(
        signed_mac(secret, timestamp, payload)
            .finalize()
            .into_bytes(),
    );
    format!("t={timestamp},v1={signature}")
}

struct SignatureHeader {
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

fn malformed(detail: impl Into<String>) -> SignatureError {
    SignatureError::Malformed {
        detail: detail.into(),
    }
}

fn parse_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for element in header.split(',') {
        let Some((key, value)) = element.trim().split_once('=') else {
            return Err(malformed(format!(
                "the element '{}' is not of the form key=value",
                element.trim()
            )));
        };
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(malformed("the timestamp t appears more than once"));
                }
                let parsed = value.parse::<i64>().map_err(|_| {
                    malformed(format!("the timestamp t='{value}' is not a whole number"))
                })?;
                timestamp = Some(parsed);
            }
            // A value that is not hex can match no HMAC, so it is skipped like a wrong one.
            "v1" => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| malformed("the timestamp t is missing"))?;
    Ok(SignatureHeader {
        timestamp,
        signatures,
    })
}

fn signed_mac(secret: &str, timestamp: i64, payload: &[u8]) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

fn signature_matches(secret: &str, timestamp: i64, payload: &[u8], signature: &[u8]) -> bool {
    // `verify_slice` compares in constant time.
    signed_mac(secret, timestamp, payload)
        .verify_slice(signature)
        .is_ok()
}

/// Error reading a webhook event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    // The serde message is the source, so it is not repeated here: cause chains print it once.
    #[error("the webhook body is not a Stripe event")]
    Envelope(#[source] serde_json::Error),
    #[error("the data.object of the {event_type} event cannot be read")]
    Object {
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The envelope of a Stripe event.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// Event id `evt_…`, unique per event, so it can make handling idempotent.
    pub id: String,
    /// Event type such as `invoice.paid`.
    pub event_type: String,
    /// Creation time in Unix seconds, which orders events of one object.
    pub created: i64,
    /// The `data.object` of the event: the object as it was when the event happened.
    pub data_object: Value,
    pub livemode: bool,
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    data: RawData,
    #[serde(default)]
    livemode: bool,
}

#[derive(Deserialize)]
struct RawData {
    object: Value,
}

/// Parses a verified webhook body into its envelope.
pub fn parse_event(payload: &[u8]) -> Result<WebhookEvent, EventError> {
    let raw: RawEvent = serde_json::from_slice(payload).map_err(EventError::Envelope)?;
    Ok(WebhookEvent {
        id: raw.id,
        event_type: raw.event_type,
        created: raw.created,
        data_object: raw.data.object,
        livemode: raw.livemode,
    })
}

/// Reads a field that Stripe sends as an id or, when expanded, as an object with an `id`.
fn expandable_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(id)) => Some(id),
        Some(Value::Object(object)) => object.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    })
}

/// Reads Stripe metadata, which may be `null`, keeping only string values.
fn metadata<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let object = Option::<serde_json::Map<String, Value>>::deserialize(deserializer)?;
    Ok(object
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match value {
            Value::String(text) => Some((key, text)),
            _ => None,
        })
        .collect())
}

/// A completed Checkout Session (`checkout.session.completed`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
    /// The tenant id, set when the product creates the session.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: BTreeMap<String, String>,
    /// `payment`, `setup` or `subscription`, kept as text.
    #[serde(default)]
    pub mode: String,
}

impl CheckoutSession {
    /// Returns the tenant id from `client_reference_id`, or else from the metadata.
    pub fn tenant_id(&self) -> Option<&str> {
        self.client_reference_id
            .as_deref()
            .or_else(|| self.metadata.get(TENANT_METADATA_KEY).map(String::as_str))
    }
}

/// A subscription from a `customer.subscription.*` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub customer: Option<String>,
    pub status: SubscriptionStatus,
    /// `lookup_key` of the first item's price, which names the plan in the catalog.
    pub plan_lookup_key: Option<String>,
    pub quantity: Option<u64>,
    /// End of the paid period in Unix seconds.
    pub current_period_end: Option<i64>,
    /// End of a Stripe trial in Unix seconds.
    pub trial_end: Option<i64>,
    pub metadata: BTreeMap<String, String>,
}

impl Subscription {
    /// Returns the tenant id from the metadata.
    pub fn tenant_id(&self) -> Option<&str> {
        self.metadata.get(TENANT_METADATA_KEY).map(String::as_str)
    }
}

#[derive(Deserialize)]
struct RawSubscription {
    id: String,
    #[serde(default, deserialize_with = "expandable_id")]
    customer: Option<String>,
    status: SubscriptionStatus,
    #[serde(default)]
    items: Option<RawList<RawItem>>,
    #[serde(default)]
    quantity: Option<u64>,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    trial_end: Option<i64>,
    #[serde(default, deserialize_with = "metadata")]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawList<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(default)]
    price: Option<RawPrice>,
    #[serde(default)]
    quantity: Option<u64>,
    #[serde(default)]
    current_period_end: Option<i64>,
}

#[derive(Deserialize)]
struct RawPrice {
    #[serde(default)]
    lookup_key: Option<String>,
}

impl From<RawSubscription> for Subscription {
    fn from(raw: RawSubscription) -> Self {
        let first_item = raw.items.and_then(|items| items.data.into_iter().next());
        let (plan_lookup_key, item_quantity, item_period_end) = match first_item {
            Some(item) => (
                item.price.and_then(|price| price.lookup_key),
                item.quantity,
                item.current_period_end,
            ),
            None => (None, None, None),
        };
        Subscription {
            id: raw.id,
            customer: raw.customer,
            status: raw.status,
            plan_lookup_key,
            quantity: item_quantity.or(raw.quantity),
            // Stripe API versions from 2025-03-31 moved `current_period_end` from the
            // subscription to its items, so both places are read.
            current_period_end: raw.current_period_end.or(item_period_end),
            trial_end: raw.trial_end,
            metadata: raw.metadata,
        }
    }
}

/// An invoice from an `invoice.*` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: String,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    /// `draft`, `open`, `paid`, `uncollectible` or `void`, kept as text.
    pub status: Option<String>,
    /// Payment attempts so far. It is 0 before the first attempt.
    pub attempt_count: u64,
}

#[derive(Deserialize)]
struct RawInvoice {
    id: String,
    #[serde(default, deserialize_with = "expandable_id")]
    customer: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    subscription: Option<String>,
    #[serde(default)]
    parent: Option<RawInvoiceParent>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    attempt_count: u64,
}

#[derive(Deserialize)]
struct RawInvoiceParent {
    #[serde(default)]
    subscription_details: Option<RawSubscriptionDetails>,
}

#[derive(Deserialize)]
struct RawSubscriptionDetails {
    #[serde(default, deserialize_with = "expandable_id")]
    subscription: Option<String>,
}

impl From<RawInvoice> for Invoice {
    fn from(raw: RawInvoice) -> Self {
        // Stripe API versions from 2025-03-31 moved the subscription of an invoice to
        // `parent.subscription_details.subscription`, so both places are read.
        let parent_subscription = raw
            .parent
            .and_then(|parent| parent.subscription_details)
            .and_then(|details| details.subscription);
        Invoice {
            id: raw.id,
            customer: raw.customer,
            subscription: raw.subscription.or(parent_subscription),
            status: raw.status,
            attempt_count: raw.attempt_count,
        }
    }
}

/// An event of one of the types the product handles, with its typed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandledEvent {
    CheckoutSessionCompleted(CheckoutSession),
    SubscriptionCreated(Subscription),
    SubscriptionUpdated(Subscription),
    SubscriptionDeleted(Subscription),
    SubscriptionTrialWillEnd(Subscription),
    InvoicePaid(Invoice),
    InvoicePaymentFailed(Invoice),
}

/// Every event type that [`HandledEvent::from_event`] reads. A webhook endpoint subscribes
/// to these.
pub const HANDLED_EVENT_TYPES: [&str; 7] = [
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_failed",
];

impl HandledEvent {
    /// Reads the object of a handled event type.
    ///
    /// Returns `Ok(None)` for any other type, so the endpoint can acknowledge it, and an
    /// error when a handled type's object lacks a field the product needs.
    pub fn from_event(event: &WebhookEvent) -> Result<Option<HandledEvent>, EventError> {
        let handled = match event.event_type.as_str() {
            "checkout.session.completed" => HandledEvent::CheckoutSessionCompleted(read(event)?),
            "customer.subscription.created" => {
                HandledEvent::SubscriptionCreated(read_subscription(event)?)
            }
            "customer.subscription.updated" => {
                HandledEvent::SubscriptionUpdated(read_subscription(event)?)
            }
            "customer.subscription.deleted" => {
                HandledEvent::SubscriptionDeleted(read_subscription(event)?)
            }
            "customer.subscription.trial_will_end" => {
                HandledEvent::SubscriptionTrialWillEnd(read_subscription(event)?)
            }
            "invoice.paid" => HandledEvent::InvoicePaid(read_invoice(event)?),
            "invoice.payment_failed" => HandledEvent::InvoicePaymentFailed(read_invoice(event)?),
            _ => return Ok(None),
        };
        Ok(Some(handled))
    }

    /// Returns the Stripe event type.
    pub fn event_type(&self) -> &'static str {
        match self {
            HandledEvent::CheckoutSessionCompleted(_) => HANDLED_EVENT_TYPES[0],
            HandledEvent::SubscriptionCreated(_) => HANDLED_EVENT_TYPES[1],
            HandledEvent::SubscriptionUpdated(_) => HANDLED_EVENT_TYPES[2],
            HandledEvent::SubscriptionDeleted(_) => HANDLED_EVENT_TYPES[3],
            HandledEvent::SubscriptionTrialWillEnd(_) => HANDLED_EVENT_TYPES[4],
            HandledEvent::InvoicePaid(_) => HANDLED_EVENT_TYPES[5],
            HandledEvent::InvoicePaymentFailed(_) => HANDLED_EVENT_TYPES[6],
        }
    }
}

fn read<T: for<'de> Deserialize<'de>>(event: &WebhookEvent) -> Result<T, EventError> {
    T::deserialize(&event.data_object).map_err(|source| EventError::Object {
        event_type: event.event_type.clone(),
        source,
    })
}

fn read_subscription(event: &WebhookEvent) -> Result<Subscription, EventError> {
    read::<RawSubscription>(event).map(Subscription::from)
}

fn read_invoice(event: &WebhookEvent) -> Result<Invoice, EventError> {
    read::<RawInvoice>(event).map(Invoice::from)
}

#[cfg(test)]
mod tests;
