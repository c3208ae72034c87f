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
    for function in ["signup-api", "verify-api", "admin-api"] {
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
        let request = lambda_http::request::from_str(&text).unwrap();
        if request.method() != "POST" || request.body().is_empty() {
            continue;
        }
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
    for function in ["watchdog", "outbox-relay"] {
        for (path, text) in events_in(function) {
            let event: Result<EventBridgeEvent, _> = serde_json::from_str(&text);
            assert!(event.is_ok(), "{}: {event:?}", path.display());
        }
    }
}
