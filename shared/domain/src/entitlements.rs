//! Entitlements: what a tenant may do right now, derived from its state, trial, subscription,
//! downgrade and usage.
//!
//! # Access mode
//!
//! The first matching rule decides the tenant's [`AccessMode`]:
//!
//! 1. `pending`, `provisioning` and `deactivated` tenants are blocked.
//! 2. A `suspended` tenant is read-only, or blocked once its data is archived.
//! 3. A tenant on trial whose subscription is not trialing, active or past_due:
//!    - after `trial_ends_at` and before `grace_ends_at` is read-only;
//!    - from `grace_ends_at` on is blocked. Without a stored `grace_ends_at`, the grace
//!      period ends [`GRACE_DAYS`] days after `trial_ends_at`.
//! 4. A subscription that is unpaid, canceled or paused makes the tenant read-only. The
//!    webhook and the scheduler also suspend such a tenant, and this rule covers the time in
//!    between.
//! 5. Otherwise the tenant has full access. The reason warns about the payment when the
//!    subscription is past_due or incomplete, and names the end of a running trial.
//!
//! # Modules
//!
//! Every [`Module`] is listed. The modules of the plan are enabled. A module that a downgrade
//! removed is read-only until the downgrade's `read_only_until` and blocked afterwards. Any
//! other module is blocked because the plan does not include it. For a read-only tenant the
//! enabled modules are read-only, and for a blocked tenant every module is blocked.
//!
//! # Limits
//!
//! Every [`Limit`] is listed with the plan's maximum. The state is `warning` from 80 % of the
//! maximum and `exceeded` from 100 %. At or above 100 % the limit is `blocked`, which stops
//! only growth of that usage, such as adding a technician, and leaves the access mode alone.
//! `api_requests_per_minute` is a rate enforced per minute, so it has no `used` value and is
//! never blocked here. Monthly counters from an earlier period than `now` count as zero.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

pub use crate::billing::SubscriptionStatus;
use crate::catalog::Module;
use crate::lifecycle::TenantState;
use crate::plans::{Limit, PlanCatalog, PlanSpec};
use crate::signup::Plan;
use crate::trial::GRACE_DAYS;
use crate::usage::{period_of, Threshold, Usage};

/// How far a tenant may use its workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessMode {
    /// Read and write.
    Full,
    /// Read and export, but no changes.
    ReadOnly,
    /// No access to the workspace.
    Blocked,
}

impl AccessMode {
    /// Returns the snake_case name used in responses and records.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::Full => "full",
            AccessMode::ReadOnly => "read_only",
            AccessMode::Blocked => "blocked",
        }
    }
}

/// A downgrade whose removed modules stay readable for a while.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downgrade {
    pub from_plan: Plan,
    pub to_plan: Plan,
    /// Modules of `from_plan` that `to_plan` does not include.
    pub blocked_modules: Vec<Module>,
    /// End of the window in which the removed modules stay readable.
    #[serde(with = "time::serde::rfc3339")]
    pub read_only_until: OffsetDateTime,
}

/// Everything [`Entitlements::compute`] reads about a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitlementInput {
    pub plan: Plan,
    /// Catalog version the tenant bought. An unknown version falls back to the current one.
    pub catalog_version: u32,
    pub state: TenantState,
    pub on_trial: bool,
    pub trial_ends_at: Option<OffsetDateTime>,
    pub grace_ends_at: Option<OffsetDateTime>,
    pub subscription_status: Option<SubscriptionStatus>,
    pub downgrade: Option<Downgrade>,
    /// Whether the tenant's data was archived after the trial grace period ended.
    pub archived: bool,
    pub usage: Usage,
    pub now: OffsetDateTime,
}

/// Availability of one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleStatus {
    Enabled,
    ReadOnly,
    Blocked,
}

/// One module with its availability and, unless it is simply enabled, the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleEntitlement {
    pub module: Module,
    pub status: ModuleStatus,
    pub reason: Option<String>,
}

/// Usage state of one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitState {
    /// Below 80 % of the maximum.
    Ok,
    /// From 80 % up to below 100 %.
    Warning,
    /// At or above 100 %.
    Exceeded,
}

