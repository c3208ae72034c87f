//! The plan catalog: per plan the modules, limits, infrastructure, feature flags and the
//! Stripe price, versioned in `shared/domain/catalog/plans.v{N}.json`.
//!
//! # Adding a catalog version
//!
//! A published catalog file never changes, because tenants keep the catalog version they
//! bought (the tenant record stores `catalog_version`) and their entitlements are computed
//! from that version. To change a plan:
//!
//! 1. Copy the newest file to `plans.v{N+1}.json`, set `"version": N+1` and edit it. Give
//!    every changed plan a new `stripe_price_lookup_key` so that Stripe bills the new terms
//!    only to tenants who buy them.
//! 2. Add the file to [`CATALOG_FILES`]. The highest version becomes
//!    [`PlanCatalog::current`], which new signups and new purchases get.
//! 3. Run the unit tests, which parse every listed file and check it against the rules below.
//!
//! Every plan of a file lists its modules and a value for every [`Limit`]. Only
//! `api_requests_per_minute` may be left out, and it then defaults to
//! [`DEFAULT_API_REQUESTS_PER_MINUTE`]. The infrastructure matches [`Plan::allows_dedicated`],
//! the feature flag names are the same in every plan, and the Stripe price lookup key is not
//! empty. Unknown keys are rejected, so a misspelled limit fails
//! the tests instead of silently becoming a default.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::catalog::Module;
use crate::signup::Plan;

/// Requests per minute a plan gets when its catalog entry sets no `api_requests_per_minute`.
/// It equals the professional plan's value.
pub const DEFAULT_API_REQUESTS_PER_MINUTE: u64 = 1000;

/// Every catalog version, as `(version, file contents)`, oldest first.
pub const CATALOG_FILES: &[(u32, &str)] = &[(1, include_str!("../catalog/plans.v1.json"))];

/// A limit of a plan. Each is a maximum of what a tenant may have or use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Named technician seats.
    Technicians,
    /// Managed assets (devices, configuration items).
    Assets,
    /// Stored attachments and data, in gigabytes.
    StorageGb,
    /// Rate of API requests per minute. It is enforced per minute, so no usage is stored.
    ApiRequestsPerMinute,
    /// Connected third-party integrations.
    Integrations,
    /// AI workflow executions per calendar month.
    AiWorkflowExecutionsPerMonth,
    /// AI agent credits per calendar month.
    AiAgentCreditsPerMonth,
}

/// Error returned when a string names no limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown limit '{0}'; expected technicians, assets, storage_gb, api_requests_per_minute, integrations, ai_workflow_executions_per_month or ai_agent_credits_per_month")]
pub struct UnknownLimit(pub String);

impl Limit {
    /// Every limit, in the order they are shown to people.
    pub const ALL: [Limit; 7] = [
        Limit::Technicians,
        Limit::Assets,
        Limit::StorageGb,
        Limit::ApiRequestsPerMinute,
        Limit::Integrations,
        Limit::AiWorkflowExecutionsPerMonth,
        Limit::AiAgentCreditsPerMonth,
    ];

    /// Returns the snake_case name used in the catalog, records and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Technicians => "technicians",
            Limit::Assets => "assets",
            Limit::StorageGb => "storage_gb",
            Limit::ApiRequestsPerMinute => "api_requests_per_minute",
            Limit::Integrations => "integrations",
            Limit::AiWorkflowExecutionsPerMonth => "ai_workflow_executions_per_month",
            Limit::AiAgentCreditsPerMonth => "ai_agent_credits_per_month",
        }
    }

    /// Parses a snake_case limit name.
    pub fn parse(value: &str) -> Result<Self, UnknownLimit> {
        Self::ALL
            .into_iter()
            .find(|limit| limit.as_str() == value)
            .ok_or_else(|| UnknownLimit(value.to_owned()))
    }

    /// Returns whether the limit is a rate enforced per request, which has no stored usage.
    pub fn is_rate(self) -> bool {
        self == Limit::ApiRequestsPerMinute
    }

    /// Returns whether the usage of this limit starts again at zero each calendar month.
    pub fn is_monthly(self) -> bool {
        matches!(
            self,
            Limit::AiWorkflowExecutionsPerMonth | Limit::AiAgentCreditsPerMonth
        )
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn default_api_requests_per_minute() -> u64 {
    DEFAULT_API_REQUESTS_PER_MINUTE
}

/// The maximum of every [`Limit`] for one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub technicians: u64,
    pub assets: u64,
    pub storage_gb: u64,
    #[serde(default = "default_api_requests_per_minute")]
    pub api_requests_per_minute: u64,
    pub integrations: u64,
    pub ai_workflow_executions_per_month: u64,
    pub ai_agent_credits_per_month: u64,
}

