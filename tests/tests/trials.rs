//! Trials through the local stack with simulated time: reminders on the right local days across a
//! daylight-saving change and a leap day, expiry to read-only, suspension after the grace period,
//! and extensions decided by a platform admin.

use std::time::Duration;

use end_to_end_tests::{audit_actions, signup_body, StackOptions, TestStack};
use serde_json::{json, Value};

async fn stack() -> TestStack {
    TestStack::start_with(StackOptions::default().with("LOCAL_TRUST_TIME_HEADER", "1"))
        .await
        .expect("stack starts")
}

fn trial_body(label: &str, time_zone: &str) -> Value {
    let mut body = signup_body(label);
    body["time_zone"] = json!(time_zone);
    body
}

/// Subjects of the reminder emails sent to `to`.
async fn reminders(stack: &TestStack, to: &str) -> Vec<String> {
    stack
        .emails_to(to)
        .await
        .iter()
        .filter_map(|email| email["subject"].as_str())
        .filter(|subject| subject.contains("trial ends in"))
        .map(str::to_owned)
        .collect()
}

/// Fires the scheduler just before and just after `due` and checks the reminder count.
async fn expect_reminder_at(stack: &TestStack, to: &str, before: &str, after: &str, count: usize) {
    stack.run_schedule("TrialSchedulerFunction", before).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        reminders(stack, to).await.len(),
        count - 1,
        "a reminder went out before {before}"
    );
    stack.run_schedule("TrialSchedulerFunction", after).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while reminders(stack, to).await.len() < count && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        reminders(stack, to).await.len(),
        count,
        "no reminder by {after}"
    );
}

#[tokio::test]
async fn reminders_follow_local_days_across_dst() {
    let stack = stack().await;
    // Signed up 2027-03-02 10:00 in New York (EST, UTC-5): the trial ends 2027-03-16 15:00Z.
    // Clocks move to EDT (UTC-4) on 2027-03-14, so the 7-day reminder (09:00 EST on 03-09) is at
    // 14:00Z and the 3-day and 1-day ones (09:00 EDT on 03-13 and 03-15) at 14:00Z and 13:00Z.
    let body = trial_body("dst", "America/New_York");
    let tenant = stack
        .active_tenant(&body, Some("2027-03-02T15:00:00Z"))
        .await
        .expect("tenant active");
    expect_reminder_at(
        &stack,
        &tenant.email,
        "2027-03-09T13:59:00Z",
        "2027-03-09T14:01:00Z",
        1,
    )
    .await;
    expect_reminder_at(
        &stack,
        &tenant.email,
        "2027-03-13T13:59:00Z",
        "2027-03-13T14:01:00Z",
        2,
    )
    .await;
    expect_reminder_at(
        &stack,
        &tenant.email,
        "2027-03-15T12:59:00Z",
        "2027-03-15T13:01:00Z",
        3,
    )
    .await;

    // Running again changes nothing: no reminder is sent twice.
    stack
        .run_schedule("TrialSchedulerFunction", "2027-03-15T13:30:00Z")
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let subjects = reminders(&stack, &tenant.email).await;
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(subjects[0].contains("7 day"), "{subjects:?}");
    assert!(subjects[1].contains("3 day"), "{subjects:?}");
    assert!(subjects[2].contains("1 day"), "{subjects:?}");
}

#[tokio::test]
async fn reminders_count_the_leap_day() {
    let stack = stack().await;
    // Signed up 2028-02-16 12:00 UTC: the trial ends 2028-03-01 12:00 UTC. One day before is
    // the leap day 2028-02-29, three days before is 02-27, seven days before is 02-23.
    let body = trial_body("leap", "UTC");
    let tenant = stack
        .active_tenant(&body, Some("2028-02-16T12:00:00Z"))
        .await
        .expect("tenant active");
    expect_reminder_at(
        &stack,
        &tenant.email,
        "2028-02-23T08:59:00Z",
        "2028-02-23T09:01:00Z",
        1,
    )
    .await;
    expect_reminder_at(
        &stack,
        &tenant.email,
        "2028-02-27T08:59:00Z",
        "2028-02-27T09:01:00Z",
        2,
    )
    .await;
    expect_reminder_at(
        &stack,
        &tenant.email,
        "2028-02-29T08:59:00Z",
        "2028-02-29T09:01:00Z",
        3,
    )
    .await;
}

