//! Product modules, the modules each plan includes, and the configuration template of each
//! use case. The plan catalog itself lives in [`crate::plans`] and is re-exported here.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::signup::{Plan, UseCase};

pub use crate::plans::{
    CatalogError, Infrastructure, Limit, Limits, PlanCatalog, PlanSpec, UnknownLimit,
    DEFAULT_API_REQUESTS_PER_MINUTE,
};

/// A product module a tenant can have enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Module {
    /// IT service management: incidents, requests, problems, changes.
    Itsm,
    /// IT operations management: assets, discovery, events.
    Itom,
    /// Endpoint management: patching and remote access.
    Endpoint,
    /// Security posture of endpoints.
    Security,
    /// Customer accounts and contacts.
    Crm,
}

impl Module {
    /// Every module, in the order the product lists them.
    pub const ALL: [Module; 5] = [
        Module::Itsm,
        Module::Itom,
        Module::Endpoint,
        Module::Security,
        Module::Crm,
    ];

    /// Returns the lowercase name used in records and templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Itsm => "itsm",
            Module::Itom => "itom",
            Module::Endpoint => "endpoint",
            Module::Security => "security",
            Module::Crm => "crm",
        }
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returns the modules a plan includes in the current catalog version.
///
/// A tenant keeps the catalog version it bought, so code that serves an existing tenant reads
/// `PlanCatalog::version(tenant_version)` instead.
pub fn modules_for_plan(plan: Plan) -> &'static [Module] {
    &PlanCatalog::current().plan(plan).modules
}

/// Default configuration applied to a new tenant of one use case.
///
/// `settings` is applied as a whole by the `ApplyConfigTemplate` step, so its shape belongs to
/// the workspace product and is not interpreted here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigTemplate {
    /// Name of the template, equal to the use case code.
    pub id: String,
    /// Version of the template. A changed template gets a new file with the next version, so a
    /// tenant's record of the applied `id` and `version` stays meaningful.
    pub version: u32,
    pub use_case: UseCase,
    /// Modules the use case needs. The plan may enable fewer, see [`enabled_modules`].
    pub modules: Vec<Module>,
    /// Ticket categories, priorities and SLA targets, approval rules, asset classes and
    /// dashboards, as applicable to the use case.
    pub settings: serde_json::Value,
}

const TEMPLATE_FILES: [(UseCase, &str); 4] = [
    (UseCase::Itsm, include_str!("../templates/itsm.v1.json")),
    (UseCase::Itom, include_str!("../templates/itom.v1.json")),
    (
        UseCase::FullSuite,
        include_str!("../templates/full_suite.v1.json"),
    ),
    (UseCase::Msp, include_str!("../templates/msp.v1.json")),
];

fn templates() -> &'static [ConfigTemplate; 4] {
    static TEMPLATES: OnceLock<[ConfigTemplate; 4]> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        TEMPLATE_FILES.map(|(use_case, text)| {
            // The files are compiled in, and a unit test parses each of them.
            serde_json::from_str(text).unwrap_or_else(|error| {
                panic!("the built-in {use_case} template is invalid: {error}")
            })
        })
    })
}

impl ConfigTemplate {
    /// Returns the current template of a use case.
    pub fn for_use_case(use_case: UseCase) -> &'static ConfigTemplate {
        let index = match use_case {
            UseCase::Itsm => 0,
            UseCase::Itom => 1,
            UseCase::FullSuite => 2,
            UseCase::Msp => 3,
        };
        &templates()[index]
    }
}

/// Returns the template's modules that the plan includes, in template order.
///
/// NOTE: the result can be empty, for example for the itom template on the basic plan,
/// because signup validation does not check that the plan includes the use case's modules.
pub fn enabled_modules(plan: Plan, template: &ConfigTemplate) -> Vec<Module> {
    let included = modules_for_plan(plan);
    template
        .modules
        .iter()
        .copied()
        .filter(|module| included.contains(module))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_parses() {
        for (use_case, text) in TEMPLATE_FILES {
            let template: ConfigTemplate = serde_json::from_str(text).unwrap();
            assert_eq!(template.use_case, use_case);
            assert_eq!(template.id, use_case.as_str());
            assert_eq!(template.version, 1);
            assert!(!template.modules.is_empty(), "{use_case}");
            assert!(template.settings.is_object(), "{use_case}");
        }
    }

    #[test]
    fn for_use_case_returns_the_matching_template() {
        for use_case in UseCase::ALL {
            assert_eq!(ConfigTemplate::for_use_case(use_case).use_case, use_case);
        }
    }

    #[test]
    fn service_templates_define_priorities_with_sla_targets() {
        for use_case in [UseCase::Itsm, UseCase::FullSuite, UseCase::Msp] {
            let settings = &ConfigTemplate::for_use_case(use_case).settings;
            let priorities = settings["priorities"].as_array().unwrap();
            assert_eq!(priorities.len(), 4, "{use_case}");
            for priority in priorities {
                assert!(
                    priority["response_minutes"].as_u64().is_some(),
                    "{use_case}"
                );
                assert!(
                    priority["resolution_minutes"].as_u64().is_some(),
                    "{use_case}"
                );
            }
            assert!(settings["ticket_categories"].is_array(), "{use_case}");
            assert!(settings["approval_rules"].is_array(), "{use_case}");
        }
    }

    #[test]
    fn operations_templates_define_asset_classes() {
        for use_case in [UseCase::Itom, UseCase::FullSuite, UseCase::Msp] {
            let settings = &ConfigTemplate::for_use_case(use_case).settings;
            assert!(
                !settings["asset_classes"].as_array().unwrap().is_empty(),
                "{use_case}"
            );
        }
    }

    #[test]
    fn every_template_has_dashboards() {
        for use_case in UseCase::ALL {
            let settings = &ConfigTemplate::for_use_case(use_case).settings;
            assert!(
                !settings["dashboards"].as_array().unwrap().is_empty(),
                "{use_case}"
            );
        }
    }

    #[test]
    fn plans_include_the_documented_modules() {
        assert_eq!(modules_for_plan(Plan::Basic), &[Module::Itsm]);
        assert_eq!(
            modules_for_plan(Plan::Professional),
            &[Module::Itsm, Module::Itom]
        );
        assert_eq!(modules_for_plan(Plan::Enterprise).len(), 5);
        assert_eq!(
            modules_for_plan(Plan::Msp),
            &[
                Module::Itsm,
                Module::Itom,
                Module::Endpoint,
                Module::Security
            ]
        );
    }

    #[test]
    fn enabled_modules_are_limited_by_the_plan() {
        let full_suite = ConfigTemplate::for_use_case(UseCase::FullSuite);
        assert_eq!(enabled_modules(Plan::Basic, full_suite), vec![Module::Itsm]);
        assert_eq!(
            enabled_modules(Plan::Professional, full_suite),
            vec![Module::Itsm, Module::Itom]
        );
        assert_eq!(enabled_modules(Plan::Enterprise, full_suite).len(), 5);

        let itom = ConfigTemplate::for_use_case(UseCase::Itom);
        assert_eq!(enabled_modules(Plan::Basic, itom), Vec::<Module>::new());
    }

    #[test]
    fn module_serializes_in_lowercase() {
        assert_eq!(
            serde_json::to_string(&Module::Endpoint).unwrap(),
            "\"endpoint\""
        );
    }
}
