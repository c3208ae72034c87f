//! MSP providers through the local stack: a pool granted by a platform admin, customers at path
//! URLs, allocation and release, the last license under concurrency, nested MSP attempts, and
//! access limited to the provider's own admins.

use std::time::Duration;

use end_to_end_tests::{audit_actions, signup_body, ActiveTenant, TestStack};
use serde_json::{json, Value};

async fn provider(stack: &TestStack, label: &str) -> ActiveTenant {
    let mut body = signup_body(label);
    body["use_case"] = json!("msp");
    stack
        .active_tenant(&body, None)
        .await
        .expect("provider active")
}

async fn grant(stack: &TestStack, provider_id: &str, tier: &str, quantity: u64) -> (u16, Value) {
    let admin = stack.admin_token().await;
    let response = stack
        .client
        .post(stack.url(&format!("/v1/admin/msp/{provider_id}/pool/grants")))
        .bearer_auth(admin)
        .json(&json!({ "tier": tier, "quantity": quantity, "reason": "signed order" }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn send(
    stack: &TestStack,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = stack
        .client
        .request(method, stack.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_customer(
    stack: &TestStack,
    provider_id: &str,
    token: &str,
    slug: &str,
) -> (u16, Value) {
    let body = json!({
        "slug": slug,
        "company_name": format!("Customer {slug}"),
        "admin_email": format!("it@{slug}.example.com"),
        "use_case": "itsm",
    });
    send(
        stack,
        reqwest::Method::POST,
        &format!("/v1/msp/{provider_id}/customers"),
        token,
        Some(body),
    )
    .await
}

async fn wait_customer_active(
    stack: &TestStack,
    provider_id: &str,
    customer_id: &str,
    token: &str,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, view) = send(
            stack,
            reqwest::Method::GET,
            &format!("/v1/msp/{provider_id}/customers/{customer_id}"),
            token,
            None,
        )
        .await;
        if view["state"] == "active"
            || view["state"] == "deactivated"
            || std::time::Instant::now() > deadline
        {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Finds the counts of one tier in a pool view (`tiers`) or an allocation result (`pool`).
fn tier(body: &Value, name: &str) -> Value {
    let tiers = body["tiers"].as_array().or_else(|| body["pool"].as_array());
    tiers
        .and_then(|tiers| tiers.iter().find(|t| t["tier"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no {name} tier in {body}"))
}

#[tokio::test]
async fn provider_allocates_and_releases_licenses() {
    let stack = TestStack::start().await.expect("stack starts");
    let provider = provider(&stack, "msp").await;
    let token = stack.tenant_token(&provider.tenant_id).await;
    let (status, pool) = grant(&stack, &provider.tenant_id, "professional", 5).await;
    assert_eq!(status, 200, "{pool}");
    assert_eq!(tier(&pool, "professional")["free"], 5);

    let slug = format!("contoso{}", end_to_end_tests::unique_suffix());
    let (status, created) = create_customer(&stack, &provider.tenant_id, &token, &slug).await;
    assert_eq!(status, 202, "{created}");
    let customer_id = created["customer_id"].as_str().unwrap().to_owned();
    let subdomain = provider_subdomain(&stack, &provider).await;
    assert_eq!(
        created["workspace_url"],
        format!("https://{subdomain}.workspaces.example.com/{slug}")
    );
    let view = wait_customer_active(&stack, &provider.tenant_id, &customer_id, &token).await;
    assert_eq!(view["state"], "active", "{view}");

    // Without a license the customer's workspace is blocked.
    assert_eq!(
        stack.entitlements(&customer_id).await["access_mode"],
        "blocked"
    );

    let allocation = format!(
        "/v1/msp/{}/customers/{customer_id}/allocation",
        provider.tenant_id
    );
    let (status, result) = send(
        &stack,
        reqwest::Method::PUT,
        &allocation,
        &token,
        Some(json!({"licenses": {"professional": 3}})),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(tier(&result, "professional")["allocated"], 3);
    let entitlements = stack.entitlements(&customer_id).await;
    assert_eq!(entitlements["access_mode"], "full", "{entitlements}");
    assert_eq!(entitlements["plan"], "professional");

    let (status, over) = send(
        &stack,
        reqwest::Method::PUT,
        &allocation,
        &token,
        Some(json!({"licenses": {"professional": 6}})),
    )
    .await;
    assert_eq!(status, 409, "{over}");

    let (status, released) = send(&stack, reqwest::Method::DELETE, &allocation, &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(released["changed"], true);
    let (status, again) = send(&stack, reqwest::Method::DELETE, &allocation, &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["changed"], false,
        "a repeated release changes nothing"
    );
    let (_, pool) = send(
        &stack,
        reqwest::Method::GET,
        &format!("/v1/msp/{}/pool", provider.tenant_id),
        &token,
        None,
    )
    .await;
    assert_eq!(tier(&pool, "professional")["allocated"], 0, "{pool}");
    assert_eq!(tier(&pool, "professional")["free"], 5);
    assert_eq!(
        stack.entitlements(&customer_id).await["access_mode"],
        "blocked"
    );

    let provider_actions = audit_actions(&stack.audit(&provider.tenant_id).await);
    assert!(
        provider_actions.iter().any(|a| a == "msp.licenses_granted"),
        "{provider_actions:?}"
    );
    assert!(
        provider_actions
            .iter()
            .filter(|a| *a == "msp.customer_licenses_changed")
            .count()
            == 2,
        "{provider_actions:?}"
    );
    let customer_audit = stack.audit(&customer_id).await;
    assert_eq!(customer_audit["chain_valid"], true);
    let customer_actions = audit_actions(&customer_audit);
    assert!(
        customer_actions
            .iter()
            .any(|a| a == "msp.licenses_allocated"),
        "{customer_actions:?}"
    );
    assert!(
        customer_actions
            .iter()
            .any(|a| a == "msp.licenses_released"),
        "{customer_actions:?}"
    );

    let (status, taken) = create_customer(&stack, &provider.tenant_id, &token, &slug).await;
    assert_eq!(status, 409, "{taken}");
    assert_eq!(taken["errors"][0]["field"], "slug");
    let (status, reserved) = create_customer(&stack, &provider.tenant_id, &token, "admin").await;
    assert_eq!(status, 422, "{reserved}");
    assert_eq!(reserved["errors"][0]["field"], "slug");
}

async fn provider_subdomain(stack: &TestStack, provider: &ActiveTenant) -> String {
    stack.signup_status(&provider.signup_id).await["subdomain"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn last_license_goes_to_exactly_one_request() {
    let stack = TestStack::start().await.expect("stack starts");
    let provider = provider(&stack, "race").await;
    let token = stack.tenant_token(&provider.tenant_id).await;
    grant(&stack, &provider.tenant_id, "basic", 1).await;
    let mut customers = Vec::new();
    for index in 0..10 {
        let (status, created) = create_customer(
            &stack,
            &provider.tenant_id,
            &token,
            &format!("race{index}{}", end_to_end_tests::unique_suffix()),
        )
        .await;
        assert_eq!(status, 202, "{created}");
        customers.push(created["customer_id"].as_str().unwrap().to_owned());
    }
    for customer in &customers {
        wait_customer_active(&stack, &provider.tenant_id, customer, &token).await;
    }
    let requests = customers.iter().map(|customer| {
        let path = format!(
            "/v1/msp/{}/customers/{customer}/allocation",
            provider.tenant_id
        );
        let stack = &stack;
        let token = token.clone();
        async move {
            send(
                stack,
                reqwest::Method::PUT,
                &path,
                &token,
                Some(json!({"licenses": {"basic": 1}})),
            )
            .await
        }
    });
    let results = futures::future::join_all(requests).await;
    let granted = results.iter().filter(|(status, _)| *status == 200).count();
    let refused = results.iter().filter(|(status, _)| *status == 409).count();
    assert_eq!(granted, 1, "{results:?}");
    assert_eq!(refused, 9, "{results:?}");
    let (_, pool) = send(
        &stack,
        reqwest::Method::GET,
        &format!("/v1/msp/{}/pool", provider.tenant_id),
        &token,
        None,
    )
    .await;
    assert_eq!(tier(&pool, "basic")["allocated"], 1, "{pool}");
}

#[tokio::test]
async fn customers_cannot_have_customers() {
    let stack = TestStack::start().await.expect("stack starts");
    let provider = provider(&stack, "nest").await;
    let token = stack.tenant_token(&provider.tenant_id).await;
    let (_, created) = create_customer(
        &stack,
        &provider.tenant_id,
        &token,
        &format!("child{}", end_to_end_tests::unique_suffix()),
    )
    .await;
    let customer_id = created["customer_id"].as_str().unwrap().to_owned();
    wait_customer_active(&stack, &provider.tenant_id, &customer_id, &token).await;

    let customer_token = stack.tenant_token(&customer_id).await;
    let (status, nested) =
        create_customer(&stack, &customer_id, &customer_token, "grandchild").await;
    assert_eq!(status, 409, "{nested}");
    assert!(
        nested["detail"].as_str().unwrap().contains("two levels"),
        "{nested}"
    );

    let msp_customer = json!({"slug": "mspchild", "company_name": "Nested MSP", "admin_email": "it@nested.example.com", "use_case": "msp"});
    let (status, refused) = send(
        &stack,
        reqwest::Method::POST,
        &format!("/v1/msp/{}/customers", provider.tenant_id),
        &token,
        Some(msp_customer),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["errors"][0]["field"], "use_case");
}

#[tokio::test]
async fn providers_see_only_their_own_customers() {
    let stack = TestStack::start().await.expect("stack starts");
    let first = provider(&stack, "first").await;
    let second = provider(&stack, "second").await;
    let first_token = stack.tenant_token(&first.tenant_id).await;
    let second_token = stack.tenant_token(&second.tenant_id).await;
    let (_, created) = create_customer(
        &stack,
        &first.tenant_id,
        &first_token,
        &format!("own{}", end_to_end_tests::unique_suffix()),
    )
    .await;
    let customer_id = created["customer_id"].as_str().unwrap().to_owned();

    for (method, path) in [
        (
            reqwest::Method::GET,
            format!("/v1/msp/{}/pool", first.tenant_id),
        ),
        (
            reqwest::Method::GET,
            format!("/v1/msp/{}/customers", first.tenant_id),
        ),
        (
            reqwest::Method::GET,
            format!("/v1/msp/{}/customers/{customer_id}", first.tenant_id),
        ),
        (
            reqwest::Method::PUT,
            format!(
                "/v1/msp/{}/customers/{customer_id}/allocation",
                first.tenant_id
            ),
        ),
    ] {
        let (status, _) = send(
            &stack,
            method.clone(),
            &path,
            &second_token,
            Some(json!({"licenses": {}})),
        )
        .await;
        assert_eq!(status, 403, "{method} {path}");
    }
    // The second provider cannot reach the first provider's customer through its own path either.
    let (status, _) = send(
        &stack,
        reqwest::Method::GET,
        &format!("/v1/msp/{}/customers/{customer_id}", second.tenant_id),
        &second_token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    // A customer's token cannot touch its provider's pool.
    let customer_token = stack.tenant_token(&customer_id).await;
    let (status, _) = send(
        &stack,
        reqwest::Method::GET,
        &format!("/v1/msp/{}/pool", first.tenant_id),
        &customer_token,
        None,
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn customer_list_pages_with_a_cursor() {
    let stack = TestStack::start().await.expect("stack starts");
    let provider = provider(&stack, "pages").await;
    let token = stack.tenant_token(&provider.tenant_id).await;
    let suffix = end_to_end_tests::unique_suffix();
    for index in 0..5 {
        let (status, _) = create_customer(
            &stack,
            &provider.tenant_id,
            &token,
            &format!("page{index}{suffix}"),
        )
        .await;
        assert_eq!(status, 202);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!(
                "/v1/msp/{}/customers?limit=2&cursor={cursor}",
                provider.tenant_id
            ),
            None => format!("/v1/msp/{}/customers?limit=2", provider.tenant_id),
        };
        let (status, page) = send(&stack, reqwest::Method::GET, &path, &token, None).await;
        assert_eq!(status, 200, "{page}");
        let customers = page["customers"].as_array().unwrap();
        assert!(customers.len() <= 2);
        seen.extend(
            customers
                .iter()
                .map(|c| c["slug"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..5).map(|index| format!("page{index}{suffix}")).collect();
    assert_eq!(seen, expected);
    let (status, bad) = send(
        &stack,
        reqwest::Method::GET,
        &format!("/v1/msp/{}/customers?cursor=bogus", provider.tenant_id),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 422, "{bad}");
}

#[tokio::test]
async fn pool_bought_through_stripe_and_shrunk_keeps_customers() {
    use end_to_end_tests::stripe::{
        checkout_completed, signed_webhook, subscription_event, StripeStandIn,
    };
    let secret = "whsec_pool_tests";
    let stripe = StripeStandIn::start().await;
    let stack = TestStack::start_with(
        end_to_end_tests::StackOptions::default()
            .with("STRIPE_API_URL", stripe.url())
            .with("STRIPE_SECRET_KEY", stripe.secret_key())
            .with("STRIPE_WEBHOOK_SECRETS", secret)
            .with("LOCAL_TRUST_TIME_HEADER", "1"),
    )
    .await
    .expect("stack starts");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let deliver = |event: Value| {
        let stack = &stack;
        async move {
            let (signature, body) = signed_webhook(secret, &event, now());
            let response = stack
                .client
                .post(stack.url("/v1/webhooks/stripe"))
                .header("stripe-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    let provider = provider(&stack, "buyer").await;
    let token = stack.tenant_token(&provider.tenant_id).await;
    let (status, started) = send(
        &stack,
        reqwest::Method::POST,
        &format!("/v1/tenants/{}/checkout", provider.tenant_id),
        &token,
        Some(json!({"plan": "professional", "quantity": 3})),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let session = stripe
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/checkout/sessions")
        .unwrap();
    assert_eq!(session.param("metadata[purpose]"), Some("license_pool"));
    assert_eq!(session.param("line_items[0][quantity]"), Some("3"));
    let customer_id_at_stripe = session.param("customer").unwrap().to_owned();

    let mut completed = checkout_completed(
        "evt_pool_checkout",
        now() - 50,
        &provider.tenant_id,
        &customer_id_at_stripe,
        "sub_pool",
    );
    completed["data"]["object"]["metadata"] = json!({"tenant_id": provider.tenant_id, "plan": "professional", "purpose": "license_pool", "quantity": "3"});
    deliver(completed).await;
    let (_, pool) = send(
        &stack,
        reqwest::Method::GET,
        &format!("/v1/msp/{}/pool", provider.tenant_id),
        &token,
        None,
    )
    .await;
    assert_eq!(tier(&pool, "professional")["purchased"], 3, "{pool}");

    let (_, created) = create_customer(
        &stack,
        &provider.tenant_id,
        &token,
        &format!("fabrikam{}", end_to_end_tests::unique_suffix()),
    )
    .await;
    let customer_id = created["customer_id"].as_str().unwrap().to_owned();
    wait_customer_active(&stack, &provider.tenant_id, &customer_id, &token).await;
    let allocation = format!(
        "/v1/msp/{}/customers/{customer_id}/allocation",
        provider.tenant_id
    );
    let (status, _) = send(
        &stack,
        reqwest::Method::PUT,
        &allocation,
        &token,
        Some(json!({"licenses": {"professional": 3}})),
    )
    .await;
    assert_eq!(status, 200);

    // The pool subscription drops to one license while three are allocated.
    let mut shrunk = subscription_event(
        "customer.subscription.updated",
        "evt_pool_shrink",
        now() - 10,
        "sub_pool",
        &customer_id_at_stripe,
        "active",
        "professional",
        1,
    );
    shrunk["data"]["object"]["metadata"] =
        json!({"tenant_id": provider.tenant_id, "plan": "professional", "purpose": "license_pool"});
    deliver(shrunk).await;
    let (_, pool) = send(
        &stack,
        reqwest::Method::GET,
        &format!("/v1/msp/{}/pool", provider.tenant_id),
        &token,
        None,
    )
    .await;
    assert_eq!(pool["over_allocated"], true, "{pool}");
    assert_eq!(tier(&pool, "professional")["purchased"], 1);

    // Policy: no new allocations, the customer keeps its licenses and access, releases work.
    let (status, _) = send(
        &stack,
        reqwest::Method::PUT,
        &allocation,
        &token,
        Some(json!({"licenses": {"professional": 4}})),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        stack.entitlements(&customer_id).await["access_mode"],
        "full"
    );
    assert!(stack
        .wait_for_email(
            &provider.email,
            "more licenses allocated than owned",
            Duration::from_secs(30)
        )
        .await
        .is_ok());

    // Both parties are notified: the scheduler emails the provider's customers.
    let run_at = time_now_rfc3339();
    stack.run_schedule("TrialSchedulerFunction", &run_at).await;
    let notice = stack
        .wait_for_email(
            &format!("it@{}.example.com", created["slug"].as_str().unwrap()),
            "A change at",
            Duration::from_secs(30),
        )
        .await;
    assert!(notice.is_ok(), "{notice:?}");
    let (status, released) = send(
        &stack,
        reqwest::Method::PUT,
        &allocation,
        &token,
        Some(json!({"licenses": {"professional": 1}})),
    )
    .await;
    assert_eq!(status, 200, "{released}");
}

fn time_now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 60;
    let date = time::OffsetDateTime::from_unix_timestamp(now).unwrap();
    date.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}
