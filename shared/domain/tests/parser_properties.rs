//! Property tests of the parsers: valid input parses, control characters are always rejected,
//! and no input makes a parser panic.

use onboarding_domain::audit::{verify_chain, Actor, AuditRecord};
use onboarding_domain::ids::{MessageId, SignupId, TenantId};
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::signup::{
    codes, is_reserved_subdomain, CompanyName, DisposableDomains, EmailAddress, Plan, Residency,
    ServedRegions, SignupRequest, Subdomain, UseCase,
};
use onboarding_domain::token::{SecretToken, TokenHash};
use proptest::prelude::*;
use time::OffsetDateTime;

/// Subdomains that satisfy every syntax rule, before the reserved list is applied.
fn well_formed_subdomain() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{1,61}[a-z0-9]"
        .prop_filter("hyphens at the third and fourth position", |name| {
            name.get(2..4) != Some("--")
        })
}

/// Strings with at least one control character somewhere.
fn with_control_character() -> impl Strategy<Value = String> {
    let control = prop_oneof![
        (0u32..0x20).prop_map(|code| char::from_u32(code).unwrap()),
        (0x7fu32..0xa0).prop_map(|code| char::from_u32(code).unwrap()),
    ];
    (".{0,20}", control, ".{0,20}")
        .prop_map(|(before, control, after)| format!("{before}{control}{after}"))
}

const DOT_ATOM_TEXT: &str = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]";

fn valid_email() -> impl Strategy<Value = (String, String)> {
    let local = format!("{DOT_ATOM_TEXT}{{1,20}}(\\.{DOT_ATOM_TEXT}{{1,10}}){{0,2}}");
    let domain = "([a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?\\.){1,3}[a-zA-Z]{2,6}";
    let local =
        proptest::string::string_regex(&local).expect("the local part pattern is a valid regex");
    (local, domain)
}

proptest! {
    // Failing cases are printed with the seed, and are not written to a file next to the tests.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_subdomains_parse(name in well_formed_subdomain()) {
        let parsed = Subdomain::parse(&name);
        if is_reserved_subdomain(&name) {
            prop_assert_eq!(parsed.unwrap_err().code, codes::RESERVED);
        } else {
            let subdomain = parsed.unwrap();
            prop_assert_eq!(subdomain.as_str(), name.as_str());
        }
    }

    #[test]
    fn uppercase_subdomains_are_rejected(name in "[a-z0-9]{0,10}[A-Z][a-zA-Z0-9]{2,10}") {
        let error = Subdomain::parse(&name).unwrap_err();
        prop_assert_eq!(error.code, codes::INVALID);
        prop_assert!(error.message.contains("lowercase"));
    }

    #[test]
    fn control_characters_are_rejected_by_every_parser(value in with_control_character()) {
        let errors = [
            EmailAddress::parse(&value).unwrap_err(),
            Subdomain::parse(&value).unwrap_err(),
            CompanyName::parse(&value).unwrap_err(),
            Residency::parse(&value).unwrap_err(),
            UseCase::parse(&value).unwrap_err(),
            Plan::parse(&value).unwrap_err(),
        ];
        for error in errors {
            prop_assert_eq!(error.code, codes::INVALID, "{}: {}", error.field, error.message);
        }
        prop_assert!(Plan::for_signup(Some(&value), UseCase::Msp).is_err());
    }

    #[test]
    fn control_characters_in_a_request_reject_that_field(value in with_control_character(), field in 0usize..7) {
        let mut request = SignupRequest {
            email: Some("jane@example.com".to_owned()),
            company_name: Some("Acme".to_owned()),
            subdomain: Some("acme".to_owned()),
            region: Some("us".to_owned()),
            use_case: Some("itsm".to_owned()),
            plan: Some("basic".to_owned()),
            time_zone: Some("Europe/Berlin".to_owned()),
        };
        let slot = match field {
            0 => &mut request.email,
            1 => &mut request.company_name,
            2 => &mut request.subdomain,
            3 => &mut request.region,
            4 => &mut request.use_case,
            5 => &mut request.plan,
            _ => &mut request.time_zone,
        };
        *slot = Some(value);
        let errors = request
            .validate(&ServedRegions::all(), DisposableDomains::builtin())
            .unwrap_err();
        let names = ["email", "company_name", "subdomain", "region", "use_case", "plan", "time_zone"];
        prop_assert!(errors.0.iter().any(|error| error.field == names[field] && error.code == codes::INVALID));
    }

    #[test]
    fn parsers_never_panic(value in any::<String>()) {
        let _ = EmailAddress::parse(&value);
        let _ = Subdomain::parse(&value);
        let _ = CompanyName::parse(&value);
        let _ = Residency::parse(&value);
        let _ = UseCase::parse(&value);
        let _ = Plan::parse(&value);
        let _ = onboarding_domain::trial::TimeZone::parse(&value);
        let _ = Plan::for_signup(Some(&value), UseCase::Msp);
        let _ = ServedRegions::parse(&value);
        let _ = TenantId::parse(&value);
        let _ = SignupId::parse(&value);
        let _ = MessageId::parse(&value);
        let _ = TenantState::parse(&value);
        let _ = Actor::parse(&value);
        let _ = SecretToken::parse(&value);
        let _ = TokenHash::parse(&value);
    }

    #[test]
    fn id_parsers_never_panic_near_valid_ids(suffix in "[0-9a-zA-Z!]{0,30}") {
        let _ = TenantId::parse(&format!("tnt_{suffix}"));
    }

    #[test]
    fn emails_round_trip((local, domain) in valid_email()) {
        let raw = format!("{local}@{domain}");
        let email = EmailAddress::parse(&raw).unwrap();
        prop_assert_eq!(email.local_part(), local.as_str());
        prop_assert_eq!(email.domain(), domain.to_ascii_lowercase());
        prop_assert_eq!(EmailAddress::parse(email.as_str()).unwrap(), email.clone());
        let padded = format!("  {raw} ");
        prop_assert_eq!(EmailAddress::parse(&padded).unwrap(), email);
    }

    #[test]
    fn company_names_normalize_once(raw in "[\\p{L}\\p{Nd} .,&'()/+-]{0,120}") {
        if let Ok(name) = CompanyName::parse(&raw) {
            let again = CompanyName::parse(name.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), name.as_str());
            prop_assert!(!name.as_str().contains("  "));
            prop_assert!((2..=100).contains(&name.as_str().chars().count()));
        }
    }

    #[test]
    fn generated_ids_parse(_seed in any::<u8>()) {
        let id = TenantId::generate();
        prop_assert_eq!(TenantId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn audit_chains_detect_an_edit_anywhere(length in 1usize..12, edited in any::<prop::sample::Index>(), reason in ".{0,30}") {
        let tenant = TenantId::generate();
        let mut records: Vec<AuditRecord> = Vec::new();
        for index in 0..length {
            let record = AuditRecord::next(
                records.last(),
                tenant.clone(),
                OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(index as i64),
                Actor::system("provisioner"),
                "step.completed",
                format!("step {index}"),
                None,
                None,
            );
            records.push(record);
        }
        prop_assert!(verify_chain(&records).is_ok());

        let position = edited.index(length);
        prop_assume!(records[position].reason != reason);
        records[position].reason = reason;
        prop_assert_eq!(verify_chain(&records).unwrap_err().seq, position as u64 + 1);
    }
}
