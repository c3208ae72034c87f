//! The sample events in `events/` match the types the functions read, so they stay usable for
//! `sam local invoke` and for reading how each function is called.

use std::path::PathBuf;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use end_to_end_tests::repository_root;
use lambda_http::RequestExt;
use onboarding_app::records::EmailMessage;
use onboarding_app::usecases::provisioning::StepInput;
use onboarding_domain::provisioning::Step;
use onboarding_domain::signup::{DisposableDomains, ServedRegions, SignupRequest};

fn events_in(function: &str) -> Vec<(PathBuf, String)> {
    let directory = repository_root().join("events").join(function);
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no events in {}", directory.display());
    files
}

#[test]
fn http_events_parse_as_api_gateway_requests() {
    for function in [
        "signup-api",
        "verify-api",
        "admin-api",
        "tenant-api",
        "msp-api",
        "billing-webhook",
    ] {
        for (path, text) in events_in(function) {
            let request = lambda_http::request::from_str(&text)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            assert!(
                request.uri().path().starts_with("/v1/"),
                "{}",
                path.display()
            );
            assert!(
                request.request_context_ref().is_some(),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn signup_event_bodies_are_valid_signups() {
    for (path, text) in events_in("signup-api")
        .into_iter()
        .chain(events_in("admin-api"))
    {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name != "create-signup.json" && name != "create-tenant.json" {
            continue;
        }
        let request = lambda_http::request::from_str(&text).unwrap();
        let body: SignupRequest = serde_json::from_slice(request.body().as_ref())
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let validated = body.validate(&ServedRegions::all(), DisposableDomains::builtin());
        assert!(validated.is_ok(), "{}: {validated:?}", path.display());
    }
}

#[test]
fn notifier_event_carries_email_messages() {
    for (path, text) in events_in("notifier") {
        let event: SqsEvent = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert!(!event.records.is_empty(), "{}", path.display());
        for record in event.records {
            let body = record.body.unwrap();
            let message: Result<EmailMessage, _> = serde_json::from_str(&body);
            assert!(message.is_ok(), "{}: {message:?}", path.display());
        }
    }
}

#[test]
fn provisioner_events_name_known_steps() {
    for (path, text) in events_in("provisioner") {
        let input: StepInput = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let step = Step::parse(&input.step);
        assert!(step.is_ok(), "{}: {}", path.display(), input.step);
        assert!(input.tenant_id.starts_with("tnt_"), "{}", path.display());
    }
}

#[test]
fn schedule_events_parse_as_eventbridge_events() {
    for function in ["watchdog", "outbox-relay", "trial-scheduler"] {
        for (path, text) in events_in(function) {
            let event: Result<EventBridgeEvent, _> = serde_json::from_str(&text);
            assert!(event.is_ok(), "{}: {event:?}", path.display());
        }
    }
}

fn body_of(function: &str, file: &str) -> Vec<u8> {
    let (_, text) = events_in(function)
        .into_iter()
        .find(|(path, _)| path.ends_with(file))
        .unwrap_or_else(|| panic!("events/{function}/{file} is missing"));
    let request = lambda_http::request::from_str(&text).unwrap();
    request.body().as_ref().to_vec()
}

#[test]
fn tenant_and_msp_event_bodies_parse() {
    let usage =
        onboarding_domain::usage::UsageReport::parse(&body_of("tenant-api", "report-usage.json"));
    assert!(usage.is_ok(), "{usage:?}");
    let customer: Result<onboarding_app::usecases::msp::NewCustomer, _> =
        serde_json::from_slice(&body_of("msp-api", "create-customer.json"));
    assert!(customer.is_ok(), "{customer:?}");
    let allocation: Result<onboarding_app::usecases::msp::AllocationBody, _> =
        serde_json::from_slice(&body_of("msp-api", "set-allocation.json"));
    assert!(allocation.is_ok(), "{allocation:?}");
    let grant: Result<onboarding_app::usecases::msp::GrantBody, _> =
        serde_json::from_slice(&body_of("admin-api", "grant-licenses.json"));
    assert!(grant.is_ok(), "{grant:?}");
}

#[test]
fn webhook_event_carries_a_valid_signature() {
    let (_, text) = events_in("billing-webhook").into_iter().next().unwrap();
    let request = lambda_http::request::from_str(&text).unwrap();
    let signature = request.headers()["stripe-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    let timestamp: i64 = signature
        .split(',')
        .find_map(|part| part.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .expect("a t= element");
    let verified = onboarding_domain::stripe::verify_signature(
        &signature,
        request.body().as_ref(),
        &["whsec_sample_events_only"],
        timestamp,
        300,
    );
    assert!(verified.is_ok(), "{verified:?}");
}
