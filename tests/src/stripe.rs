//! A stand-in for the part of Stripe's API that the product calls, and builders of signed webhook
//! events, for end-to-end tests.
//!
//! The stand-in serves `POST /v1/customers`, `GET /v1/customers/{id}`, `POST /v1/checkout/sessions`
//! and `GET /v1/checkout/sessions/{id}` on 127.0.0.1. It reads form-encoded bodies as Stripe does
//! and requires its own secret key as a bearer token.
//!
//! It applies Stripe's idempotency rules to POST requests. A request that repeats an
//! `Idempotency-Key` with the same parameters gets the stored response again, with the header
//! `Idempotent-Replayed: true`. One with other parameters or another path gets 400
//! `idempotency_error`. As in Stripe, only responses of requests that passed validation are stored,
//! so a key may be retried after a 400.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Map, Value};
use sha2::Sha256;

/// Base URL of the hosted checkout pages in session responses. The `.test` top-level domain is
/// reserved by RFC 2606, so a test that follows the link fails instead of reaching a real site.
const CHECKOUT_PAGE_BASE: &str = "https://checkout.stripe.test/c/pay";

/// Maximum length of an idempotency key that Stripe accepts.
const MAX_IDEMPOTENCY_KEY_LENGTH: usize = 255;

/// Seconds until a checkout session expires, Stripe's default of 24 hours.
const CHECKOUT_SESSION_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// Stripe API version written into webhook events.
const API_VERSION: &str = "2024-06-20";

/// One request as the stand-in received it, whether or not it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    /// Parameters in the order sent: the form-encoded body, or the query string of a GET.
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// Returns the first value of a parameter such as `metadata[tenant_id]`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A running stand-in, stopped when dropped.
pub struct StripeStandIn {
    url: String,
    secret_key: String,
    account: Arc<Mutex<Account>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StripeStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StripeStandIn {
    /// Starts the stand-in on a free port of 127.0.0.1 with a new random secret key.
    ///
    /// # Panics
    /// Panics if no port on 127.0.0.1 can be bound.
    pub async fn start() -> Self {
        let secret_key = format!("sk_test_{}", random_text(24));
        let account = Arc::new(Mutex::new(Account::new(secret_key.clone())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the Stripe stand-in binds a free port on 127.0.0.1");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&account));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("Stripe stand-in stopped: {error}");
            }
        });
        Self {
            url: format!("http://{address}"),
            secret_key,
            account,
            server,
        }
    }

    /// Returns the base URL, such as `http://127.0.0.1:41234`, for `STRIPE_API_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the `sk_test_…` key that requests must send as `Authorization: Bearer`.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Returns every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.account).requests.clone()
    }
}

fn lock(account: &Mutex<Account>) -> MutexGuard<'_, Account> {
    // A test that panicked while holding the lock leaves consistent data, so keep using it.
    account.lock().unwrap_or_else(PoisonError::into_inner)
}

fn random_text(length: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), length)
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A response before it becomes HTTP: status and JSON body.
#[derive(Debug, Clone)]
struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
        }
    }

    /// Builds a Stripe error: `{"error": {"type": …, "message": …, …}}`.
    fn error(status: StatusCode, error_type: &str, message: String, extra: Value) -> Self {
        let mut error = json!({"type": error_type, "message": message});
        if let (Value::Object(fields), Value::Object(extra)) = (&mut error, extra) {
            fields.extend(extra);
        }
        Self {
            status,
            body: json!({ "error": error }),
        }
    }

    fn missing_param(param: &str) -> Self {
        Self::error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("Missing required param: {param}."),
            json!({"param": param, "code": "parameter_missing"}),
        )
    }

    fn invalid_param(param: &str, message: String) -> Self {
        Self::error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            message,
            json!({"param": param, "code": "parameter_invalid"}),
        )
    }

    fn no_such(kind: &str, id: &str, status: StatusCode, param: &str) -> Self {
        Self::error(
            status,
            "invalid_request_error",
            format!("No such {kind}: '{id}'"),
            json!({"param": param, "code": "resource_missing"}),
        )
    }
}

