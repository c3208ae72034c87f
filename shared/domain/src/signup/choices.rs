//! Closed choices of a signup: data residency, use case and plan.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{codes, required_trimmed, FieldError};

fn unsupported(field: &str, value: &str, choices: &[&str]) -> FieldError {
    FieldError::new(
        field,
        codes::UNSUPPORTED,
        format!(
            "{field} '{value}' is not supported; choose one of {}",
            choices.join(", ")
        ),
    )
}

/// Data residency: the geography that stores a tenant's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Residency {
    Us,
    Eu,
    Apac,
}

impl Residency {
    /// Every residency, in the order they are listed to people.
    pub const ALL: [Residency; 3] = [Residency::Us, Residency::Eu, Residency::Apac];

    /// Parses `us`, `eu` or `apac`. The request field is called `region`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = required_trimmed("region", raw)?;
        Self::ALL
            .into_iter()
            .find(|residency| residency.as_str() == value)
            .ok_or_else(|| unsupported("region", value, &Self::ALL.map(Self::as_str)))
    }

    /// Returns the code used in requests and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Residency::Us => "us",
            Residency::Eu => "eu",
            Residency::Apac => "apac",
        }
    }

    /// Returns the AWS region that stores the data of this residency.
    pub fn aws_region(self) -> &'static str {
        match self {
            Residency::Us => "us-east-1",
            Residency::Eu => "eu-central-1",
            Residency::Apac => "ap-southeast-2",
        }
    }
}

impl fmt::Display for Residency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error in the list of regions a deployment serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServedRegionsError {
    /// The list names no region.
    #[error("the list of served regions is empty; set it to a comma-separated list such as 'us,eu,apac'")]
    Empty,
    /// The list names a region that does not exist.
    #[error("unknown served region '{0}'; use us, eu or apac")]
    Unknown(String),
}

/// Residencies this deployment accepts signups for, in configured order without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRegions(Vec<Residency>);

impl ServedRegions {
    /// Parses a comma-separated list such as `us,eu,apac`. Spaces around names are ignored.
    pub fn parse(list: &str) -> Result<Self, ServedRegionsError> {
        let mut regions = Vec::new();
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let residency = Residency::ALL
                .into_iter()
                .find(|residency| residency.as_str() == name)
                .ok_or_else(|| ServedRegionsError::Unknown(name.to_owned()))?;
            if !regions.contains(&residency) {
                regions.push(residency);
            }
        }
        if regions.is_empty() {
            return Err(ServedRegionsError::Empty);
        }
        Ok(ServedRegions(regions))
    }

    /// Returns a list of every residency.
    pub fn all() -> Self {
        ServedRegions(Residency::ALL.to_vec())
    }

    /// Returns whether signups for this residency are accepted.
    pub fn contains(&self, residency: Residency) -> bool {
        self.0.contains(&residency)
    }

    /// Returns the served residencies in configured order.
    pub fn as_slice(&self) -> &[Residency] {
        &self.0
    }
}

impl fmt::Display for ServedRegions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|residency| residency.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

/// Main use of the product by a tenant. It selects the configuration template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseCase {
    /// IT service management: tickets, requests, changes.
    Itsm,
    /// IT operations management: assets, monitoring, events.
    Itom,
    /// Service and operations management together.
    FullSuite,
    /// A managed service provider serving its own clients.
    Msp,
}

impl UseCase {
    /// Every use case.
    pub const ALL: [UseCase; 4] = [
        UseCase::Itsm,
        UseCase::Itom,
        UseCase::FullSuite,
        UseCase::Msp,
    ];

    /// Parses `itsm`, `itom`, `full_suite` or `msp`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = required_trimmed("use_case", raw)?;
        Self::ALL
            .into_iter()
            .find(|use_case| use_case.as_str() == value)
            .ok_or_else(|| unsupported("use_case", value, &Self::ALL.map(Self::as_str)))
    }

    /// Returns the code used in requests, records and template file names.
    pub fn as_str(self) -> &'static str {
        match self {
            UseCase::Itsm => "itsm",
            UseCase::Itom => "itom",
            UseCase::FullSuite => "full_suite",
            UseCase::Msp => "msp",
        }
    }
}

impl fmt::Display for UseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscription plan. It decides the enabled modules and whether a dedicated cell is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Basic,
    Professional,
    Enterprise,
    Msp,
}

impl Plan {
    /// Every plan.
    pub const ALL: [Plan; 4] = [Plan::Basic, Plan::Professional, Plan::Enterprise, Plan::Msp];