/// One limit with its maximum and current usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitEntitlement {
    pub limit: Limit,
    pub max: u64,
    /// Current usage, or `None` for the request rate, which has no stored usage.
    pub used: Option<u64>,
    /// `used` as a whole percentage of `max`, rounded down. It exceeds 100 when usage is
    /// above the limit.
    pub percent: Option<u64>,
    pub state: LimitState,
    /// Whether growth of this usage is stopped because it reached the maximum.
    pub blocked: bool,
}

/// The entitlements of a tenant, as returned by `GET /v1/tenants/{tenant_id}/entitlements`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlements {
    pub plan: Plan,
    /// Catalog version the modules, limits and features come from.
    pub catalog_version: u32,
    pub access_mode: AccessMode,
    /// One sentence for the Tenant Admin that explains the access mode.
    pub reason: String,
    pub modules: Vec<ModuleEntitlement>,
    pub limits: Vec<LimitEntitlement>,
    pub features: BTreeMap<String, bool>,
}

impl Entitlements {
    /// Computes the entitlements by the rules in the module documentation.
    pub fn compute(input: &EntitlementInput) -> Entitlements {
        // NOTE: a tenant record with a catalog version this build does not contain gets the
        // current catalog, and the response names the version actually used.
        let catalog =
            PlanCatalog::version(input.catalog_version).unwrap_or_else(|| PlanCatalog::current());
        let spec = catalog.plan(input.plan);
        let (access_mode, reason) = access(input);

        Entitlements {
            plan: input.plan,
            catalog_version: catalog.version,
            access_mode,
            modules: modules(input, spec, access_mode, &reason),
            limits: limits(input, spec),
            features: spec.features.clone(),
            reason,
        }
    }

    /// Returns whether the tenant may change data in a module.
    pub fn can_write(&self, module: Module) -> bool {
        self.modules
            .iter()
            .any(|entry| entry.module == module && entry.status == ModuleStatus::Enabled)
    }

    /// Returns the entitlement of one limit.
    pub fn limit(&self, limit: Limit) -> Option<&LimitEntitlement> {
        self.limits.iter().find(|entry| entry.limit == limit)
    }
}

/// Formats a moment for a reason text, such as `2027-03-14 09:00 UTC`.
fn display_time(moment: OffsetDateTime) -> String {
    let utc = moment.to_offset(time::UtcOffset::UTC);
    match utc.format(&Rfc3339) {
        // `2027-03-14T09:00:00Z` becomes `2027-03-14 09:00 UTC`.
        Ok(text) if text.len() >= 16 => format!("{} {} UTC", &text[..10], &text[11..16]),
        _ => utc.to_string(),
    }
}

