//! The signup request body and its validation as a whole.

use serde::{Deserialize, Serialize};

use super::choices::{Plan, Residency, ServedRegions, UseCase};
use super::company::CompanyName;
use super::disposable::DisposableDomains;
use super::email::EmailAddress;
use super::error::{codes, FieldError, ValidationErrors};
use super::subdomain::Subdomain;
use crate::trial::TimeZone;

/// The body of `POST /v1/signups` as received.
///
/// Every field is optional here so that a missing field becomes a `missing` field error next
/// to the other errors, rather than a failure of the whole body. Unknown fields are rejected,
/// so a misspelled field is not lost silently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: Option<String>,
    pub company_name: Option<String>,
    pub subdomain: Option<String>,
    pub region: Option<String>,
    pub use_case: Option<String>,
    pub plan: Option<String>,
    /// IANA time zone of the tenant, used for reminder times. Absent or blank means UTC.
    pub time_zone: Option<String>,
}

/// A signup whose every field passed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidSignup {
    pub email: EmailAddress,
    pub company_name: CompanyName,
    pub subdomain: Subdomain,
    pub residency: Residency,
    pub use_case: UseCase,
    pub plan: Plan,
    /// Records written before time zones existed have none, and read as UTC.
    #[serde(default)]
    pub time_zone: TimeZone,
}

fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, FieldError> {
    value.as_deref().ok_or_else(|| FieldError::missing(field))
}

impl SignupRequest {
    /// Validates every field and returns all field errors at once, in field order.
    ///
    /// Besides each field's own rules, the email domain must not be disposable, the region
    /// must be one this deployment serves, and the plan must fit the use case as
    /// [`Plan::for_signup`] describes. When the use case itself is invalid, only the form of
    /// the plan is checked. An absent or blank time zone becomes UTC.
    pub fn validate(
        &self,
        served: &ServedRegions,
        disposable: &DisposableDomains,
    ) -> Result<ValidSignup, ValidationErrors> {
        let mut errors = Vec::new();

        let email = required("email", &self.email)
            .and_then(EmailAddress::parse)
            .and_then(|email| reject_disposable(email, disposable));
        let company_name =
            required("company_name", &self.company_name).and_then(CompanyName::parse);
        let subdomain = required("subdomain", &self.subdomain).and_then(Subdomain::parse);
        let residency = required("region", &self.region)
            .and_then(Residency::parse)
            .and_then(|residency| reject_unserved(residency, served));
        let use_case = required("use_case", &self.use_case).and_then(UseCase::parse);
        let plan = match &use_case {
            Ok(use_case) => Plan::for_signup(self.plan.as_deref(), *use_case),
            Err(_) => match self.plan.as_deref() {
                Some(raw) if !raw.trim().is_empty() || raw.chars().any(char::is_control) => {
                    Plan::parse(raw)
                }
                // The default plan depends on the use case, which is invalid itself.
                _ => Ok(Plan::Basic),
            },
        };
        let time_zone = match self.time_zone.as_deref() {
            Some(raw) if !raw.trim().is_empty() || raw.chars().any(char::is_control) => {
                TimeZone::parse(raw)
            }
            _ => Ok(TimeZone::utc()),
        };

        let email = keep(email, &mut errors);
        let company_name = keep(company_name, &mut errors);
        let subdomain = keep(subdomain, &mut errors);
        let residency = keep(residency, &mut errors);
        let use_case = keep(use_case, &mut errors);
        let plan = keep(plan, &mut errors);
        let time_zone = keep(time_zone, &mut errors);

        match (
            email,
            company_name,
            subdomain,
            residency,
            use_case,
            plan,
            time_zone,
        ) {
            (
                Some(email),
                Some(company_name),
                Some(subdomain),
                Some(residency),
                Some(use_case),
                Some(plan),
                Some(time_zone),
            ) if errors.is_empty() => Ok(ValidSignup {
                email,
                company_name,
                subdomain,
                residency,
                use_case,
                plan,
                time_zone,
            }),
            _ => Err(ValidationErrors(errors)),
        }
    }
}

fn keep<T>(result: Result<T, FieldError>, errors: &mut Vec<FieldError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            errors.push(error);
            None
        }
    }
}

fn reject_disposable(
    email: EmailAddress,
    disposable: &DisposableDomains,
) -> Result<EmailAddress, FieldError> {
    if disposable.is_disposable(&email) {
        return Err(FieldError::new(
            "email",
            codes::DISPOSABLE,
            format!(
                "addresses at {} are temporary mailboxes; use your work email address",
                email.domain()
            ),
        ));
    }
    Ok(email)
}