impl Limits {
    /// Returns the maximum of one limit.
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Technicians => self.technicians,
            Limit::Assets => self.assets,
            Limit::StorageGb => self.storage_gb,
            Limit::ApiRequestsPerMinute => self.api_requests_per_minute,
            Limit::Integrations => self.integrations,
            Limit::AiWorkflowExecutionsPerMonth => self.ai_workflow_executions_per_month,
            Limit::AiAgentCreditsPerMonth => self.ai_agent_credits_per_month,
        }
    }
}

/// Placement a plan allows for its tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Infrastructure {
    /// Only in a shared cell of the residency region.
    SharedOnly,
    /// In a dedicated cell and table once the tenant pays; trials still use a shared cell.
    DedicatedAllowed,
}

/// Contents of one plan in one catalog version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Enabled modules, in the order the product lists them.
    pub modules: Vec<Module>,
    pub limits: Limits,
    pub infrastructure: Infrastructure,
    /// Feature flags by name, such as `sso` or `audit_export`. Every plan of a version has
    /// the same names.
    pub features: BTreeMap<String, bool>,
    /// Lookup key of the Stripe price that bills this plan.
    pub stripe_price_lookup_key: String,
}

impl PlanSpec {
    /// Returns whether the feature flag is set. An unknown name counts as not set.
    pub fn has_feature(&self, name: &str) -> bool {
        self.features.get(name).copied().unwrap_or(false)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanSpecs {
    basic: PlanSpec,
    professional: PlanSpec,
    enterprise: PlanSpec,
    msp: PlanSpec,
}

/// One version of the plan catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanCatalog {
    /// Version number, equal to the `N` of the file name `plans.vN.json`.
    pub version: u32,
    plans: PlanSpecs,
}

/// Error of a catalog file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is not a valid catalog document.
    #[error("the plan catalog is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// The file breaks a rule of the catalog.
    #[error("the plan catalog version {version} is invalid: {message}")]
    Rule { version: u32, message: String },
}

impl PlanCatalog {
    /// Parses one catalog file and checks the rules listed in the module documentation.
    pub fn parse(text: &str) -> Result<PlanCatalog, CatalogError> {
        let catalog: PlanCatalog = serde_json::from_str(text)?;
        catalog.check_rules()?;
        Ok(catalog)
    }

    fn check_rules(&self) -> Result<(), CatalogError> {
        let rule = |message: String| CatalogError::Rule {
            version: self.version,
            message,
        };
        let first_features: Vec<&String> = self.plan(Plan::Basic).features.keys().collect();
        for plan in Plan::ALL {
            let spec = self.plan(plan);
            if spec.modules.is_empty() {
                return Err(rule(format!("plan {plan} has no modules")));
            }
            let dedicated = spec.infrastructure == Infrastructure::DedicatedAllowed;
            if dedicated != plan.allows_dedicated() {
                return Err(rule(format!(
                    "plan {plan} has infrastructure {:?}, which does not match whether the plan allows a dedicated cell",
                    spec.infrastructure
                )));
            }
            if spec.stripe_price_lookup_key.trim().is_empty() {
                return Err(rule(format!(
                    "plan {plan} has an empty stripe_price_lookup_key"
                )));
            }
            let features: Vec<&String> = spec.features.keys().collect();
            if features != first_features {
                return Err(rule(format!(
                    "plan {plan} has the feature flags {features:?}, but plan basic has {first_features:?}"
                )));
            }
        }
        Ok(())
    }