/// A stored response of an idempotent POST, with the request that produced it.
struct IdempotentResult {
    method: Method,
    path: String,
    /// Parameters sorted, because Stripe compares parameters and not their order.
    sorted_form: Vec<(String, String)>,
    reply: Reply,
}

/// Everything the stand-in stores: the objects it created, idempotent results and the request log.
struct Account {
    secret_key: String,
    requests: Vec<RecordedRequest>,
    customers: BTreeMap<String, Value>,
    checkout_sessions: BTreeMap<String, Value>,
    idempotent_results: HashMap<String, IdempotentResult>,
}

/// A parsed request as the account handles it.
struct ApiRequest<'a> {
    method: &'a Method,
    path: &'a str,
    headers: &'a HeaderMap,
    idempotency_key: Option<&'a str>,
    form: &'a [(String, String)],
}

impl ApiRequest<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Collects `prefix[key]=value` parameters into an object, as Stripe reads `metadata[…]`.
    fn nested(&self, prefix: &str) -> Map<String, Value> {
        self.form
            .iter()
            .filter_map(|(key, value)| {
                let inner = key.strip_prefix(prefix)?.strip_prefix('[')?;
                let name = inner.strip_suffix(']')?;
                (!name.contains(['[', ']']))
                    .then(|| (name.to_string(), Value::String(value.clone())))
            })
            .collect()
    }

    fn required(&self, name: &str) -> Result<&str, Reply> {
        self.param(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| Reply::missing_param(name))
    }
}

/// How a reply came about, for the response headers.
enum Outcome {
    Executed(Reply),
    Replayed(Reply),
}

impl Account {
    fn new(secret_key: String) -> Self {
        Self {
            secret_key,
            requests: Vec::new(),
            customers: BTreeMap::new(),
            checkout_sessions: BTreeMap::new(),
            idempotent_results: HashMap::new(),
        }
    }