#[tokio::test]
async fn expired_trial_turns_read_only_then_suspended() {
    let stack = stack().await;
    let body = trial_body("expiry", "Europe/Berlin");
    let tenant = stack
        .active_tenant(&body, Some("2027-06-01T08:00:00Z"))
        .await
        .expect("tenant active");
    let entitlements = stack.entitlements(&tenant.tenant_id).await;
    assert_eq!(entitlements["access_mode"], "full", "{entitlements}");

    // The trial ends 2027-06-15 08:00Z; the grace period ends seven days later.
    stack
        .run_schedule("TrialSchedulerFunction", "2027-06-15T08:05:00Z")
        .await;
    let expired = stack
        .wait_for_email(&tenant.email, "trial has ended", Duration::from_secs(30))
        .await;
    assert!(expired.is_ok(), "{expired:?}");
    let status = stack.signup_status(&tenant.signup_id).await;
    assert_eq!(status["state"], "active");

    stack
        .run_schedule("TrialSchedulerFunction", "2027-06-22T08:05:00Z")
        .await;
    let status = stack
        .wait_for_state(&tenant.signup_id, &["suspended"], Duration::from_secs(30))
        .await;
    assert!(status.is_ok(), "{status:?}");
    let suspended = stack
        .wait_for_email(&tenant.email, "suspended", Duration::from_secs(30))
        .await;
    assert!(suspended.is_ok(), "{suspended:?}");

    let audit = stack.audit(&tenant.tenant_id).await;
    assert_eq!(audit["chain_valid"], true);
    let actions = audit_actions(&audit);
    assert!(actions.iter().any(|a| a == "trial.expired"), "{actions:?}");
    assert!(
        actions.iter().any(|a| a == "trial.grace_ended"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn access_is_read_only_in_grace() {
    let stack = stack().await;
    let body = trial_body("grace", "UTC");
    let tenant = stack
        .active_tenant(&body, Some("2027-01-01T00:00:00Z"))
        .await
        .expect("tenant active");
    let token = stack.tenant_token(&tenant.tenant_id).await;
    let read = |at: &'static str| {
        let stack = &stack;
        let token = token.clone();
        let tenant_id = tenant.tenant_id.clone();
        async move {
            stack
                .client
                .get(stack.url(&format!("/v1/tenants/{tenant_id}/entitlements")))
                .bearer_auth(token)
                .header("x-local-time", at)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(read("2027-01-14T23:00:00Z").await["access_mode"], "full");
    let grace = read("2027-01-16T00:00:00Z").await;
    assert_eq!(grace["access_mode"], "read_only", "{grace}");
    assert!(
        grace["reason"].as_str().unwrap().contains("trial"),
        "{grace}"
    );
    let after_grace = read("2027-01-23T00:00:00Z").await;
    assert_eq!(after_grace["access_mode"], "blocked", "{after_grace}");
}

#[tokio::test]
async fn approved_extension_moves_the_trial_end() {
    let stack = stack().await;
    let body = trial_body("extend", "UTC");
    let tenant = stack
        .active_tenant(&body, Some("2027-04-01T00:00:00Z"))
        .await
        .expect("tenant active");
    let token = stack.tenant_token(&tenant.tenant_id).await;
    let invalid = stack
        .client
        .post(stack.url(&format!(
            "/v1/tenants/{}/trial-extensions",
            tenant.tenant_id
        )))
        .bearer_auth(&token)
        .json(&json!({ "days": 90, "reason": "pilot" }))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let requested: Value = stack
        .client
        .post(stack.url(&format!(
            "/v1/tenants/{}/trial-extensions",
            tenant.tenant_id
        )))
        .bearer_auth(&token)
        .json(&json!({ "days": 10, "reason": "security review takes longer" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(requested["status"], "requested", "{requested}");
    let extension_id = requested["extension_id"].as_str().unwrap();

    // A tenant admin cannot approve its own request.
    let self_approval = stack
        .client
        .post(stack.url(&format!(
            "/v1/admin/trial-extensions/{extension_id}/approve"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(self_approval.status(), 403);

    let admin = stack.admin_token().await;
    let approved: Value = stack
        .client
        .post(stack.url(&format!(
            "/v1/admin/trial-extensions/{extension_id}/approve"
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(approved["status"], "approved", "{approved}");
    assert!(
        approved["trial_ends_at"]
            .as_str()
            .unwrap()
            .starts_with("2027-04-25"),
        "{approved}"
    );

    let twice = stack
        .client
        .post(stack.url(&format!("/v1/admin/trial-extensions/{extension_id}/reject")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 409);

    // The old expiry no longer applies; the new one does.
    stack
        .run_schedule("TrialSchedulerFunction", "2027-04-15T00:05:00Z")
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        stack.entitlements(&tenant.tenant_id).await["access_mode"],
        "full"
    );
    let actions = audit_actions(&stack.audit(&tenant.tenant_id).await);
    assert!(
        actions.iter().any(|a| a == "trial.extension_approved"),
        "{actions:?}"
    );
    assert!(!actions.iter().any(|a| a == "trial.expired"), "{actions:?}");
}