fn access(input: &EntitlementInput) -> (AccessMode, String) {
    match input.state {
        TenantState::Pending => {
            return (
                AccessMode::Blocked,
                "Your workspace is not set up yet: verify your email address to start the setup."
                    .to_owned(),
            )
        }
        TenantState::Provisioning => {
            return (
                AccessMode::Blocked,
                "Your workspace is being set up and opens as soon as the setup finishes."
                    .to_owned(),
            )
        }
        TenantState::Deactivated => {
            return (
                AccessMode::Blocked,
                "Your workspace is closed; contact support if you need it back.".to_owned(),
            )
        }
        TenantState::Suspended if input.archived => {
            return (
                AccessMode::Blocked,
                "Your workspace is suspended and its data is archived; contact support to restore it."
                    .to_owned(),
            )
        }
        TenantState::Suspended => {
            return (
                AccessMode::ReadOnly,
                "Your workspace is suspended, so you can view and export data but not change it; update your subscription or contact support to restore it."
                    .to_owned(),
            )
        }
        TenantState::Active => {}
    }

    let paying = input
        .subscription_status
        .as_ref()
        .is_some_and(SubscriptionStatus::is_paying);
    if input.on_trial && !paying {
        if let Some(trial_end) = input.trial_ends_at {
            let grace_end = input
                .grace_ends_at
                .unwrap_or(trial_end + Duration::days(GRACE_DAYS));
            if input.now >= grace_end {
                return (
                    AccessMode::Blocked,
                    format!(
                        "Your trial ended on {} and the grace period ended on {}; upgrade to a paid plan to restore access.",
                        display_time(trial_end),
                        display_time(grace_end)
                    ),
                );
            }
            if input.now >= trial_end {
                return (
                    AccessMode::ReadOnly,
                    format!(
                        "Your trial ended on {}; upgrade before {} to keep your data.",
                        display_time(trial_end),
                        display_time(grace_end)
                    ),
                );
            }
        }
    }

    match &input.subscription_status {
        Some(status) if status.stops_writes() => (
            AccessMode::ReadOnly,
            format!(
                "Your subscription is {}, so you can view and export data but not change it; renew the subscription to restore full access.",
                status.as_str().replace('_', " ")
            ),
        ),
        Some(SubscriptionStatus::PastDue) => (
            AccessMode::Full,
            "Your last payment failed; update your payment method to keep full access."
                .to_owned(),
        ),
        Some(SubscriptionStatus::Incomplete) => (
            AccessMode::Full,
            "Your first payment is not complete yet; finish it to keep full access.".to_owned(),
        ),
        _ => match input.trial_ends_at {
            Some(trial_end) if input.on_trial && !paying => (
                AccessMode::Full,
                format!("Your trial runs until {}.", display_time(trial_end)),
            ),
            _ => (AccessMode::Full, "Your workspace is active.".to_owned()),
        },
    }
}

fn modules(
    input: &EntitlementInput,
    spec: &PlanSpec,
    access_mode: AccessMode,
    access_reason: &str,
) -> Vec<ModuleEntitlement> {
    Module::ALL
        .into_iter()
        .map(|module| {
            let (status, reason) = plan_module_status(input, spec, module);
            let (status, reason) = match (access_mode, status) {
                (AccessMode::Blocked, _) => (ModuleStatus::Blocked, Some(access_reason.to_owned())),
                (AccessMode::ReadOnly, ModuleStatus::Enabled) => {
                    (ModuleStatus::ReadOnly, Some(access_reason.to_owned()))
                }
                _ => (status, reason),
            };
            ModuleEntitlement {
                module,
                status,
                reason,
            }
        })
        .collect()
}

/// Returns a module's status from the plan and the downgrade alone.
fn plan_module_status(
    input: &EntitlementInput,
    spec: &PlanSpec,
    module: Module,
) -> (ModuleStatus, Option<String>) {
    if spec.modules.contains(&module) {
        return (ModuleStatus::Enabled, None);
    }
    let downgrade = input
        .downgrade
        .as_ref()
        .filter(|downgrade| downgrade.blocked_modules.contains(&module));
    match downgrade {
        Some(downgrade) if input.now < downgrade.read_only_until => (
            ModuleStatus::ReadOnly,
            Some(format!(
                "The {} plan does not include {module}; its data stays readable until {}.",
                downgrade.to_plan,
                display_time(downgrade.read_only_until)
            )),
        ),
        Some(downgrade) => (
            ModuleStatus::Blocked,
            Some(format!(
                "The {} plan does not include {module}, and its read-only period ended on {}.",
                downgrade.to_plan,
                display_time(downgrade.read_only_until)
            )),
        ),
        None => (
            ModuleStatus::Blocked,
            Some(format!(
                "The {} plan does not include {module}; upgrade to use it.",
                input.plan
            )),
        ),
    }
}

fn limits(input: &EntitlementInput, spec: &PlanSpec) -> Vec<LimitEntitlement> {
    let usage = input.usage.in_period(&period_of(input.now));
    Limit::ALL
        .into_iter()
        .map(|limit| {
            let max = spec.limits.get(limit);
            let Some(used) = usage.used(limit) else {
                return LimitEntitlement {
                    limit,
                    max,
                    used: None,
                    percent: None,
                    state: LimitState::Ok,
                    blocked: false,
                };
            };
            let exceeded = Threshold::Exceeded100.is_reached(used, max);
            let state = if exceeded {
                LimitState::Exceeded
            } else if Threshold::Warning80.is_reached(used, max) {
                LimitState::Warning
            } else {
                LimitState::Ok
            };
            LimitEntitlement {
                limit,
                max,
                used: Some(used),
                percent: Some(percent(used, max)),
                state,
                blocked: exceeded,
            }
        })
        .collect()
}