    fn respond(&mut self, request: &ApiRequest<'_>) -> Outcome {
        if let Err(reply) = self.authenticate(request.headers) {
            return Outcome::Executed(reply);
        }
        let key = match request.idempotency_key {
            Some(key) if request.method == Method::POST => key,
            _ => return Outcome::Executed(self.route(request)),
        };
        if key.len() > MAX_IDEMPOTENCY_KEY_LENGTH {
            return Outcome::Executed(Reply::invalid_param(
                "Idempotency-Key",
                format!(
                    "Invalid Idempotency-Key: it has {} characters, at most {MAX_IDEMPOTENCY_KEY_LENGTH} are allowed.",
                    key.len()
                ),
            ));
        }

        let mut sorted_form = request.form.to_vec();
        sorted_form.sort();
        if let Some(stored) = self.idempotent_results.get(key) {
            let same_request = stored.method == *request.method
                && stored.path == request.path
                && stored.sorted_form == sorted_form;
            if same_request {
                return Outcome::Replayed(stored.reply.clone());
            }
            return Outcome::Executed(Reply::error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                ),
                json!({}),
            ));
        }

        let reply = self.route(request);
        if reply.status.is_success() {
            self.idempotent_results.insert(
                key.to_string(),
                IdempotentResult {
                    method: request.method.clone(),
                    path: request.path.to_string(),
                    sorted_form,
                    reply: reply.clone(),
                },
            );
        }
        Outcome::Executed(reply)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), Reply> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(Reply::error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').".to_string(),
                json!({}),
            ));
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|text| text.strip_prefix("Bearer "))
            .map(str::trim);
        match presented {
            Some(key) if key == self.secret_key => Ok(()),
            Some(key) => Err(Reply::error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                format!("Invalid API Key provided: {}", mask_key(key)),
                json!({}),
            )),
            None => Err(Reply::error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Invalid Authorization header: expected 'Authorization: Bearer YOUR_SECRET_KEY'."
                    .to_string(),
                json!({}),
            )),
        }
    }

    fn route(&mut self, request: &ApiRequest<'_>) -> Reply {
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        match (request.method, segments.as_slice()) {
            (&Method::POST, ["v1", "customers"]) => self.create_customer(request),
            (&Method::GET, ["v1", "customers", id]) => match self.customers.get(*id) {
                Some(customer) => Reply::ok(customer.clone()),
                None => Reply::no_such("customer", id, StatusCode::NOT_FOUND, "id"),
            },
            (&Method::POST, ["v1", "checkout", "sessions"]) => {
                self.create_checkout_session(request)
            }
            (&Method::GET, ["v1", "checkout", "sessions", id]) => {
                match self.checkout_sessions.get(*id) {
                    Some(session) => Reply::ok(session.clone()),
                    None => Reply::no_such("checkout.session", id, StatusCode::NOT_FOUND, "session"),
                }
            }
            _ => Reply::error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!(
                    "Unrecognized request URL ({}: {}). The Stripe stand-in serves POST /v1/customers, GET /v1/customers/{{id}}, POST /v1/checkout/sessions and GET /v1/checkout/sessions/{{id}}.",
                    request.method, request.path
                ),
                json!({}),
            ),
        }
    }

    fn create_customer(&mut self, request: &ApiRequest<'_>) -> Reply {
        let id = format!("cus_{}", random_text(14));
        let customer = json!({
            "id": id,
            "object": "customer",
            "email": request.param("email"),
            "name": request.param("name"),
            "metadata": request.nested("metadata"),
            "created": unix_now(),
            "livemode": false,
        });
        self.customers.insert(id, customer.clone());
        Reply::ok(customer)
    }

    fn create_checkout_session(&mut self, request: &ApiRequest<'_>) -> Reply {
        match self.validate_checkout_session(request) {
            Ok(session) => {
                let id = session["id"].as_str().unwrap_or_default().to_string();
                self.checkout_sessions.insert(id, session.clone());
                Reply::ok(session)
            }
            Err(reply) => reply,
        }
    }

    /// Checks the required parameters in a fixed order, so that an error names the first one
    /// missing, then checks their values and builds the session.
    fn validate_checkout_session(&self, request: &ApiRequest<'_>) -> Result<Value, Reply> {
        let customer = request.required("customer")?;
        let mode = request.required("mode")?;
        request.required("line_items[0][price]")?;
        let quantity_text = request.required("line_items[0][quantity]")?;
        let success_url = request.required("success_url")?;
        let cancel_url = request.required("cancel_url")?;

        if !["payment", "setup", "subscription"].contains(&mode) {
            return Err(Reply::invalid_param(
                "mode",
                format!("Invalid mode: {mode:?}. Expected one of payment, setup or subscription."),
            ));
        }
        if !quantity_text
            .parse::<u64>()
            .is_ok_and(|quantity| quantity > 0)
        {
            return Err(Reply::invalid_param(
                "line_items[0][quantity]",
                format!("Invalid positive integer: {quantity_text:?}."),
            ));
        }
        for (param, value) in [("success_url", success_url), ("cancel_url", cancel_url)] {
            if url::Url::parse(value).is_err() {
                return Err(Reply::invalid_param(
                    param,
                    format!("Not a valid URL: {value:?}."),
                ));
            }
        }
        if !self.customers.contains_key(customer) {
            return Err(Reply::no_such(
                "customer",
                customer,
                StatusCode::BAD_REQUEST,
                "customer",
            ));
        }

        let id = format!("cs_test_{}", random_text(58));
        let created = unix_now();
        Ok(json!({
            "id": id,
            "object": "checkout.session",
            "url": format!("{CHECKOUT_PAGE_BASE}/{id}"),
            "customer": customer,
            "client_reference_id": request.param("client_reference_id"),
            "metadata": request.nested("metadata"),
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "success_url": success_url,
            "cancel_url": cancel_url,
            "subscription": null,
            "created": created,
            "expires_at": created + CHECKOUT_SESSION_LIFETIME_SECONDS,
            "livemode": false,
        }))
    }
}

/// Shows a key as Stripe does in errors: its prefix and last four characters.
fn mask_key(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let prefix = key.split('_').take(2).collect::<Vec<_>>().join("_");
    format!("{prefix}_****{tail}")
}

