//! The watchdog resumes or rolls back tenants stuck in provisioning, and a platform admin's
//! tenant on a plan that allows it gets a dedicated table.

use std::time::Duration;

use end_to_end_tests::{audit_actions, signup_body, StackOptions, TestStack};
use onboarding_app::aws::dynamo::TenantChange;
use onboarding_app::aws::items::{n, s};
use onboarding_domain::audit::Actor;
use onboarding_domain::lifecycle::TenantState;
use serde_json::Value;
use time::OffsetDateTime;

/// Puts a pending tenant into provisioning without starting an execution, as happens when the
/// state change committed but the StartExecution call failed.
async fn strand_in_provisioning(stack: &TestStack, tenant_id: &str, attempt: u32) {
    let services = stack.services().await.unwrap();
    let tenant = services.store.get_tenant(tenant_id).await.unwrap().unwrap();
    let change = TenantChange::new(
        Actor::system("test"),
        "signup.verified",
        "verified, execution never started",
    )
    .to_state(TenantState::Provisioning)
    .set("attempt", n(attempt))
    .set(
        "execution_arn",
        s(format!(
            "arn:aws:states:us-east-1:123456789012:execution:missing:{tenant_id}-{attempt}"
        )),
    );
    services
        .store
        .commit_change(&tenant, change, OffsetDateTime::now_utc())
        .await
        .unwrap();
}

async fn run_watchdog(stack: &TestStack) -> Value {
    stack
        .client
        .post(stack.url("/_local/schedules/WatchdogFunction/run"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn checked_audit_actions(stack: &TestStack, tenant_id: &str) -> Vec<String> {
    let audit = stack.audit(tenant_id).await;
    assert_eq!(audit["chain_valid"], true, "{audit}");
    audit_actions(&audit)
}

#[tokio::test]
async fn watchdog_resumes_a_tenant_whose_execution_never_started() {
    let stack = TestStack::start_with(
        StackOptions::default().with("PROVISIONING_STUCK_AFTER_SECONDS", "0"),
    )
    .await
    .expect("stack starts");
    let accepted: Value = stack
        .post_signup(&signup_body("stuck"), "192.0.2.40")
        .await
        .json()
        .await
        .unwrap();
    let tenant_id = accepted["tenant_id"].as_str().unwrap();
    let signup_id = accepted["signup_id"].as_str().unwrap();
    strand_in_provisioning(&stack, tenant_id, 1).await;

    let report = run_watchdog(&stack).await;
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["output"]["resumed"][0], tenant_id, "{report}");

    let status = stack
        .wait_for_state(signup_id, &["active"], Duration::from_secs(60))
        .await
        .expect("resumed to active");
    assert_eq!(status["provisioning_attempt"], 2);
    let actions = checked_audit_actions(&stack, tenant_id).await;
    assert!(
        actions.contains(&"provisioning.resumed".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn watchdog_rolls_back_a_tenant_out_of_attempts() {
    let stack = TestStack::start_with(
        StackOptions::default().with("PROVISIONING_STUCK_AFTER_SECONDS", "0"),
    )
    .await
    .expect("stack starts");
    let body = signup_body("stuck");
    let accepted: Value = stack
        .post_signup(&body, "192.0.2.41")
        .await
        .json()
        .await
        .unwrap();
    let tenant_id = accepted["tenant_id"].as_str().unwrap();
    strand_in_provisioning(&stack, tenant_id, 3).await;

    let report = run_watchdog(&stack).await;
    assert_eq!(report["output"]["rolled_back"][0], tenant_id, "{report}");
    let status = stack
        .signup_status(accepted["signup_id"].as_str().unwrap())
        .await;
    assert_eq!(status["state"], "deactivated", "{status}");
    let actions = checked_audit_actions(&stack, tenant_id).await;
    assert_eq!(
        actions.last().map(String::as_str),
        Some("provisioning.rolled_back"),
        "{actions:?}"
    );
    assert!(stack.scan().await.unwrap().is_clean());
}

#[tokio::test]
async fn admin_created_enterprise_tenant_gets_a_dedicated_table() {
    let stack = TestStack::start().await.expect("stack starts");
    let admin = stack.token("ops@example.com", &["platform_admin"]).await;
    let mut body = signup_body("dedicated");
    body["plan"] = serde_json::json!("enterprise");
    let created: Value = stack
        .client
        .post(stack.url("/v1/admin/tenants"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant_id = created["tenant_id"].as_str().unwrap().to_owned();
    let tenant = stack
        .wait_for_tenant_state(
            &tenant_id,
            &["active", "deactivated"],
            Duration::from_secs(60),
        )
        .await
        .expect("provisioning ends");
    assert_eq!(tenant["state"], "active", "{tenant}");
    assert_eq!(tenant["cell_id"], format!("dedicated-{tenant_id}"));
    assert_eq!(tenant["on_trial"], false);

    let services = stack.services().await.unwrap();
    let tables = services
        .tables
        .list("eu-central-1", "tenant-")
        .await
        .unwrap();
    assert_eq!(tables, vec![format!("tenant-{tenant_id}")]);
    let steps: Vec<&str> = tenant["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"check_data_store"), "{steps:?}");
    assert!(stack.scan().await.unwrap().is_clean());
}
