use proptest::prelude::*;
use serde_json::json;

use super::*;

const SECRET: &str = "whsec_test_current";
const OLD_SECRET: &str = "whsec_test_previous";
const NOW: i64 = 1_800_000_000;
const PAYLOAD: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

fn verify(header: &str, secrets: &[&str]) -> Result<(), SignatureError> {
    verify_signature(header, PAYLOAD, secrets, NOW, DEFAULT_TOLERANCE_SECONDS)
}

fn event(event_type: &str, object: Value) -> WebhookEvent {
    let body = json!({
        "id": "evt_1",
        "object": "event",
        "type": event_type,
        "created": NOW,
        "livemode": false,
        "api_version": "2025-03-31.basil",
        "data": {"object": object},
    });
    parse_event(body.to_string().as_bytes()).unwrap()
}

fn subscription_object() -> Value {
    json!({
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": "active",
        "trial_end": null,
        "cancel_at_period_end": false,
        "metadata": {"tenant_id": "tnt_1"},
        "items": {
            "object": "list",
            "data": [{
                "id": "si_1",
                "quantity": 3,
                "current_period_end": NOW + 86_400,
                "price": {"id": "price_1", "lookup_key": "professional_v1_monthly"}
            }]
        }
    })
}

#[test]
fn sign_matches_a_known_signature() {
    // Computed independently with
    // `printf '1800000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test_current`.
    let header = sign(br#"{"a":1}"#, SECRET, NOW);
    assert_eq!(
        header,
        "t=1800000000,v1=8ab7ea752c5b909cedb6d86aa83990d15826d2b70cec82335341619c70bf055b"
    );
}

#[test]
fn verify_accepts_a_signed_payload() {
    assert_eq!(verify(&sign(PAYLOAD, SECRET, NOW), &[SECRET]), Ok(()));
}

#[test]
fn verify_accepts_any_configured_secret() {
    let header = sign(PAYLOAD, OLD_SECRET, NOW);
    assert_eq!(verify(&header, &[SECRET, OLD_SECRET]), Ok(()));
}

#[test]
fn verify_accepts_any_v1_signature() {
    let signed = sign(PAYLOAD, SECRET, NOW);
    let signature = signed.split_once(",v1=").unwrap().1;
    let header = format!("t={NOW},v1={},v1={signature},v0=abc", "00".repeat(32));
    assert_eq!(verify(&header, &[SECRET]), Ok(()));
}

#[test]
fn verify_rejects_another_secret() {
    let header = sign(PAYLOAD, "whsec_other", NOW);
    assert_eq!(verify(&header, &[SECRET]), Err(SignatureError::Mismatch));
}

#[test]
fn verify_rejects_a_changed_payload() {
    let header = sign(PAYLOAD, SECRET, NOW);
    let result = verify_signature(
        &header,
        br#"{"id":"evt_2"}"#,
        &[SECRET],
        NOW,
        DEFAULT_TOLERANCE_SECONDS,
    );
    assert_eq!(result, Err(SignatureError::Mismatch));
}

#[test]
fn verify_rejects_a_changed_timestamp() {
    let header = sign(PAYLOAD, SECRET, NOW).replace("t=1800000000", "t=1800000001");
    assert_eq!(verify(&header, &[SECRET]), Err(SignatureError::Mismatch));
}

#[test]
fn verify_rejects_an_old_timestamp() {
    let header = sign(PAYLOAD, SECRET, NOW - 301);
    assert_eq!(
        verify(&header, &[SECRET]),
        Err(SignatureError::Stale { age_seconds: 301 })
    );
    assert_eq!(verify(&sign(PAYLOAD, SECRET, NOW - 300), &[SECRET]), Ok(()));
}

#[test]
fn verify_rejects_a_future_timestamp() {
    let header = sign(PAYLOAD, SECRET, NOW + 301);
    assert_eq!(
        verify(&header, &[SECRET]),
        Err(SignatureError::Stale { age_seconds: -301 })
    );
}

#[test]
fn verify_reports_mismatch_before_age() {
    let header = sign(PAYLOAD, "whsec_other", NOW - 10_000);
    assert_eq!(verify(&header, &[SECRET]), Err(SignatureError::Mismatch));
}

#[test]
fn verify_rejects_a_missing_header() {
    assert_eq!(verify("", &[SECRET]), Err(SignatureError::MissingHeader));
    assert_eq!(verify("  ", &[SECRET]), Err(SignatureError::MissingHeader));
}

#[test]
fn verify_rejects_malformed_headers() {
    for header in [
        "garbage",
        "v1=abcd",
        "t=soon,v1=abcd",
        "t=1,t=2,v1=abcd",
        "t=1800000000,,v1=abcd",
    ] {
        let result = verify(header, &[SECRET]);
        assert!(
            matches!(result, Err(SignatureError::Malformed { .. })),
            "{header}: {result:?}"
        );
    }
}

#[test]
fn verify_requires_a_v1_signature() {
    let header = format!("t={NOW},v0=abcd");
    assert_eq!(verify(&header, &[SECRET]), Err(SignatureError::NoSignature));
}

#[test]
fn verify_treats_non_hex_signature_as_missing() {
    let header = format!("t={NOW},v1=not-hex");
    assert_eq!(verify(&header, &[SECRET]), Err(SignatureError::NoSignature));
}

#[test]
fn verify_requires_a_secret() {
    let header = sign(PAYLOAD, SECRET, NOW);
    assert_eq!(verify(&header, &[]), Err(SignatureError::NoSecrets));
}

#[test]
fn verify_allows_spaces_around_elements() {
    let header = sign(PAYLOAD, SECRET, NOW).replace(',', " , ");
    assert_eq!(verify(&header, &[SECRET]), Ok(()));
}

#[test]
fn parse_event_reads_the_envelope() {
    let event = event("invoice.paid", json!({"id": "in_1"}));
    assert_eq!(event.id, "evt_1");
    assert_eq!(event.event_type, "invoice.paid");
    assert_eq!(event.created, NOW);
    assert!(!event.livemode);
    assert_eq!(event.data_object["id"], "in_1");
}

#[test]
fn parse_event_rejects_a_body_without_type() {
    let body = json!({"id": "evt_1", "created": NOW, "data": {"object": {}}});
    let error = parse_event(body.to_string().as_bytes()).unwrap_err();
    assert!(matches!(error, EventError::Envelope(_)), "{error}");
    assert!(parse_event(b"not json").is_err());
}

#[test]
fn unknown_event_type_is_not_handled() {
    let event = event("customer.created", json!({"id": "cus_1"}));
    assert!(HandledEvent::from_event(&event).unwrap().is_none());
}

#[test]
fn reads_a_completed_checkout_session() {
    let event = event(
        "checkout.session.completed",
        json!({
            "id": "cs_1",
            "object": "checkout.session",
            "customer": {"id": "cus_1", "object": "customer"},
            "subscription": "sub_1",
            "client_reference_id": "tnt_1",
            "metadata": {"tenant_id": "tnt_1", "plan": "professional", "count": 3},
            "mode": "subscription",
            "payment_status": "paid",
        }),
    );
    let Some(HandledEvent::CheckoutSessionCompleted(session)) =
        HandledEvent::from_event(&event).unwrap()
    else {
        panic!("not a checkout session");
    };
    assert_eq!(session.id, "cs_1");
    assert_eq!(session.customer.as_deref(), Some("cus_1"));
    assert_eq!(session.subscription.as_deref(), Some("sub_1"));
    assert_eq!(session.tenant_id(), Some("tnt_1"));
    assert_eq!(session.metadata["plan"], "professional");
    assert!(!session.metadata.contains_key("count"));
    assert_eq!(session.mode, "subscription");
}

#[test]
fn checkout_session_tolerates_null_fields() {
    let event = event(
        "checkout.session.completed",
        json!({"id": "cs_1", "customer": null, "metadata": null, "client_reference_id": null}),
    );
    let Some(HandledEvent::CheckoutSessionCompleted(session)) =
        HandledEvent::from_event(&event).unwrap()
    else {
        panic!("not a checkout session");
    };
    assert_eq!(session.customer, None);
    assert!(session.metadata.is_empty());
    assert_eq!(session.tenant_id(), None);
}

#[test]
fn reads_each_subscription_event() {
    let expected = [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
    ];
    for event_type in expected {
        let handled = HandledEvent::from_event(&event(event_type, subscription_object()))
            .unwrap()
            .unwrap();
        assert_eq!(handled.event_type(), event_type);
        let subscription = match handled {
            HandledEvent::SubscriptionCreated(subscription)
            | HandledEvent::SubscriptionUpdated(subscription)
            | HandledEvent::SubscriptionDeleted(subscription)
            | HandledEvent::SubscriptionTrialWillEnd(subscription) => subscription,
            other => panic!("{event_type} read as {other:?}"),
        };
        assert_eq!(subscription.id, "sub_1");
        assert_eq!(subscription.customer.as_deref(), Some("cus_1"));
        assert_eq!(subscription.status, SubscriptionStatus::Active);
        assert_eq!(
            subscription.plan_lookup_key.as_deref(),
            Some("professional_v1_monthly")
        );
        assert_eq!(subscription.quantity, Some(3));
        assert_eq!(subscription.current_period_end, Some(NOW + 86_400));
        assert_eq!(subscription.trial_end, None);
        assert_eq!(subscription.tenant_id(), Some("tnt_1"));
    }
}

#[test]
fn subscription_reads_the_older_period_end_field() {
    let mut object = subscription_object();
    object["current_period_end"] = json!(NOW + 5);
    object["items"]["data"][0]
        .as_object_mut()
        .unwrap()
        .remove("current_period_end");
    let event = event("customer.subscription.updated", object);
    let Some(HandledEvent::SubscriptionUpdated(subscription)) =
        HandledEvent::from_event(&event).unwrap()
    else {
        panic!("not a subscription update");
    };
    assert_eq!(subscription.current_period_end, Some(NOW + 5));
}

#[test]
fn subscription_keeps_an_unknown_status() {
    let mut object = subscription_object();
    object["status"] = json!("on_hold");
    object["items"] = json!({"data": []});
    let event = event("customer.subscription.updated", object);
    let Some(HandledEvent::SubscriptionUpdated(subscription)) =
        HandledEvent::from_event(&event).unwrap()
    else {
        panic!("not a subscription update");
    };
    assert_eq!(
        subscription.status,
        SubscriptionStatus::Other("on_hold".to_owned())
    );
    assert_eq!(subscription.plan_lookup_key, None);
}

#[test]
fn subscription_without_status_is_an_error() {
    let mut object = subscription_object();
    object.as_object_mut().unwrap().remove("status");
    let error =
        HandledEvent::from_event(&event("customer.subscription.updated", object)).unwrap_err();
    assert!(
        matches!(&error, EventError::Object { event_type, .. } if event_type == "customer.subscription.updated"),
        "{error}"
    );
}

#[test]
fn reads_a_paid_invoice() {
    let event = event(
        "invoice.paid",
        json!({
            "id": "in_1",
            "customer": "cus_1",
            "subscription": "sub_1",
            "status": "paid",
            "attempt_count": 1,
            "amount_paid": 4900,
        }),
    );
    let Some(HandledEvent::InvoicePaid(invoice)) = HandledEvent::from_event(&event).unwrap() else {
        panic!("not an invoice");
    };
    assert_eq!(
        invoice,
        Invoice {
            id: "in_1".to_owned(),
            customer: Some("cus_1".to_owned()),
            subscription: Some("sub_1".to_owned()),
            status: Some("paid".to_owned()),
            attempt_count: 1,
        }
    );
}

#[test]
fn invoice_reads_the_subscription_from_its_parent() {
    let event = event(
        "invoice.payment_failed",
        json!({
            "id": "in_2",
            "customer": "cus_1",
            "status": "open",
            "attempt_count": 2,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": "sub_9", "metadata": {}}
            },
        }),
    );
    let Some(HandledEvent::InvoicePaymentFailed(invoice)) =
        HandledEvent::from_event(&event).unwrap()
    else {
        panic!("not an invoice");
    };
    assert_eq!(invoice.subscription.as_deref(), Some("sub_9"));
    assert_eq!(invoice.attempt_count, 2);
}