async fn handle(
    State(account): State<Arc<Mutex<Account>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let encoded = if method == Method::GET {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    } else {
        body.to_vec()
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&encoded)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);

    let outcome = {
        let mut account = lock(&account);
        account.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            idempotency_key: idempotency_key.clone(),
            form: form.clone(),
        });
        account.respond(&ApiRequest {
            method: &method,
            path: &path,
            headers: &headers,
            idempotency_key: idempotency_key.as_deref(),
            form: &form,
        })
    };

    let (reply, replayed) = match outcome {
        Outcome::Executed(reply) => (reply, false),
        Outcome::Replayed(reply) => (reply, true),
    };
    let mut response = (reply.status, axum::Json(reply.body)).into_response();
    let response_headers = response.headers_mut();
    insert_header(
        response_headers,
        "request-id",
        &format!("req_{}", random_text(14)),
    );
    if let Some(key) = &idempotency_key {
        insert_header(response_headers, "idempotency-key", key);
    }
    if replayed {
        insert_header(response_headers, "idempotent-replayed", "true");
    }
    response
}

fn insert_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// Computes a `Stripe-Signature` header value, `t={timestamp},v1={hex HMAC-SHA256}`, over
/// `"{timestamp}.{body}"` with the endpoint secret (such as `whsec_…`) as the key.
pub fn signature_header(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let digest = hex::encode(mac.finalize().into_bytes());
    format!("t={timestamp},v1={digest}")
}

/// Serializes a webhook event and signs it as Stripe does: returns the `Stripe-Signature` header
/// value and the body that it signs.
pub fn signed_webhook(secret: &str, payload: &Value, timestamp: i64) -> (String, String) {
    let body = payload.to_string();
    (signature_header(secret, timestamp, &body), body)
}

/// Wraps an API object in a Stripe event envelope.
fn event(event_type: &str, event_id: &str, created: i64, object: Value) -> Value {
    json!({
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "type": event_type,
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object},
    })
}

/// Returns the part of an id after its type prefix, such as `1` of `evt_1`, to derive related ids.
fn id_suffix(id: &str) -> &str {
    id.split_once('_').map_or(id, |(_, suffix)| suffix)
}

/// Builds a `checkout.session.completed` event of a paid subscription checkout.
pub fn checkout_completed(
    event_id: &str,
    created: i64,
    tenant_id: &str,
    customer: &str,
    subscription: &str,
) -> Value {
    let session = json!({
        "id": format!("cs_test_{}", id_suffix(event_id)),
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "customer": customer,
        "subscription": subscription,
        "client_reference_id": tenant_id,
        "metadata": {"tenant_id": tenant_id},
        "created": created,
        "livemode": false,
    });
    event("checkout.session.completed", event_id, created, session)
}

/// Builds a `customer.subscription.*` event (such as `customer.subscription.updated`) of a
/// subscription with one item, whose price has `price_lookup_key` as its lookup key. The billing
/// period appears both on the subscription and, as API version 2025-03-31 and later place it, on
/// the item.
#[allow(clippy::too_many_arguments)]
pub fn subscription_event(
    event_type: &str,
    event_id: &str,
    created: i64,
    subscription_id: &str,
    customer: &str,
    status: &str,
    price_lookup_key: &str,
    quantity: u32,
) -> Value {
    let period_start = created;
    let period_end = created + 30 * 24 * 60 * 60;
    let ended = matches!(status, "canceled" | "incomplete_expired");
    let price = json!({
        "id": format!("price_{price_lookup_key}"),
        "object": "price",
        "lookup_key": price_lookup_key,
        "currency": "usd",
        "recurring": {"interval": "month", "interval_count": 1},
        "livemode": false,
    });
    let item = json!({
        "id": format!("si_{}", id_suffix(subscription_id)),
        "object": "subscription_item",
        "subscription": subscription_id,
        "price": price,
        "quantity": quantity,
        "current_period_start": period_start,
        "current_period_end": period_end,
    });
    let subscription = json!({
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "items": {
            "object": "list",
            "data": [item],
            "has_more": false,
            "url": format!("/v1/subscription_items?subscription={subscription_id}"),
        },
        "quantity": quantity,
        "current_period_start": period_start,
        "current_period_end": period_end,
        "cancel_at_period_end": false,
        "canceled_at": if ended { Value::from(created) } else { Value::Null },
        "ended_at": if ended { Value::from(created) } else { Value::Null },
        "trial_end": if status == "trialing" { Value::from(period_end) } else { Value::Null },
        "metadata": {},
        "created": created,
        "livemode": false,
    });
    event(event_type, event_id, created, subscription)
}

