//! Each provisioning step made to fail in turn: the tenant ends deactivated with the reason,
//! the scan finds nothing left behind, and the subdomain is available again.

use std::time::Duration;

use end_to_end_tests::{audit_actions, link_in, signup_body, StackOptions, TestStack};
use serde_json::{json, Value};

async fn signup_and_verify(stack: &TestStack, label: &str) -> (Value, String) {
    let body = signup_body(label);
    let response = stack.post_signup(&body, "203.0.113.20").await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let email = stack
        .wait_for_email(
            body["email"].as_str().unwrap(),
            "Confirm",
            Duration::from_secs(60),
        )
        .await
        .expect("verification email arrives");
    let link = link_in(&email, &stack.url("/v1/verify?token=")).expect("link in email");
    let token = link.split("token=").nth(1).unwrap();
    let verified = stack
        .client
        .post(stack.url("/v1/verify"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    (body, accepted["signup_id"].as_str().unwrap().to_owned())
}

async fn failing_step_is_rolled_back(state_name: &str) {
    let stack = TestStack::start_with(StackOptions::default().with("LOCAL_FAIL_STEP", state_name))
        .await
        .expect("stack starts");
    let (body, signup_id) = signup_and_verify(&stack, "fail").await;

    // With Activate failing, the tenant is Active for the seconds the retries take; only
    // deactivated ends the wait.
    let status = stack
        .wait_for_state(&signup_id, &["deactivated"], Duration::from_secs(90))
        .await
        .expect("provisioning is rolled back");
    assert_eq!(status["state"], "deactivated", "{status}");
    assert!(
        status["state_reason"]
            .as_str()
            .unwrap()
            .contains("provisioning failed"),
        "{status}"
    );

    let report = stack.scan().await.expect("scan runs");
    assert!(report.is_clean(), "{state_name}: {:?}", report.orphans);

    let subdomain = body["subdomain"].as_str().unwrap();
    let availability: Value = stack
        .client
        .get(stack.url(&format!("/v1/subdomains/{subdomain}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(availability["available"], true, "{availability}");

    let tenant_id = status["tenant_id"].as_str().unwrap();
    let audit = stack.audit(tenant_id).await;
    assert_eq!(audit["chain_valid"], true, "{audit}");
    let actions = audit_actions(&audit);
    assert_eq!(
        actions.last().map(String::as_str),
        Some("provisioning.rolled_back"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn failure_in_validate_is_rolled_back() {
    failing_step_is_rolled_back("Validate").await;
}

#[tokio::test]
async fn failure_in_reserve_capacity_is_rolled_back() {
    failing_step_is_rolled_back("ReserveCapacity").await;
}

#[tokio::test]
async fn failure_in_create_data_store_is_rolled_back() {
    failing_step_is_rolled_back("CreateDataStore").await;
}

#[tokio::test]
async fn failure_in_apply_config_template_is_rolled_back() {
    failing_step_is_rolled_back("ApplyConfigTemplate").await;
}

#[tokio::test]
async fn failure_in_enable_modules_is_rolled_back() {
    failing_step_is_rolled_back("EnableModules").await;
}

#[tokio::test]
async fn failure_in_create_admin_invitation_is_rolled_back() {
    failing_step_is_rolled_back("CreateAdminInvitation").await;
}

#[tokio::test]
async fn failure_in_activate_is_rolled_back() {
    failing_step_is_rolled_back("Activate").await;
}

#[tokio::test]
async fn failure_in_check_data_store_of_a_dedicated_tenant_is_rolled_back() {
    let stack =
        TestStack::start_with(StackOptions::default().with("LOCAL_FAIL_STEP", "CheckDataStore"))
            .await
            .expect("stack starts");
    let admin = stack.token("ops@example.com", &["platform_admin"]).await;
    let mut body = signup_body("dedicated");
    body["plan"] = json!("enterprise");
    let response = stack
        .client
        .post(stack.url("/v1/admin/tenants"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let created: Value = response.json().await.unwrap();
    let tenant_id = created["tenant_id"].as_str().unwrap();

    let tenant = stack
        .wait_for_tenant_state(
            tenant_id,
            &["deactivated", "active"],
            Duration::from_secs(90),
        )
        .await
        .expect("provisioning ends");
    assert_eq!(tenant["state"], "deactivated", "{tenant}");
    let report = stack.scan().await.expect("scan runs");
    assert!(report.is_clean(), "{:?}", report.orphans);
}