#[test]
fn invoice_without_id_is_an_error() {
    let event = event("invoice.paid", json!({"customer": "cus_1"}));
    assert!(HandledEvent::from_event(&event).is_err());
}

#[test]
fn handled_types_are_all_read() {
    for event_type in HANDLED_EVENT_TYPES {
        let object = if event_type.starts_with("customer.subscription") {
            subscription_object()
        } else {
            json!({"id": "obj_1"})
        };
        let handled = HandledEvent::from_event(&event(event_type, object)).unwrap();
        assert_eq!(handled.unwrap().event_type(), event_type);
    }
}

proptest! {
    #[test]
    fn verify_never_panics(header in ".{0,120}", payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = verify_signature(&header, &payload, &[SECRET], NOW, DEFAULT_TOLERANCE_SECONDS);
    }

    #[test]
    fn signed_payloads_verify(payload in proptest::collection::vec(any::<u8>(), 0..256), at in -1_000_000i64..4_000_000_000) {
        let header = sign(&payload, SECRET, at);
        prop_assert_eq!(verify_signature(&header, &payload, &[SECRET], at, 0), Ok(()));
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic(at in any::<i64>()) {
        let header = sign(PAYLOAD, SECRET, at);
        let result = verify_signature(&header, PAYLOAD, &[SECRET], NOW, DEFAULT_TOLERANCE_SECONDS);
        let age = NOW.saturating_sub(at);
        if age.saturating_abs() > DEFAULT_TOLERANCE_SECONDS {
            prop_assert_eq!(result, Err(SignatureError::Stale { age_seconds: age }));
        } else {
            prop_assert_eq!(result, Ok(()));
        }
    }
}