    /// Returns the newest catalog version, which new signups and purchases get.
    pub fn current() -> &'static PlanCatalog {
        let catalogs = catalogs();
        // `CATALOG_FILES` is not empty, and a unit test checks that.
        &catalogs[catalogs.len() - 1]
    }

    /// Returns one catalog version, or `None` when no such version exists.
    pub fn version(version: u32) -> Option<&'static PlanCatalog> {
        catalogs().iter().find(|catalog| catalog.version == version)
    }

    /// Returns every catalog version, oldest first.
    pub fn all() -> &'static [PlanCatalog] {
        catalogs()
    }

    /// Returns what a plan includes in this version.
    pub fn plan(&self, plan: Plan) -> &PlanSpec {
        match plan {
            Plan::Basic => &self.plans.basic,
            Plan::Professional => &self.plans.professional,
            Plan::Enterprise => &self.plans.enterprise,
            Plan::Msp => &self.plans.msp,
        }
    }

    /// Returns the plan billed by a Stripe price lookup key in this version.
    pub fn plan_for_lookup_key(&self, lookup_key: &str) -> Option<Plan> {
        Plan::ALL
            .into_iter()
            .find(|plan| self.plan(*plan).stripe_price_lookup_key == lookup_key)
    }
}

fn catalogs() -> &'static [PlanCatalog] {
    static CATALOGS: OnceLock<Vec<PlanCatalog>> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        CATALOG_FILES
            .iter()
            .map(|(version, text)| {
                // The files are compiled in, and a unit test parses each of them.
                PlanCatalog::parse(text).unwrap_or_else(|error| {
                    panic!("the built-in plan catalog version {version} is invalid: {error}")
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_file_parses_with_its_version() {
        assert!(!CATALOG_FILES.is_empty());
        for (version, text) in CATALOG_FILES {
            let catalog = PlanCatalog::parse(text).unwrap();
            assert_eq!(catalog.version, *version);
        }
    }

    #[test]
    fn catalog_versions_increase_from_one() {
        for (index, (version, _)) in CATALOG_FILES.iter().enumerate() {
            assert_eq!(*version as usize, index + 1);
        }
    }

    #[test]
    fn current_is_the_newest_version() {
        let newest = CATALOG_FILES.last().unwrap().0;
        assert_eq!(PlanCatalog::current().version, newest);
        assert_eq!(PlanCatalog::version(newest), Some(PlanCatalog::current()));
    }

    #[test]
    fn version_returns_none_for_an_unknown_version() {
        assert!(PlanCatalog::version(0).is_none());
        assert!(PlanCatalog::version(u32::MAX).is_none());
    }

    #[test]
    fn professional_allows_a_thousand_requests_per_minute() {
        let spec = PlanCatalog::version(1).unwrap().plan(Plan::Professional);
        assert_eq!(spec.limits.get(Limit::ApiRequestsPerMinute), 1000);
        assert_eq!(DEFAULT_API_REQUESTS_PER_MINUTE, 1000);
    }

    #[test]
    fn missing_request_rate_defaults_to_a_thousand() {
        let limits: Limits = serde_json::from_str(
            r#"{"technicians": 1, "assets": 2, "storage_gb": 3, "integrations": 4,
                "ai_workflow_executions_per_month": 5, "ai_agent_credits_per_month": 6}"#,
        )
        .unwrap();
        assert_eq!(limits.get(Limit::ApiRequestsPerMinute), 1000);
        assert_eq!(limits.get(Limit::Technicians), 1);
        assert_eq!(limits.get(Limit::AiAgentCreditsPerMonth), 6);
    }

    #[test]
    fn limits_reject_an_unknown_key() {
        let result = serde_json::from_str::<Limits>(
            r#"{"technicians": 1, "assets": 2, "storage_gb": 3, "integrations": 4,
                "ai_workflow_executions_per_month": 5, "ai_agent_credits_per_month": 6,
                "technicans": 7}"#,
        );
        assert!(result.is_err());
    }

    #[test]
    fn every_limit_is_positive_in_every_version() {
        for catalog in PlanCatalog::all() {
            for plan in Plan::ALL {
                for limit in Limit::ALL {
                    let max = catalog.plan(plan).limits.get(limit);
                    assert!(max > 0, "v{} {plan} {limit}", catalog.version);
                }
            }
        }
    }

    #[test]
    fn limits_grow_from_basic_to_professional_to_enterprise() {
        for catalog in PlanCatalog::all() {
            for limit in Limit::ALL {
                let basic = catalog.plan(Plan::Basic).limits.get(limit);
                let professional = catalog.plan(Plan::Professional).limits.get(limit);
                let enterprise = catalog.plan(Plan::Enterprise).limits.get(limit);
                assert!(basic <= professional, "v{} {limit}", catalog.version);
                assert!(professional <= enterprise, "v{} {limit}", catalog.version);
            }
        }
    }

    #[test]
    fn infrastructure_matches_dedicated_cell_rule() {
        for catalog in PlanCatalog::all() {
            for plan in Plan::ALL {
                let dedicated =
                    catalog.plan(plan).infrastructure == Infrastructure::DedicatedAllowed;
                assert_eq!(dedicated, plan.allows_dedicated(), "{plan}");
            }
        }
    }

    #[test]
    fn lookup_keys_map_back_to_plans() {
        for catalog in PlanCatalog::all() {
            for plan in Plan::ALL {
                let key = &catalog.plan(plan).stripe_price_lookup_key;
                assert_eq!(catalog.plan_for_lookup_key(key), Some(plan), "{key}");
            }
            assert_eq!(catalog.plan_for_lookup_key("unknown_price"), None);
        }
    }

    #[test]
    fn plans_share_the_same_feature_flags() {
        let catalog = PlanCatalog::current();
        for flag in [
            "sso",
            "audit_export",
            "custom_domain",
            "sandbox",
            "priority_support",
        ] {
            for plan in Plan::ALL {
                assert!(
                    catalog.plan(plan).features.contains_key(flag),
                    "{plan} {flag}"
                );
            }
        }
        assert!(catalog.plan(Plan::Enterprise).has_feature("sso"));
        assert!(!catalog.plan(Plan::Basic).has_feature("sso"));
        assert!(!catalog.plan(Plan::Basic).has_feature("no_such_flag"));
    }

    #[test]
    fn parse_rejects_mismatched_infrastructure() {
        let text = CATALOG_FILES[0]
            .1
            .replacen("shared_only", "dedicated_allowed", 1);
        let error = PlanCatalog::parse(&text).unwrap_err();
        assert!(
            matches!(error, CatalogError::Rule { version: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn parse_rejects_a_missing_plan() {
        let mut document: serde_json::Value = serde_json::from_str(CATALOG_FILES[0].1).unwrap();
        document["plans"].as_object_mut().unwrap().remove("msp");
        let error = PlanCatalog::parse(&document.to_string()).unwrap_err();
        assert!(matches!(error, CatalogError::Json(_)), "{error}");
    }

    #[test]
    fn limit_round_trips_through_its_name() {
        for limit in Limit::ALL {
            assert_eq!(Limit::parse(limit.as_str()), Ok(limit));
            let json = serde_json::to_string(&limit).unwrap();
            assert_eq!(json, format!("\"{}\"", limit.as_str()));
        }
        assert_eq!(Limit::parse("seats"), Err(UnknownLimit("seats".to_owned())));
    }

    #[test]
    fn only_request_rate_is_a_rate() {
        let rates: Vec<Limit> = Limit::ALL.into_iter().filter(|l| l.is_rate()).collect();
        assert_eq!(rates, vec![Limit::ApiRequestsPerMinute]);
    }
}
