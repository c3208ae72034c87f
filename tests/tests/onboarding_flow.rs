//! The main flow through the local stack: signup, verification email, a link that changes
//! nothing on GET or HEAD, the POST that verifies, an Active workspace and a verified audit chain.

use std::time::Duration;

use end_to_end_tests::{audit_actions, link_in, signup_body, TestStack};
use serde_json::{json, Value};

#[tokio::test]
async fn signup_verification_and_provisioning_reach_an_active_workspace() {
    let stack = TestStack::start().await.expect("stack starts");
    let body = signup_body("flow");
    let email = body["email"].as_str().unwrap().to_owned();

    let response = stack.post_signup(&body, "203.0.113.10").await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["state"], "pending");
    let signup_id = accepted["signup_id"].as_str().unwrap().to_owned();
    let tenant_id = accepted["tenant_id"].as_str().unwrap().to_owned();

    let verification = stack
        .wait_for_email(&email, "Confirm", Duration::from_secs(60))
        .await
        .expect("verification email arrives");
    let link = link_in(&verification, &stack.url("/v1/verify?token="))
        .expect("the email carries the verification link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    assert!(token.len() >= 22, "token {token} is shorter than 128 bits");

    // Mail scanners prefetch links: GET and HEAD must leave the tenant pending.
    let page = stack.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    let head = stack.client.head(&link).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let status = stack.signup_status(&signup_id).await;
    assert_eq!(status["state"], "pending");
    assert_eq!(status["email_verified"], false);

    // The form on the page posts the token.
    let confirmed = stack
        .client
        .post(stack.url("/v1/verify"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);

    let active = stack
        .wait_for_state(
            &signup_id,
            &["active", "deactivated"],
            Duration::from_secs(60),
        )
        .await
        .expect("provisioning finishes");
    assert_eq!(active["state"], "active", "{active}");
    let subdomain = body["subdomain"].as_str().unwrap();
    assert_eq!(
        active["workspace_url"],
        format!("https://{subdomain}.workspaces.example.com")
    );
    let steps = active["steps"].as_array().unwrap();
    for name in [
        "validate",
        "reserve_capacity",
        "create_data_store",
        "apply_config_template",
        "enable_modules",
        "create_admin_invitation",
        "activate",
    ] {
        let step = steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("step {name} missing from {active}"));
        assert_eq!(step["status"], "succeeded", "{step}");
        assert!(step["duration_ms"].as_i64().is_some(), "{step}");
    }

    let welcome = stack
        .wait_for_email(&email, "ready", Duration::from_secs(60))
        .await
        .expect("welcome email arrives");
    let set_password = link_in(
        &welcome,
        &format!("https://{subdomain}.workspaces.example.com/set-password?token="),
    )
    .unwrap_or_else(|| panic!("the welcome email has no set-password link: {welcome}"));
    assert!(!set_password.contains("{secret}"), "{set_password}");

    // A second POST returns "already verified" and starts nothing.
    let again: Value = stack
        .client
        .post(stack.url("/v1/verify"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "already_verified");
    assert_eq!(
        stack.signup_status(&signup_id).await["provisioning_attempt"],
        1
    );

    let audit = stack.audit(&tenant_id).await;
    assert_eq!(audit["chain_valid"], true, "{audit}");
    let actions = audit_actions(&audit);
    assert_eq!(actions.first().map(String::as_str), Some("signup.created"));
    assert!(
        actions.iter().any(|a| a == "signup.verified"),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a == "provisioning.activate.succeeded"),
        "{actions:?}"
    );

    let report = stack.scan().await.expect("scan runs");
    assert!(report.is_clean(), "{:?}", report.orphans);
}

#[tokio::test]
async fn twenty_concurrent_signups_for_one_subdomain_give_one_202() {
    let stack = TestStack::start().await.expect("stack starts");
    let base = signup_body("race");
    let subdomain = base["subdomain"].as_str().unwrap().to_owned();
    let requests = (0..20).map(|i| {
        let mut body = base.clone();
        body["email"] = json!(format!("admin{i}@race-{subdomain}.example.com"));
        let stack = &stack;
        async move {
            let response = stack.post_signup(&body, &format!("198.51.100.{i}")).await;
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    });
    let results = futures::future::join_all(requests).await;
    let accepted = results.iter().filter(|(status, _)| *status == 202).count();
    let conflicts: Vec<&Value> = results
        .iter()
        .filter(|(status, _)| *status == 409)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(accepted, 1, "{results:?}");
    assert_eq!(conflicts.len(), 19, "{results:?}");
    for body in conflicts {
        assert_eq!(body["errors"][0]["field"], "subdomain", "{body}");
    }
}