/// Returns `used` as a whole percentage of `max`, rounded down, and 100 for a zero maximum.
fn percent(used: u64, max: u64) -> u64 {
    if max == 0 {
        return 100;
    }
    let value = u128::from(used) * 100 / u128::from(max);
    u64::try_from(value).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2027-03-10 12:00 UTC);

    fn input() -> EntitlementInput {
        EntitlementInput {
            plan: Plan::Professional,
            catalog_version: 1,
            state: TenantState::Active,
            on_trial: false,
            trial_ends_at: None,
            grace_ends_at: None,
            subscription_status: Some(SubscriptionStatus::Active),
            downgrade: None,
            archived: false,
            usage: Usage {
                period: "2027-03".to_owned(),
                ..Usage::default()
            },
            now: NOW,
        }
    }

    fn trial_input(trial_ends_at: OffsetDateTime) -> EntitlementInput {
        EntitlementInput {
            on_trial: true,
            trial_ends_at: Some(trial_ends_at),
            grace_ends_at: Some(trial_ends_at + Duration::days(7)),
            subscription_status: None,
            ..input()
        }
    }

    fn status_of(entitlements: &Entitlements, module: Module) -> ModuleStatus {
        entitlements
            .modules
            .iter()
            .find(|entry| entry.module == module)
            .unwrap()
            .status
    }

    #[test]
    fn active_subscription_has_full_access() {
        let entitlements = Entitlements::compute(&input());
        assert_eq!(entitlements.access_mode, AccessMode::Full);
        assert_eq!(entitlements.reason, "Your workspace is active.");
        assert_eq!(entitlements.catalog_version, 1);
        assert_eq!(entitlements.plan, Plan::Professional);
        assert!(entitlements.features["sso"]);
    }

    #[test]
    fn not_yet_running_states_are_blocked() {
        for state in [
            TenantState::Pending,
            TenantState::Provisioning,
            TenantState::Deactivated,
        ] {
            let entitlements = Entitlements::compute(&EntitlementInput { state, ..input() });
            assert_eq!(entitlements.access_mode, AccessMode::Blocked, "{state:?}");
            assert!(
                entitlements
                    .modules
                    .iter()
                    .all(|entry| entry.status == ModuleStatus::Blocked),
                "{state:?}"
            );
        }
    }

    #[test]
    fn suspended_tenant_is_read_only() {
        let entitlements = Entitlements::compute(&EntitlementInput {
            state: TenantState::Suspended,
            ..input()
        });
        assert_eq!(entitlements.access_mode, AccessMode::ReadOnly);
        assert_eq!(
            status_of(&entitlements, Module::Itsm),
            ModuleStatus::ReadOnly
        );
        assert_eq!(status_of(&entitlements, Module::Crm), ModuleStatus::Blocked);
    }

    #[test]
    fn archived_suspended_tenant_is_blocked() {
        let entitlements = Entitlements::compute(&EntitlementInput {
            state: TenantState::Suspended,
            archived: true,
            ..input()
        });
        assert_eq!(entitlements.access_mode, AccessMode::Blocked);
        assert!(
            entitlements.reason.contains("archived"),
            "{}",
            entitlements.reason
        );
    }

    #[test]
    fn running_trial_has_full_access() {
        let entitlements = Entitlements::compute(&trial_input(datetime!(2027-03-12 08:00 UTC)));
        assert_eq!(entitlements.access_mode, AccessMode::Full);
        assert_eq!(
            entitlements.reason,
            "Your trial runs until 2027-03-12 08:00 UTC."
        );
    }

    #[test]
    fn ended_trial_is_read_only_during_grace() {
        let entitlements = Entitlements::compute(&trial_input(datetime!(2027-03-08 08:00 UTC)));
        assert_eq!(entitlements.access_mode, AccessMode::ReadOnly);
        assert_eq!(
            entitlements.reason,
            "Your trial ended on 2027-03-08 08:00 UTC; upgrade before 2027-03-15 08:00 UTC to keep your data."
        );
        assert_eq!(
            status_of(&entitlements, Module::Itom),
            ModuleStatus::ReadOnly
        );
    }

    #[test]
    fn trial_after_grace_is_blocked() {
        let entitlements = Entitlements::compute(&trial_input(datetime!(2027-03-03 12:00 UTC)));
        assert_eq!(entitlements.access_mode, AccessMode::Blocked);
        assert!(
            entitlements.reason.contains("2027-03-10 12:00 UTC"),
            "{}",
            entitlements.reason
        );
    }

    #[test]
    fn grace_defaults_to_seven_days_after_the_trial() {
        let mut trial = trial_input(datetime!(2027-03-04 12:00 UTC));
        trial.grace_ends_at = None;
        let entitlements = Entitlements::compute(&trial);
        assert_eq!(entitlements.access_mode, AccessMode::ReadOnly);
        assert!(
            entitlements.reason.contains("2027-03-11 12:00 UTC"),
            "{}",
            entitlements.reason
        );
    }

    #[test]
    fn paid_subscription_ends_the_trial_rules() {
        let entitlements = Entitlements::compute(&EntitlementInput {
            subscription_status: Some(SubscriptionStatus::Active),
            ..trial_input(datetime!(2027-03-01 08:00 UTC))
        });
        assert_eq!(entitlements.access_mode, AccessMode::Full);
    }

    #[test]
    fn past_due_keeps_full_access_with_a_warning() {
        let entitlements = Entitlements::compute(&EntitlementInput {
            subscription_status: Some(SubscriptionStatus::PastDue),
            ..input()
        });
        assert_eq!(entitlements.access_mode, AccessMode::Full);
        assert!(
            entitlements.reason.contains("payment"),
            "{}",
            entitlements.reason
        );
    }

    #[test]
    fn unpaid_and_canceled_are_read_only() {
        for status in [SubscriptionStatus::Unpaid, SubscriptionStatus::Canceled] {
            let entitlements = Entitlements::compute(&EntitlementInput {
                subscription_status: Some(status.clone()),
                ..input()
            });
            assert_eq!(entitlements.access_mode, AccessMode::ReadOnly, "{status}");
            assert!(
                entitlements.reason.contains(status.as_str()),
                "{}",
                entitlements.reason
            );
        }
    }

    #[test]
    fn unknown_subscription_status_keeps_full_access() {
        let entitlements = Entitlements::compute(&EntitlementInput {
            subscription_status: Some(SubscriptionStatus::Other("on_hold".to_owned())),
            ..input()
        });
        assert_eq!(entitlements.access_mode, AccessMode::Full);
    }

    #[test]
    fn plan_modules_are_enabled_and_others_blocked() {
        let entitlements = Entitlements::compute(&input());
        assert_eq!(entitlements.modules.len(), Module::ALL.len());
        assert_eq!(
            status_of(&entitlements, Module::Itsm),
            ModuleStatus::Enabled
        );
        assert_eq!(
            status_of(&entitlements, Module::Itom),
            ModuleStatus::Enabled
        );
        assert_eq!(status_of(&entitlements, Module::Crm), ModuleStatus::Blocked);
        assert!(entitlements.can_write(Module::Itsm));
        assert!(!entitlements.can_write(Module::Crm));
        let itsm = &entitlements.modules[0];
        assert_eq!(itsm.reason, None);
    }

    fn downgraded(read_only_until: OffsetDateTime) -> EntitlementInput {
        EntitlementInput {
            plan: Plan::Basic,
            downgrade: Some(Downgrade {
                from_plan: Plan::Professional,
                to_plan: Plan::Basic,
                blocked_modules: vec![Module::Itom],
                read_only_until,
            }),
            ..input()
        }
    }

    #[test]
    fn downgraded_module_is_read_only_in_the_window() {
        let entitlements = Entitlements::compute(&downgraded(datetime!(2027-04-09 12:00 UTC)));
        assert_eq!(entitlements.access_mode, AccessMode::Full);
        assert_eq!(
            status_of(&entitlements, Module::Itom),
            ModuleStatus::ReadOnly
        );
        assert_eq!(
            status_of(&entitlements, Module::Itsm),
            ModuleStatus::Enabled
        );
        let reason = entitlements.modules[1].reason.as_deref().unwrap();
        assert!(reason.contains("2027-04-09 12:00 UTC"), "{reason}");
    }

    #[test]
    fn downgraded_module_is_blocked_after_the_window() {
        let entitlements = Entitlements::compute(&downgraded(NOW));
        assert_eq!(
            status_of(&entitlements, Module::Itom),
            ModuleStatus::Blocked
        );
    }

    #[test]
    fn limits_report_usage_and_state() {
        let mut tenant = input();
        tenant.usage.technicians = 20;
        tenant.usage.assets = 5_000;
        tenant.usage.storage_gb = 10;
        let entitlements = Entitlements::compute(&tenant);
        assert_eq!(entitlements.limits.len(), Limit::ALL.len());

        let technicians = entitlements.limit(Limit::Technicians).unwrap();
        assert_eq!(technicians.max, 25);
        assert_eq!(technicians.used, Some(20));
        assert_eq!(technicians.percent, Some(80));
        assert_eq!(technicians.state, LimitState::Warning);
        assert!(!technicians.blocked);

        let assets = entitlements.limit(Limit::Assets).unwrap();
        assert_eq!(assets.state, LimitState::Exceeded);
        assert!(assets.blocked);
        assert_eq!(entitlements.access_mode, AccessMode::Full);

        let storage = entitlements.limit(Limit::StorageGb).unwrap();
        assert_eq!(storage.state, LimitState::Ok);
        assert_eq!(storage.percent, Some(4));
    }

    #[test]
    fn request_rate_has_no_usage() {
        let entitlements = Entitlements::compute(&input());
        let rate = entitlements.limit(Limit::ApiRequestsPerMinute).unwrap();
        assert_eq!(rate.max, 1000);
        assert_eq!(rate.used, None);
        assert_eq!(rate.percent, None);
        assert!(!rate.blocked);
    }

    #[test]
    fn counters_of_an_earlier_period_count_as_zero() {
        let mut tenant = input();
        tenant.usage.period = "2027-02".to_owned();
        tenant.usage.ai_agent_credits = 50_000;
        tenant.usage.technicians = 25;
        let entitlements = Entitlements::compute(&tenant);
        let credits = entitlements.limit(Limit::AiAgentCreditsPerMonth).unwrap();
        assert_eq!(credits.used, Some(0));
        assert!(!credits.blocked);
        assert!(entitlements.limit(Limit::Technicians).unwrap().blocked);
    }

    #[test]
    fn unknown_catalog_version_uses_the_current_one() {
        let entitlements = Entitlements::compute(&EntitlementInput {
            catalog_version: 999,
            ..input()
        });
        assert_eq!(entitlements.catalog_version, PlanCatalog::current().version);
    }

    #[test]
    fn entitlements_serialize_in_snake_case() {
        let entitlements = Entitlements::compute(&EntitlementInput {
            state: TenantState::Suspended,
            ..input()
        });
        let json = serde_json::to_value(&entitlements).unwrap();
        assert_eq!(json["access_mode"], "read_only");
        assert_eq!(json["plan"], "professional");
        assert_eq!(json["modules"][0]["module"], "itsm");
        assert_eq!(json["modules"][0]["status"], "read_only");
        assert_eq!(json["limits"][0]["limit"], "technicians");
        assert_eq!(json["limits"][0]["state"], "ok");
        assert_eq!(json["limits"][3]["used"], serde_json::Value::Null);
    }

    #[test]
    fn percent_rounds_down_and_handles_zero() {
        assert_eq!(percent(0, 0), 100);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(u64::MAX, 1), u64::MAX);
    }
}