    /// Parses `basic`, `professional`, `enterprise` or `msp`, without the signup rules of
    /// [`Plan::for_signup`].
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = required_trimmed("plan", raw)?;
        Self::ALL
            .into_iter()
            .find(|plan| plan.as_str() == value)
            .ok_or_else(|| unsupported("plan", value, &Self::ALL.map(Self::as_str)))
    }

    /// Returns the code used in requests and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Basic => "basic",
            Plan::Professional => "professional",
            Plan::Enterprise => "enterprise",
            Plan::Msp => "msp",
        }
    }

    /// Returns whether a paying tenant of this plan gets a dedicated cell.
    pub fn allows_dedicated(self) -> bool {
        matches!(self, Plan::Enterprise | Plan::Msp)
    }

    /// Returns the plans anyone can pick at signup. The msp plan comes only with the msp use case.
    pub fn self_service_choices() -> &'static [Plan] {
        &[Plan::Basic, Plan::Professional, Plan::Enterprise]
    }

    /// Decides the plan of a self-service signup from the requested plan and the use case.
    ///
    /// - Without a requested plan, the msp use case gets the msp plan, and any other use case
    ///   gets professional.
    /// - A requested plan must be one of [`Plan::self_service_choices`], or `msp` when the use
    ///   case is msp. Otherwise the error has the code `unsupported` and lists the allowed plans.
    pub fn for_signup(requested: Option<&str>, use_case: UseCase) -> Result<Plan, FieldError> {
        let requested =
            requested.filter(|raw| !raw.trim().is_empty() || raw.chars().any(char::is_control));
        let Some(raw) = requested else {
            return match use_case {
                UseCase::Msp => Ok(Plan::Msp),
                _ => Ok(Plan::Professional),
            };
        };

        let mut allowed: Vec<&str> = Self::self_service_choices()
            .iter()
            .map(|plan| plan.as_str())
            .collect();
        if use_case == UseCase::Msp {
            allowed.push(Plan::Msp.as_str());
        }
        let plan = Self::parse(raw)?;
        if plan == Plan::Msp && use_case != UseCase::Msp {
            return Err(FieldError::new(
                "plan",
                codes::UNSUPPORTED,
                format!(
                    "plan 'msp' is only available with use_case 'msp'; choose one of {} or set use_case to msp",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(plan)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residency_maps_to_its_aws_region() {
        assert_eq!(Residency::parse("us").unwrap().aws_region(), "us-east-1");
        assert_eq!(Residency::parse("eu").unwrap().aws_region(), "eu-central-1");
        assert_eq!(
            Residency::parse("apac").unwrap().aws_region(),
            "ap-southeast-2"
        );
    }

    #[test]
    fn residency_rejects_an_unknown_code() {
        let error = Residency::parse("mars").unwrap_err();
        assert_eq!(error.field, "region");
        assert_eq!(error.code, codes::UNSUPPORTED);
        assert!(error.message.contains("us, eu, apac"), "{}", error.message);
    }

    #[test]
    fn served_regions_parse_a_comma_list() {
        let served = ServedRegions::parse(" eu, us ,eu").unwrap();
        assert_eq!(served.as_slice(), &[Residency::Eu, Residency::Us]);
        assert!(served.contains(Residency::Us));
        assert!(!served.contains(Residency::Apac));
        assert_eq!(served.to_string(), "eu,us");
    }

    #[test]
    fn served_regions_reject_an_empty_or_unknown_list() {
        assert_eq!(ServedRegions::parse(" , "), Err(ServedRegionsError::Empty));
        assert_eq!(
            ServedRegions::parse("us,mars"),
            Err(ServedRegionsError::Unknown("mars".to_owned()))
        );
    }

    #[test]
    fn use_case_round_trips_through_its_code() {
        for use_case in UseCase::ALL {
            assert_eq!(UseCase::parse(use_case.as_str()), Ok(use_case));
            let json = serde_json::to_string(&use_case).unwrap();
            assert_eq!(json, format!("\"{}\"", use_case.as_str()));
        }
    }

    #[test]
    fn plan_round_trips_through_its_code() {
        for plan in Plan::ALL {
            assert_eq!(Plan::parse(plan.as_str()), Ok(plan));
            let json = serde_json::to_string(&plan).unwrap();
            assert_eq!(json, format!("\"{}\"", plan.as_str()));
        }
    }

    #[test]
    fn only_enterprise_and_msp_allow_dedicated_cells() {
        assert!(!Plan::Basic.allows_dedicated());
        assert!(!Plan::Professional.allows_dedicated());
        assert!(Plan::Enterprise.allows_dedicated());
        assert!(Plan::Msp.allows_dedicated());
    }

    #[test]
    fn msp_is_not_a_self_service_choice() {
        assert!(!Plan::self_service_choices().contains(&Plan::Msp));
        assert_eq!(Plan::self_service_choices().len(), 3);
    }

    #[test]
    fn signup_plan_defaults_to_msp() {
        assert_eq!(Plan::for_signup(None, UseCase::Msp), Ok(Plan::Msp));
        assert_eq!(Plan::for_signup(Some(" "), UseCase::Msp), Ok(Plan::Msp));
    }

    #[test]
    fn signup_plan_defaults_to_professional_for_other_use_cases() {
        assert_eq!(
            Plan::for_signup(None, UseCase::Itsm),
            Ok(Plan::Professional)
        );
        assert_eq!(
            Plan::for_signup(Some(""), UseCase::FullSuite),
            Ok(Plan::Professional)
        );
    }

    #[test]
    fn signup_plan_msp_requires_the_msp_use_case() {
        let error = Plan::for_signup(Some("msp"), UseCase::FullSuite).unwrap_err();
        assert_eq!(error.code, codes::UNSUPPORTED);
        assert!(
            error.message.contains("basic, professional, enterprise"),
            "{}",
            error.message
        );
        assert_eq!(Plan::for_signup(Some("msp"), UseCase::Msp), Ok(Plan::Msp));
    }

    #[test]
    fn signup_plan_accepts_self_service_plans() {
        for use_case in UseCase::ALL {
            assert_eq!(
                Plan::for_signup(Some("enterprise"), use_case),
                Ok(Plan::Enterprise)
            );
        }
    }

    #[test]
    fn signup_plan_rejects_control_characters() {
        let error = Plan::for_signup(Some("\n"), UseCase::Msp).unwrap_err();
        assert_eq!(error.code, codes::INVALID);
    }
}