/// Builds an `invoice.*` event (such as `invoice.paid` or `invoice.payment_failed`) of a
/// subscription invoice. The subscription appears both as `subscription` and, as API version
/// 2025-03-31 and later place it, under `parent.subscription_details`.
pub fn invoice_event(
    event_type: &str,
    event_id: &str,
    created: i64,
    invoice_id: &str,
    customer: &str,
    subscription: &str,
) -> Value {
    let paid = matches!(event_type, "invoice.paid" | "invoice.payment_succeeded");
    let failed = event_type == "invoice.payment_failed";
    let status = match event_type {
        "invoice.voided" => "void",
        "invoice.marked_uncollectible" => "uncollectible",
        _ if paid => "paid",
        _ => "open",
    };
    let amount_due = 4_900;
    let invoice = json!({
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "subscription": subscription,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription},
        },
        "status": status,
        "paid": paid,
        "billing_reason": "subscription_cycle",
        "currency": "usd",
        "amount_due": amount_due,
        "amount_paid": if paid { amount_due } else { 0 },
        "amount_remaining": if paid { 0 } else { amount_due },
        "attempt_count": u32::from(paid || failed),
        "next_payment_attempt": if failed { Value::from(created + 3 * 24 * 60 * 60) } else { Value::Null },
        "hosted_invoice_url": format!("https://invoice.stripe.test/i/{invoice_id}"),
        "period_start": created - 30 * 24 * 60 * 60,
        "period_end": created,
        "created": created,
        "livemode": false,
    });
    event(event_type, event_id, created, invoice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("builds a client")
    }

    async fn post(
        stand_in: &StripeStandIn,
        path: &str,
        key: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = client()
            .post(format!("{}{path}", stand_in.url()))
            .bearer_auth(stand_in.secret_key())
            .form(form);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.expect("request reaches the stand-in")
    }

    async fn create_customer(stand_in: &StripeStandIn) -> String {
        let response = post(
            stand_in,
            "/v1/customers",
            None,
            &[("email", "owner@example.com")],
        )
        .await;
        let body: Value = response.json().await.expect("JSON body");
        body["id"].as_str().expect("customer id").to_string()
    }

    fn checkout_form(customer: &str) -> Vec<(&'static str, String)> {
        vec![
            ("customer", customer.to_string()),
            ("mode", "subscription".to_string()),
            ("client_reference_id", "tnt_01".to_string()),
            ("line_items[0][price]", "price_professional".to_string()),
            ("line_items[0][quantity]", "1".to_string()),
            ("success_url", "https://app.example.com/ok".to_string()),
            ("cancel_url", "https://app.example.com/cancel".to_string()),
            ("metadata[tenant_id]", "tnt_01".to_string()),
            ("metadata[plan]", "professional".to_string()),
        ]
    }

    async fn post_checkout(
        stand_in: &StripeStandIn,
        key: Option<&str>,
        form: &[(&'static str, String)],
    ) -> reqwest::Response {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post(stand_in, "/v1/checkout/sessions", key, &form).await
    }

    #[tokio::test]
    async fn customer_creation_returns_and_stores_customer() {
        let stand_in = StripeStandIn::start().await;
        assert!(stand_in.secret_key().starts_with("sk_test_"));

        let response = post(
            &stand_in,
            "/v1/customers",
            Some("customer-tnt_01"),
            &[
                ("email", "owner@example.com"),
                ("name", "Acme Field Services"),
                ("metadata[tenant_id]", "tnt_01"),
            ],
        )
        .await;
        assert_eq!(response.status(), 200);
        let created: Value = response.json().await.expect("JSON body");
        let id = created["id"].as_str().expect("id");
        assert!(id.starts_with("cus_"), "id: {id}");
        assert_eq!(created["object"], "customer");
        assert_eq!(created["email"], "owner@example.com");
        assert_eq!(created["name"], "Acme Field Services");
        assert_eq!(created["metadata"], json!({"tenant_id": "tnt_01"}));

        let fetched: Value = client()
            .get(format!("{}/v1/customers/{id}", stand_in.url()))
            .bearer_auth(stand_in.secret_key())
            .send()
            .await
            .expect("request reaches the stand-in")
            .json()
            .await
            .expect("JSON body");
        assert_eq!(fetched, created);

        let requests = stand_in.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].path, "/v1/customers");
        assert_eq!(
            requests[0].idempotency_key.as_deref(),
            Some("customer-tnt_01")
        );
        assert_eq!(requests[0].param("metadata[tenant_id]"), Some("tnt_01"));
        assert_eq!(requests[1].method, "GET");
        assert_eq!(requests[1].path, format!("/v1/customers/{id}"));
    }

    #[tokio::test]
    async fn unknown_customer_is_not_found() {
        let stand_in = StripeStandIn::start().await;
        let response = client()
            .get(format!("{}/v1/customers/cus_missing", stand_in.url()))
            .bearer_auth(stand_in.secret_key())
            .send()
            .await
            .expect("request reaches the stand-in");
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "resource_missing");
    }

    #[tokio::test]
    async fn missing_or_wrong_key_is_unauthorized() {
        let stand_in = StripeStandIn::start().await;
        let without_key = client()
            .post(format!("{}/v1/customers", stand_in.url()))
            .form(&[("email", "owner@example.com")])
            .send()
            .await
            .expect("request reaches the stand-in");
        assert_eq!(without_key.status(), 401);
        let body: Value = without_key.json().await.expect("JSON body");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not provide an API key")));

        let wrong_key = client()
            .post(format!("{}/v1/customers", stand_in.url()))
            .bearer_auth("sk_test_wrongkey1234")
            .form(&[("email", "owner@example.com")])
            .send()
            .await
            .expect("request reaches the stand-in");
        assert_eq!(wrong_key.status(), 401);
        let body: Value = wrong_key.json().await.expect("JSON body");
        assert_eq!(
            body["error"]["message"],
            "Invalid API Key provided: sk_test_****1234"
        );

        assert_eq!(stand_in.requests().len(), 2);
    }

    #[tokio::test]
    async fn repeated_key_replays_first_response() {
        let stand_in = StripeStandIn::start().await;
        let form = [
            ("email", "owner@example.com"),
            ("metadata[tenant_id]", "tnt_01"),
        ];
        let first = post(&stand_in, "/v1/customers", Some("key-1"), &form).await;
        assert_eq!(first.status(), 200);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let first: Value = first.json().await.expect("JSON body");

        let reordered = [
            ("metadata[tenant_id]", "tnt_01"),
            ("email", "owner@example.com"),
        ];
        let second = post(&stand_in, "/v1/customers", Some("key-1"), &reordered).await;
        assert_eq!(second.status(), 200);
        assert_eq!(second.headers()["idempotent-replayed"], "true");
        assert_eq!(second.headers()["idempotency-key"], "key-1");
        let second: Value = second.json().await.expect("JSON body");
        assert_eq!(second, first);

        let other_key = post(&stand_in, "/v1/customers", Some("key-2"), &form).await;
        let other: Value = other_key.json().await.expect("JSON body");
        assert_ne!(other["id"], first["id"]);
    }

    #[tokio::test]
    async fn repeated_key_with_other_params_is_rejected() {
        let stand_in = StripeStandIn::start().await;
        let first = post(
            &stand_in,
            "/v1/customers",
            Some("key-1"),
            &[("email", "owner@example.com")],
        )
        .await;
        assert_eq!(first.status(), 200);

        let conflicting = post(
            &stand_in,
            "/v1/customers",
            Some("key-1"),
            &[("email", "someone-else@example.com")],
        )
        .await;
        assert_eq!(conflicting.status(), 400);
        let body: Value = conflicting.json().await.expect("JSON body");
        assert_eq!(body["error"]["type"], "idempotency_error");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'key-1'")));

        let customer = create_customer(&stand_in).await;
        let other_path = post_checkout(&stand_in, Some("key-1"), &checkout_form(&customer)).await;
        assert_eq!(other_path.status(), 400);
        let body: Value = other_path.json().await.expect("JSON body");
        assert_eq!(body["error"]["type"], "idempotency_error");
    }

    #[tokio::test]
    async fn checkout_session_has_stripe_fields() {
        let stand_in = StripeStandIn::start().await;
        let customer = create_customer(&stand_in).await;
        let response =
            post_checkout(&stand_in, Some("checkout-1"), &checkout_form(&customer)).await;
        assert_eq!(response.status(), 200);
        let session: Value = response.json().await.expect("JSON body");
        let id = session["id"].as_str().expect("id");
        assert!(id.starts_with("cs_test_"), "id: {id}");
        assert_eq!(session["object"], "checkout.session");
        assert_eq!(
            session["url"],
            format!("https://checkout.stripe.test/c/pay/{id}")
        );
        assert_eq!(session["customer"], customer.as_str());
        assert_eq!(session["client_reference_id"], "tnt_01");
        assert_eq!(
            session["metadata"],
            json!({"tenant_id": "tnt_01", "plan": "professional"})
        );
        assert_eq!(session["mode"], "subscription");

        let fetched: Value = client()
            .get(format!("{}/v1/checkout/sessions/{id}", stand_in.url()))
            .bearer_auth(stand_in.secret_key())
            .send()
            .await
            .expect("request reaches the stand-in")
            .json()
            .await
            .expect("JSON body");
        assert_eq!(fetched, session);
    }

    #[tokio::test]
    async fn checkout_session_requires_each_param() {
        let stand_in = StripeStandIn::start().await;
        let customer = create_customer(&stand_in).await;
        let required = [
            "customer",
            "mode",
            "line_items[0][price]",
            "line_items[0][quantity]",
            "success_url",
            "cancel_url",
        ];
        for missing in required {
            let form: Vec<(&'static str, String)> = checkout_form(&customer)
                .into_iter()
                .filter(|(key, _)| *key != missing)
                .collect();
            let response = post_checkout(&stand_in, None, &form).await;
            assert_eq!(response.status(), 400, "without {missing}");
            let body: Value = response.json().await.expect("JSON body");
            assert_eq!(body["error"]["type"], "invalid_request_error");
            assert_eq!(body["error"]["param"], missing);
            assert_eq!(
                body["error"]["message"],
                format!("Missing required param: {missing}.")
            );
        }
    }

    #[tokio::test]
    async fn checkout_session_rejects_invalid_values() {
        let stand_in = StripeStandIn::start().await;
        let customer = create_customer(&stand_in).await;
        let cases = [
            ("mode", "monthly"),
            ("line_items[0][quantity]", "0"),
            ("line_items[0][quantity]", "two"),
            ("success_url", "not a url"),
            ("customer", "cus_unknown"),
        ];
        for (param, value) in cases {
            let form: Vec<(&'static str, String)> = checkout_form(&customer)
                .into_iter()
                .map(|(key, old)| {
                    if key == param {
                        (key, value.to_string())
                    } else {
                        (key, old)
                    }
                })
                .collect();
            let response = post_checkout(&stand_in, None, &form).await;
            assert_eq!(response.status(), 400, "{param}={value}");
            let body: Value = response.json().await.expect("JSON body");
            assert_eq!(body["error"]["param"], param, "{param}={value}");
        }
    }

    #[tokio::test]
    async fn rejected_request_does_not_claim_its_key() {
        let stand_in = StripeStandIn::start().await;
        let customer = create_customer(&stand_in).await;
        let mut form = checkout_form(&customer);
        form.retain(|(key, _)| *key != "success_url");
        let rejected = post_checkout(&stand_in, Some("checkout-1"), &form).await;
        assert_eq!(rejected.status(), 400);

        let accepted =
            post_checkout(&stand_in, Some("checkout-1"), &checkout_form(&customer)).await;
        assert_eq!(accepted.status(), 200);
        assert!(accepted.headers().get("idempotent-replayed").is_none());
    }

    #[tokio::test]
    async fn unknown_path_is_not_found() {
        let stand_in = StripeStandIn::start().await;
        let response = post(&stand_in, "/v1/subscriptions", None, &[]).await;
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.expect("JSON body");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Unrecognized request URL (POST: /v1/subscriptions)")));
    }

    #[test]
    fn signature_matches_independent_hmac() {
        // Computed with Python's hmac module over b"1796413223." + body, key b"whsec_test_secret".
        let expected = "9c923bb8b298e3d5484bca185ecbc851170ee41f56fc96fe62ab2d88022cb9dd";
        let payload = json!({"id": "evt_1", "object": "event"});
        let (header, body) = signed_webhook("whsec_test_secret", &payload, 1_796_413_223);
        assert_eq!(body, r#"{"id":"evt_1","object":"event"}"#);
        assert_eq!(header, format!("t=1796413223,v1={expected}"));
    }

    #[test]
    fn signature_header_has_timestamp_and_hex_digest() {
        let header = signature_header("whsec_other", 1_700_000_000, "{}");
        let (timestamp, signature) = header.split_once(',').expect("two parts");
        assert_eq!(timestamp, "t=1700000000");
        let digest = signature.strip_prefix("v1=").expect("v1 scheme");
        assert_eq!(digest.len(), 64);
        assert!(digest
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(header, signature_header("whsec_third", 1_700_000_000, "{}"));
    }

    #[test]
    fn checkout_completed_event_carries_tenant_and_subscription() {
        let event = checkout_completed("evt_1", 1_796_413_223, "tnt_01", "cus_1", "sub_1");
        assert_eq!(event["id"], "evt_1");
        assert_eq!(event["object"], "event");
        assert_eq!(event["type"], "checkout.session.completed");
        assert_eq!(event["created"], 1_796_413_223);
        assert_eq!(event["livemode"], false);
        let session = &event["data"]["object"];
        assert_eq!(session["object"], "checkout.session");
        assert_eq!(session["client_reference_id"], "tnt_01");
        assert_eq!(session["metadata"]["tenant_id"], "tnt_01");
        assert_eq!(session["customer"], "cus_1");
        assert_eq!(session["subscription"], "sub_1");
        assert_eq!(session["mode"], "subscription");
    }

    #[test]
    fn subscription_event_carries_price_and_status() {
        let event = subscription_event(
            "customer.subscription.updated",
            "evt_2",
            1_796_413_223,
            "sub_1",
            "cus_1",
            "past_due",
            "professional_monthly",
            12,
        );
        assert_eq!(event["type"], "customer.subscription.updated");
        let subscription = &event["data"]["object"];
        assert_eq!(subscription["object"], "subscription");
        assert_eq!(subscription["id"], "sub_1");
        assert_eq!(subscription["customer"], "cus_1");
        assert_eq!(subscription["status"], "past_due");
        let item = &subscription["items"]["data"][0];
        assert_eq!(item["price"]["lookup_key"], "professional_monthly");
        assert_eq!(item["quantity"], 12);
        assert!(subscription["canceled_at"].is_null());

        let canceled = subscription_event(
            "customer.subscription.deleted",
            "evt_3",
            1_796_413_300,
            "sub_1",
            "cus_1",
            "canceled",
            "professional_monthly",
            12,
        );
        assert_eq!(canceled["data"]["object"]["canceled_at"], 1_796_413_300);
    }

    #[test]
    fn invoice_event_status_follows_event_type() {
        let paid = invoice_event(
            "invoice.paid",
            "evt_4",
            1_796_413_223,
            "in_1",
            "cus_1",
            "sub_1",
        );
        let invoice = &paid["data"]["object"];
        assert_eq!(invoice["object"], "invoice");
        assert_eq!(invoice["subscription"], "sub_1");
        assert_eq!(
            invoice["parent"]["subscription_details"]["subscription"],
            "sub_1"
        );
        assert_eq!(invoice["status"], "paid");
        assert_eq!(invoice["paid"], true);

        let failed = invoice_event(
            "invoice.payment_failed",
            "evt_5",
            1_796_413_223,
            "in_2",
            "cus_1",
            "sub_1",
        );
        let invoice = &failed["data"]["object"];
        assert_eq!(invoice["status"], "open");
        assert_eq!(invoice["paid"], false);
        assert!(invoice["next_payment_attempt"].is_i64());
    }
}
