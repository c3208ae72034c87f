//! Stripe billing through the local stack and a Stripe stand-in on 127.0.0.1: checkout, signed
//! webhooks applied once, out-of-order events, dunning, downgrades, usage limits and tenant
//! isolation.

use std::time::Duration;

use end_to_end_tests::stripe::{
    checkout_completed, signature_header, signed_webhook, subscription_event, StripeStandIn,
};
use end_to_end_tests::{audit_actions, signup_body, ActiveTenant, StackOptions, TestStack};
use serde_json::{json, Value};

const OLD_SECRET: &str = "whsec_old_secret_still_valid";
const NEW_SECRET: &str = "whsec_new_secret";

struct Billing {
    stack: TestStack,
    stripe: StripeStandIn,
}

async fn billing() -> Billing {
    let stripe = StripeStandIn::start().await;
    let stack = TestStack::start_with(
        StackOptions::default()
            .with("STRIPE_API_URL", stripe.url())
            .with("STRIPE_SECRET_KEY", stripe.secret_key())
            .with(
                "STRIPE_WEBHOOK_SECRETS",
                &format!("{OLD_SECRET},{NEW_SECRET}"),
            ),
    )
    .await
    .expect("stack starts");
    Billing { stack, stripe }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn deliver(stack: &TestStack, signature: &str, body: &str) -> reqwest::Response {
    stack
        .client
        .post(stack.url("/v1/webhooks/stripe"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn deliver_event(stack: &TestStack, event: &Value) -> (u16, Value) {
    let (signature, body) = signed_webhook(NEW_SECRET, event, now());
    let response = deliver(stack, &signature, &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn tenant(stack: &TestStack, label: &str) -> ActiveTenant {
    stack
        .active_tenant(&signup_body(label), None)
        .await
        .expect("tenant active")
}

/// Starts checkout for `plan` and returns the Stripe customer id the stand-in saw.
async fn checkout(billing: &Billing, tenant: &ActiveTenant, plan: &str) -> String {
    let token = billing.stack.tenant_token(&tenant.tenant_id).await;
    let response = billing
        .stack
        .client
        .post(
            billing
                .stack
                .url(&format!("/v1/tenants/{}/checkout", tenant.tenant_id)),
        )
        .bearer_auth(token)
        .json(&json!({ "plan": plan }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let started: Value = response.json().await.unwrap();
    assert!(
        started["checkout_url"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{started}"
    );
    billing
        .stripe
        .requests()
        .iter()
        .find(|r| r.path == "/v1/checkout/sessions")
        .and_then(|r| r.param("customer").map(str::to_owned))
        .expect("a checkout session with a customer")
}

async fn tenant_view(stack: &TestStack, tenant_id: &str) -> Value {
    let token = stack.admin_token().await;
    stack
        .get_as(&format!("/v1/admin/tenants/{tenant_id}"), &token)
        .await
}

#[tokio::test]
async fn checkout_uses_one_customer_per_tenant() {
    let billing = billing().await;
    let tenant = tenant(&billing.stack, "checkout").await;
    let first = checkout(&billing, &tenant, "professional").await;
    let second = checkout(&billing, &tenant, "enterprise").await;
    assert_eq!(first, second);
    let customers: Vec<_> = billing
        .stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/customers")
        .collect();
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(
        customers[0].idempotency_key.as_deref(),
        Some(format!("customer-{}", tenant.tenant_id).as_str())
    );
    let sessions: Vec<_> = billing
        .stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/checkout/sessions")
        .collect();
    assert!(
        sessions.iter().all(|s| s.idempotency_key.is_some()),
        "{sessions:?}"
    );
    assert_eq!(
        sessions[0].param("client_reference_id"),
        Some(tenant.tenant_id.as_str())
    );
}

#[tokio::test]
async fn checkout_event_converts_the_trial_once() {
    let billing = billing().await;
    let stack = &billing.stack;
    let tenant = tenant(stack, "convert").await;
    let customer = checkout(&billing, &tenant, "enterprise").await;
    let mut event = checkout_completed(
        "evt_convert_1",
        now(),
        &tenant.tenant_id,
        &customer,
        "sub_convert",
    );
    event["data"]["object"]["metadata"]["plan"] = json!("enterprise");

    // The same event delivered three times at once and once more afterwards is applied once.
    let deliveries = (0..3).map(|_| deliver_event(stack, &event));
    let results = futures::future::join_all(deliveries).await;
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    let applied = results
        .iter()
        .filter(|(_, body)| body["outcome"] == "applied")
        .count();
    assert_eq!(applied, 1, "{results:?}");
    let (status, again) = deliver_event(stack, &event).await;
    assert_eq!(status, 200);
    assert_eq!(again["outcome"], "duplicate");

    let view = tenant_view(stack, &tenant.tenant_id).await;
    assert_eq!(view["plan"], "enterprise", "{view}");
    assert_eq!(view["on_trial"], false, "{view}");
    assert_eq!(view["state"], "active");
    let entitlements = stack.entitlements(&tenant.tenant_id).await;
    let crm = entitlements["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == "crm")
        .unwrap();
    assert_eq!(crm["status"], "enabled", "{entitlements}");
    let confirmations: Vec<_> = stack
        .emails_to(&tenant.email)
        .await
        .into_iter()
        .filter(|e| e["subject"].as_str().unwrap().contains("enterprise plan"))
        .collect();
    assert!(confirmations.len() <= 1, "{confirmations:?}");
    let confirmation = stack
        .wait_for_email(&tenant.email, "enterprise plan", Duration::from_secs(30))
        .await;
    assert!(confirmation.is_ok());
    let conversions = audit_actions(&stack.audit(&tenant.tenant_id).await)
        .into_iter()
        .filter(|a| a == "billing.converted")
        .count();
    assert_eq!(conversions, 1);
}

#[tokio::test]
async fn bad_stale_or_altered_signatures_get_400() {
    let billing = billing().await;
    let stack = &billing.stack;
    let event = checkout_completed(
        "evt_sig",
        now(),
        "tnt_01jf0000000000000000000000",
        "cus_x",
        "sub_x",
    );
    let (good_signature, body) = signed_webhook(NEW_SECRET, &event, now());

    let (wrong_secret, _) = signed_webhook("whsec_attacker", &event, now());
    assert_eq!(deliver(stack, &wrong_secret, &body).await.status(), 400);
    let (stale, stale_body) = signed_webhook(NEW_SECRET, &event, now() - 600);
    assert_eq!(deliver(stack, &stale, &stale_body).await.status(), 400);
    let altered = body.replace("evt_sig", "evt_forged");
    assert_eq!(
        deliver(stack, &good_signature, &altered).await.status(),
        400
    );
    assert_eq!(deliver(stack, "garbage", &body).await.status(), 400);
    let missing = stack
        .client
        .post(stack.url("/v1/webhooks/stripe"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    // During a secret rotation the old secret still verifies.
    let (old_signature, old_body) = signed_webhook(OLD_SECRET, &event, now());
    assert_eq!(
        deliver(stack, &old_signature, &old_body).await.status(),
        200
    );
    // A header with several v1 values verifies when any of them matches.
    let t = now();
    let good = signature_header(NEW_SECRET, t, &body);
    let v1 = good.split("v1=").nth(1).unwrap();
    let multi = format!("t={t},v1={},v1={v1}", "0".repeat(64));
    assert_eq!(deliver(stack, &multi, &body).await.status(), 200);
}

#[tokio::test]
async fn unknown_types_are_acknowledged_and_unreadable_ones_fail() {
    let billing = billing().await;
    let stack = &billing.stack;
    let unknown = json!({"id": "evt_unknown", "object": "event", "type": "customer.tax_id.created", "created": now(), "livemode": false, "data": {"object": {"id": "txi_1", "object": "tax_id"}}});
    let (status, body) = deliver_event(stack, &unknown).await;
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "ignored");
    let broken = json!({"id": "evt_broken", "object": "event", "type": "customer.subscription.updated", "created": now(), "livemode": false, "data": {"object": {"object": "subscription", "status": 42}}});
    let (status, _) = deliver_event(stack, &broken).await;
    assert_eq!(status, 500);
}

async fn subscribe(billing: &Billing, label: &str, plan: &str) -> (ActiveTenant, String) {
    let stack = &billing.stack;
    let tenant = tenant(stack, label).await;
    let customer = checkout(billing, &tenant, plan).await;
    let mut event = checkout_completed(
        &format!("evt_{label}_checkout"),
        now() - 100,
        &tenant.tenant_id,
        &customer,
        &format!("sub_{label}"),
    );
    event["data"]["object"]["metadata"]["plan"] = json!(plan);
    assert_eq!(deliver_event(stack, &event).await.0, 200);
    (tenant, customer)
}

fn subscription(
    label: &str,
    event_id: &str,
    created: i64,
    customer: &str,
    status: &str,
    plan: &str,
) -> Value {
    subscription_event(
        "customer.subscription.updated",
        event_id,
        created,
        &format!("sub_{label}"),
        customer,
        status,
        plan,
        1,
    )
}

#[tokio::test]
async fn older_subscription_event_does_not_overwrite_newer() {
    let billing = billing().await;
    let stack = &billing.stack;
    let (tenant, customer) = subscribe(&billing, "order", "professional").await;
    let t = now();
    let newer = subscription(
        "order",
        "evt_order_new",
        t,
        &customer,
        "active",
        "professional",
    );
    let older = subscription(
        "order",
        "evt_order_old",
        t - 60,
        &customer,
        "past_due",
        "professional",
    );
    assert_eq!(deliver_event(stack, &newer).await.1["outcome"], "applied");
    assert_eq!(deliver_event(stack, &older).await.1["outcome"], "stale");
    let entitlements = stack.entitlements(&tenant.tenant_id).await;
    assert_eq!(entitlements["access_mode"], "full", "{entitlements}");
    assert_eq!(
        tenant_view(stack, &tenant.tenant_id).await["state"],
        "active"
    );
}

#[tokio::test]
async fn past_due_then_unpaid_suspends() {
    let billing = billing().await;
    let stack = &billing.stack;
    let (tenant, customer) = subscribe(&billing, "dunning", "professional").await;
    let t = now();
    let past_due = subscription(
        "dunning",
        "evt_dunning_1",
        t - 10,
        &customer,
        "past_due",
        "professional",
    );
    assert_eq!(
        deliver_event(stack, &past_due).await.1["outcome"],
        "applied"
    );
    assert_eq!(
        tenant_view(stack, &tenant.tenant_id).await["state"],
        "active"
    );
    assert!(stack
        .wait_for_email(&tenant.email, "Payment for", Duration::from_secs(30))
        .await
        .is_ok());

    let unpaid = subscription(
        "dunning",
        "evt_dunning_2",
        t,
        &customer,
        "unpaid",
        "professional",
    );
    assert_eq!(deliver_event(stack, &unpaid).await.1["outcome"], "applied");
    let view = tenant_view(stack, &tenant.tenant_id).await;
    assert_eq!(view["state"], "suspended", "{view}");
    let entitlements = stack.entitlements(&tenant.tenant_id).await;
    assert_eq!(entitlements["access_mode"], "read_only", "{entitlements}");
    assert!(stack
        .wait_for_email(&tenant.email, "suspended", Duration::from_secs(30))
        .await
        .is_ok());
    let actions = audit_actions(&stack.audit(&tenant.tenant_id).await);
    assert!(
        actions.iter().any(|a| a == "billing.subscription.unpaid"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn downgrade_blocks_modules_and_keeps_data_read_only() {
    let billing = billing().await;
    let stack = &billing.stack;
    let (tenant, customer) = subscribe(&billing, "downgrade", "enterprise").await;
    let downgrade = subscription(
        "downgrade",
        "evt_downgrade",
        now(),
        &customer,
        "active",
        "basic",
    );
    assert_eq!(
        deliver_event(stack, &downgrade).await.1["outcome"],
        "applied"
    );
    let entitlements = stack.entitlements(&tenant.tenant_id).await;
    assert_eq!(entitlements["plan"], "basic", "{entitlements}");
    let status_of = |module: &str| {
        entitlements["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["module"] == module)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of("itsm"), "enabled");
    assert_eq!(status_of("crm"), "read_only", "{entitlements}");
    assert_eq!(status_of("itom"), "read_only", "{entitlements}");
    assert!(stack
        .wait_for_email(&tenant.email, "basic plan", Duration::from_secs(30))
        .await
        .is_ok());
}

#[tokio::test]
async fn usage_breach_blocks_and_emails_once() {
    let stack = TestStack::start().await.expect("stack starts");
    let tenant = tenant(&stack, "usage").await;
    let token = stack.tenant_token(&tenant.tenant_id).await;
    let report = |body: Value| {
        let stack = &stack;
        let token = token.clone();
        let tenant_id = tenant.tenant_id.clone();
        async move {
            let response = stack
                .client
                .post(stack.url(&format!("/v1/tenants/{tenant_id}/usage")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let entitlements = stack.entitlements(&tenant.tenant_id).await;
    let assets_max = entitlements["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["limit"] == "assets")
        .unwrap()["max"]
        .as_u64()
        .unwrap();

    let (status, invalid) = report(json!({ "assets": -1, "colour": 3 })).await;
    assert_eq!(status, 422, "{invalid}");

    let (_, warned) = report(json!({ "assets": assets_max * 85 / 100 })).await;
    let assets = |e: &Value| {
        e["limits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["limit"] == "assets")
            .unwrap()
            .clone()
    };
    assert_eq!(assets(&warned)["blocked"], false);
    for _ in 0..3 {
        let (status, breached) = report(json!({ "assets": assets_max + 5 })).await;
        assert_eq!(status, 200);
        assert_eq!(assets(&breached)["blocked"], true, "{breached}");
    }
    // The next read shows the block too.
    assert_eq!(
        assets(&stack.entitlements(&tenant.tenant_id).await)["blocked"],
        true
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let notices: Vec<String> = stack
        .emails_to(&tenant.email)
        .await
        .iter()
        .filter_map(|e| e["subject"].as_str().map(str::to_owned))
        .filter(|s| s.contains("assets limit"))
        .collect();
    assert_eq!(
        notices.len(),
        2,
        "one 80 % and one 100 % email: {notices:?}"
    );
}

#[tokio::test]
async fn tenant_token_cannot_read_another_tenant() {
    let stack = TestStack::start().await.expect("stack starts");
    let a = tenant(&stack, "tenanta").await;
    let b = tenant(&stack, "tenantb").await;
    let token_a = stack.tenant_token(&a.tenant_id).await;
    for (method, path) in [
        ("GET", format!("/v1/tenants/{}/entitlements", b.tenant_id)),
        ("POST", format!("/v1/tenants/{}/usage", b.tenant_id)),
        ("POST", format!("/v1/tenants/{}/checkout", b.tenant_id)),
        (
            "POST",
            format!("/v1/tenants/{}/trial-extensions", b.tenant_id),
        ),
    ] {
        let request = if method == "GET" {
            stack.client.get(stack.url(&path))
        } else {
            stack.client.post(stack.url(&path)).json(&json!({}))
        };
        let response = request.bearer_auth(&token_a).send().await.unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
    }
    let own = stack
        .client
        .get(stack.url(&format!("/v1/tenants/{}/entitlements", a.tenant_id)))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn api_requests_over_the_plan_rate_get_429() {
    // Every request carries the same simulated time, so all of them fall in one minute window.
    let stack = TestStack::start_with(StackOptions::default().with("LOCAL_TRUST_TIME_HEADER", "1"))
        .await
        .expect("stack starts");
    let mut body = signup_body("rate");
    body["plan"] = json!("basic");
    let tenant = stack
        .active_tenant(&body, None)
        .await
        .expect("tenant active");
    let token = stack.tenant_token(&tenant.tenant_id).await;
    let url = stack.url(&format!("/v1/tenants/{}/entitlements", tenant.tenant_id));
    let get = || {
        stack
            .client
            .get(&url)
            .bearer_auth(&token)
            .header("x-local-time", "2027-05-05T10:00:30Z")
            .send()
    };
    let first: Value = get().await.unwrap().json().await.unwrap();
    let per_minute = first["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["limit"] == "api_requests_per_minute")
        .unwrap()["max"]
        .as_u64()
        .unwrap();
    assert_eq!(per_minute, 300);
    let mut statuses = Vec::new();
    for _ in 1..per_minute {
        statuses.push(get().await.unwrap().status().as_u16());
    }
    assert!(
        statuses.iter().all(|s| *s == 200),
        "a request within the limit was refused"
    );
    let limited = get().await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 30);
}