fn reject_unserved(residency: Residency, served: &ServedRegions) -> Result<Residency, FieldError> {
    if served.contains(residency) {
        return Ok(residency);
    }
    let choices: Vec<&str> = served
        .as_slice()
        .iter()
        .map(|region| region.as_str())
        .collect();
    Err(FieldError::new(
        "region",
        codes::UNSUPPORTED,
        format!(
            "region '{residency}' is not available here; choose one of {}",
            choices.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_request() -> SignupRequest {
        SignupRequest {
            email: Some("Jane@Acme.example.com".to_owned()),
            company_name: Some("Acme  Widgets".to_owned()),
            subdomain: Some("acme".to_owned()),
            region: Some("eu".to_owned()),
            use_case: Some("itsm".to_owned()),
            plan: Some("professional".to_owned()),
            time_zone: Some("Europe/Berlin".to_owned()),
        }
    }

    fn validate(request: &SignupRequest) -> Result<ValidSignup, ValidationErrors> {
        request.validate(&ServedRegions::all(), DisposableDomains::builtin())
    }

    fn codes_by_field(errors: &ValidationErrors) -> Vec<(&str, &str)> {
        errors
            .0
            .iter()
            .map(|error| (error.field.as_str(), error.code))
            .collect()
    }

    #[test]
    fn accepts_a_valid_request_and_normalizes_it() {
        let signup = validate(&valid_request()).unwrap();
        assert_eq!(signup.email.as_str(), "Jane@acme.example.com");
        assert_eq!(signup.company_name.as_str(), "Acme Widgets");
        assert_eq!(signup.subdomain.as_str(), "acme");
        assert_eq!(signup.residency, Residency::Eu);
        assert_eq!(signup.use_case, UseCase::Itsm);
        assert_eq!(signup.plan, Plan::Professional);
        assert_eq!(signup.time_zone.as_str(), "Europe/Berlin");
    }

    #[test]
    fn time_zone_defaults_to_utc() {
        for time_zone in [None, Some(String::new()), Some("  ".to_owned())] {
            let request = SignupRequest {
                time_zone: time_zone.clone(),
                ..valid_request()
            };
            assert_eq!(
                validate(&request).unwrap().time_zone.as_str(),
                "UTC",
                "{time_zone:?}"
            );
        }
    }

    #[test]
    fn rejects_an_unknown_time_zone() {
        let request = SignupRequest {
            time_zone: Some("Berlin".to_owned()),
            ..valid_request()
        };
        let errors = validate(&request).unwrap_err();
        assert_eq!(codes_by_field(&errors), vec![("time_zone", "invalid")]);
        assert!(
            errors.0[0].message.contains("Europe/Berlin"),
            "{}",
            errors.0[0].message
        );
    }

    #[test]
    fn reports_every_missing_field() {
        let errors = validate(&SignupRequest::default()).unwrap_err();
        assert_eq!(
            codes_by_field(&errors),
            vec![
                ("email", "missing"),
                ("company_name", "missing"),
                ("subdomain", "missing"),
                ("region", "missing"),
                ("use_case", "missing"),
            ]
        );
    }

    #[test]
    fn collects_all_field_errors_at_once() {
        let request = SignupRequest {
            email: Some("jane@mailinator.com".to_owned()),
            company_name: Some("A".to_owned()),
            subdomain: Some("admin".to_owned()),
            region: Some("mars".to_owned()),
            use_case: Some("itsm".to_owned()),
            plan: Some("msp".to_owned()),
            time_zone: Some("Mars/Base".to_owned()),
        };
        let errors = validate(&request).unwrap_err();
        assert_eq!(
            codes_by_field(&errors),
            vec![
                ("email", "disposable"),
                ("company_name", "invalid"),
                ("subdomain", "reserved"),
                ("region", "unsupported"),
                ("plan", "unsupported"),
                ("time_zone", "invalid"),
            ]
        );
    }

    #[test]
    fn rejects_a_control_character_in_each_field() {
        type FieldSlot = fn(&mut SignupRequest) -> &mut Option<String>;
        let fields: [(&str, FieldSlot); 7] = [
            ("email", |r| &mut r.email),
            ("company_name", |r| &mut r.company_name),
            ("subdomain", |r| &mut r.subdomain),
            ("region", |r| &mut r.region),
            ("use_case", |r| &mut r.use_case),
            ("plan", |r| &mut r.plan),
            ("time_zone", |r| &mut r.time_zone),
        ];
        for (field, slot) in fields {
            for control in ['\r', '\n', '\0', '\u{1b}', '\u{85}'] {
                let mut request = valid_request();
                let value = slot(&mut request).take().unwrap();
                *slot(&mut request) = Some(format!("{value}{control}"));
                let errors = validate(&request).unwrap_err();
                assert_eq!(
                    codes_by_field(&errors),
                    vec![(field, "invalid")],
                    "{field} {control:?}"
                );
            }
        }
    }

    #[test]
    fn unserved_region_lists_served_ones() {
        let served = ServedRegions::parse("us,apac").unwrap();
        let errors = valid_request()
            .validate(&served, DisposableDomains::builtin())
            .unwrap_err();
        let error = &errors.0[0];
        assert_eq!(error.field, "region");
        assert_eq!(error.code, codes::UNSUPPORTED);
        assert!(error.message.contains("us, apac"), "{}", error.message);
    }

    #[test]
    fn msp_use_case_defaults_to_msp_plan() {
        let request = SignupRequest {
            use_case: Some("msp".to_owned()),
            plan: None,
            ..valid_request()
        };
        assert_eq!(validate(&request).unwrap().plan, Plan::Msp);
    }

    #[test]
    fn plan_defaults_to_professional_for_other_use_cases() {
        let request = SignupRequest {
            plan: None,
            ..valid_request()
        };
        assert_eq!(validate(&request).unwrap().plan, Plan::Professional);
    }

    #[test]
    fn invalid_use_case_hides_missing_plan() {
        let request = SignupRequest {
            use_case: Some("crm".to_owned()),
            plan: None,
            ..valid_request()
        };
        let errors = validate(&request).unwrap_err();
        assert_eq!(codes_by_field(&errors), vec![("use_case", "unsupported")]);
    }

    #[test]
    fn deserializes_with_missing_fields() {
        let request: SignupRequest =
            serde_json::from_str(r#"{"email": "jane@example.com", "plan": null}"#).unwrap();
        assert_eq!(request.email.as_deref(), Some("jane@example.com"));
        assert_eq!(request.plan, None);
        assert_eq!(request.subdomain, None);
    }

    #[test]
    fn rejects_unknown_fields_such_as_misspellings() {
        let error = serde_json::from_str::<SignupRequest>(
            r#"{"email": "jane@example.com", "timezone": "Europe/Berlin"}"#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("timezone"), "{error}");
    }
}
