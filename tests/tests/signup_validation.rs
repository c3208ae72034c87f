//! Signup input checks, anti-fraud limits, availability and access control, through the stack.

use end_to_end_tests::{signup_body, StackOptions, TestStack};
use serde_json::{json, Value};

async fn field_errors(stack: &TestStack, body: &Value) -> (u16, Value) {
    let response = stack.post_signup(body, "192.0.2.1").await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    (status, response.json().await.unwrap())
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn invalid_signups_get_422_naming_each_field() {
    let stack = TestStack::start().await.expect("stack starts");
    let cases: Vec<(&str, Value)> = vec![
        ("email", json!("not-an-email")),
        ("email", json!("someone@mailinator.com")),
        ("email", json!("someone@inbox.mailinator.com")),
        ("subdomain", json!("ab")),
        ("subdomain", json!("-acme")),
        ("subdomain", json!("ac--me")),
        ("subdomain", json!("www")),
        ("subdomain", json!("Acme")),
        ("company_name", json!("A")),
        ("company_name", json!("Acme\r\nBcc: x@example.com")),
        ("region", json!("mars")),
        ("use_case", json!("crm")),
        ("plan", json!("platinum")),
    ];
    for (field, value) in cases {
        let mut body = signup_body("invalid");
        body[field] = value.clone();
        let (status, problem) = field_errors(&stack, &body).await;
        assert_eq!(status, 422, "{field}={value}: {problem}");
        assert_eq!(
            fields(&problem),
            vec![field.to_owned()],
            "{field}={value}: {problem}"
        );
        assert!(
            problem["errors"][0]["message"].as_str().unwrap().len() > 10,
            "{problem}"
        );
    }
}

#[tokio::test]
async fn missing_fields_are_all_reported_at_once() {
    let stack = TestStack::start().await.expect("stack starts");
    let (status, problem) = field_errors(&stack, &json!({})).await;
    assert_eq!(status, 422);
    let mut reported = fields(&problem);
    reported.sort();
    assert_eq!(
        reported,
        vec!["company_name", "email", "region", "subdomain", "use_case"]
    );
}

#[tokio::test]
async fn region_not_served_lists_the_served_ones() {
    let stack = TestStack::start_with(StackOptions::default().with("SERVED_REGIONS", "us,eu"))
        .await
        .expect("stack starts");
    let mut body = signup_body("region");
    body["region"] = json!("apac");
    let (status, problem) = field_errors(&stack, &body).await;
    assert_eq!(status, 422);
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("us") && message.contains("eu"),
        "{message}"
    );
}

#[tokio::test]
async fn malformed_json_gets_400_with_cors() {
    let stack = TestStack::start().await.expect("stack starts");
    let response = stack
        .client
        .post(stack.url("/v1/signups"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn signups_from_one_ip_are_rate_limited() {
    let stack =
        TestStack::start_with(StackOptions::default().with("SIGNUP_LIMIT_PER_IP_PER_HOUR", "3"))
            .await
            .expect("stack starts");
    for _ in 0..3 {
        let response = stack.post_signup(&signup_body("limit"), "192.0.2.77").await;
        assert_eq!(response.status(), 202);
    }
    let limited = stack.post_signup(&signup_body("limit"), "192.0.2.77").await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert!(retry_after <= 3600);
    let other_ip = stack.post_signup(&signup_body("limit"), "192.0.2.78").await;
    assert_eq!(other_ip.status(), 202);
}

#[tokio::test]
async fn taken_email_gets_409_naming_the_email() {
    let stack = TestStack::start().await.expect("stack starts");
    let first = signup_body("email");
    assert_eq!(stack.post_signup(&first, "192.0.2.5").await.status(), 202);
    let mut second = signup_body("email");
    second["email"] = first["email"].clone();
    let response = stack.post_signup(&second, "192.0.2.6").await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(fields(&problem), vec!["email"]);
}

#[tokio::test]
async fn subdomain_availability_explains_why_not() {
    let stack = TestStack::start().await.expect("stack starts");
    let body = signup_body("avail");
    let subdomain = body["subdomain"].as_str().unwrap();
    let check = |name: String| {
        let stack = &stack;
        async move {
            stack
                .client
                .get(stack.url(&format!("/v1/subdomains/{name}")))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(check(subdomain.to_owned()).await["available"], true);
    assert_eq!(stack.post_signup(&body, "192.0.2.9").await.status(), 202);
    let taken = check(subdomain.to_owned()).await;
    assert_eq!(taken["available"], false);
    assert_eq!(taken["reason"], "taken");
    assert_eq!(check("admin".into()).await["reason"], "reserved");
    assert_eq!(check("a".into()).await["reason"], "invalid");
}

#[tokio::test]
async fn admin_routes_need_a_platform_admin_token() {
    let stack = TestStack::start().await.expect("stack starts");
    let url = stack.url("/v1/admin/tenants/tnt_01jf0000000000000000000000");
    let anonymous = stack.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let support = stack
        .token("helper@example.com", &["support_engineer"])
        .await;
    let forbidden = stack
        .client
        .get(&url)
        .bearer_auth(support)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let admin = stack.token("ops@example.com", &["platform_admin"]).await;
    let missing = stack
        .client
        .get(&url)
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn resend_replaces_the_token_and_the_old_link_stops_working() {
    let stack = TestStack::start().await.expect("stack starts");
    let body = signup_body("resend");
    let accepted: Value = stack
        .post_signup(&body, "192.0.2.30")
        .await
        .json()
        .await
        .unwrap();
    let signup_id = accepted["signup_id"].as_str().unwrap();
    let email = body["email"].as_str().unwrap();
    let first = stack
        .wait_for_email(email, "Confirm", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let first_link = end_to_end_tests::link_in(&first, &stack.url("/v1/verify?token=")).unwrap();
    let resent = stack
        .client
        .post(stack.url(&format!("/v1/signups/{signup_id}/resend")))
        .send()
        .await
        .unwrap();
    assert_eq!(resent.status(), 202);
    let old_token = first_link.split("token=").nth(1).unwrap();
    let response = stack
        .client
        .post(stack.url("/v1/verify"))
        .json(&json!({"token": old_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(stack.signup_status(signup_id).await["state"], "pending");
}
