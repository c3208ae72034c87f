//! Usage of a tenant against its plan limits: the stored usage, the usage report a workspace
//! sends, and the 80 % and 100 % thresholds a report crosses.
//!
//! Gauges (technicians, assets, storage, integrations) are absolute values that a report
//! replaces. Counters (API calls, AI workflow executions, AI agent credits) are increments
//! that a report adds. Counters count one calendar month in UTC, named by a period `YYYY-MM`,
//! and start again at zero when a report arrives in a new period.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::plans::{Limit, Limits};
use crate::signup::{codes, FieldError, ValidationErrors};

/// Returns the usage period `YYYY-MM` that contains `now`, in UTC.
pub fn period_of(now: OffsetDateTime) -> String {
    let utc = now.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}", utc.year(), u8::from(utc.month()))
}

/// Usage of one tenant as stored on its record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub technicians: u64,
    pub assets: u64,
    pub storage_gb: u64,
    /// API calls in `period`, counted for reporting only: the per-minute rate is enforced
    /// elsewhere.
    pub api_calls: u64,
    /// AI workflow executions in `period`.
    pub ai_workflow_executions: u64,
    /// AI agent credits spent in `period`.
    pub ai_agent_credits: u64,
    pub integrations: u64,
    /// Month `YYYY-MM` of the counters, or empty before the first report.
    pub period: String,
}

impl Usage {
    /// Returns the usage after `report` arrived in `period` (`YYYY-MM`, see [`period_of`]).
    ///
    /// Gauges in the report replace the stored values. Counters are added, after starting
    /// again at zero when `period` differs from the stored period. Sums saturate at
    /// `u64::MAX` instead of overflowing.
    pub fn apply(&self, report: &UsageReport, period: &str) -> Usage {
        let base = self.in_period(period);
        Usage {
            technicians: report.users.unwrap_or(base.technicians),
            assets: report.assets.unwrap_or(base.assets),
            storage_gb: report.storage_gb.unwrap_or(base.storage_gb),
            integrations: report.integrations.unwrap_or(base.integrations),
            api_calls: base.api_calls.saturating_add(report.api_calls.unwrap_or(0)),
            ai_workflow_executions: base
                .ai_workflow_executions
                .saturating_add(report.ai_executions.unwrap_or(0)),
            ai_agent_credits: base
                .ai_agent_credits
                .saturating_add(report.ai_agent_credits.unwrap_or(0)),
            period: period.to_owned(),
        }
    }

    /// Returns this usage as seen in `period`: the counters are zero when the stored period
    /// is another one, and the gauges stay.
    pub fn in_period(&self, period: &str) -> Usage {
        if self.period == period {
            return self.clone();
        }
        Usage {
            api_calls: 0,
            ai_workflow_executions: 0,
            ai_agent_credits: 0,
            period: period.to_owned(),
            ..self.clone()
        }
    }

    /// Returns the usage that counts against a limit, or `None` for the request rate, which
    /// has no stored usage.
    pub fn used(&self, limit: Limit) -> Option<u64> {
        match limit {
            Limit::Technicians => Some(self.technicians),
            Limit::Assets => Some(self.assets),
            Limit::StorageGb => Some(self.storage_gb),
            Limit::ApiRequestsPerMinute => None,
            Limit::Integrations => Some(self.integrations),
            Limit::AiWorkflowExecutionsPerMonth => Some(self.ai_workflow_executions),
            Limit::AiAgentCreditsPerMonth => Some(self.ai_agent_credits),
        }
    }
}

/// The body of `POST /v1/tenants/{tenant_id}/usage`.
///
/// `users`, `assets`, `storage_gb` and `integrations` are absolute values. `api_calls`,
/// `ai_executions` and `ai_agent_credits` are increments since the previous report. Build it
/// with [`UsageReport::parse`] or [`UsageReport::from_json`], which check every field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    /// Technicians with a seat.
    pub users: Option<u64>,
    pub assets: Option<u64>,
    pub storage_gb: Option<u64>,
    pub api_calls: Option<u64>,
    /// AI workflow executions.
    pub ai_executions: Option<u64>,
    pub ai_agent_credits: Option<u64>,
    pub integrations: Option<u64>,
}

/// Every report field with the maximum one report may carry. The maxima are far above any
/// plan limit and only catch broken or hostile clients.
const REPORT_FIELDS: [(&str, u64); 7] = [
    ("users", 1_000_000),
    ("assets", 100_000_000),
    ("storage_gb", 10_000_000),
    ("api_calls", 10_000_000_000),
    ("ai_executions", 100_000_000),
    ("ai_agent_credits", 1_000_000_000),
    ("integrations", 100_000),
];

impl UsageReport {
    /// Parses and validates a JSON request body.
    pub fn parse(body: &[u8]) -> Result<UsageReport, ValidationErrors> {
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            FieldError::invalid(
                "body",
                format!("the body is not valid JSON ({error}); send an object such as {{\"users\": 12}}"),
            )
        })?;
        Self::from_json(&value)
    }

    /// Validates a JSON value and returns all field errors at once.
    ///
    /// The value must be an object with at least one known field. Each field is `null`
    /// (treated as absent) or a whole number from 0 to the field's maximum. Unknown fields are
    /// rejected one error each, so a misspelled name is not silently ignored.
    pub fn from_json(value: &Value) -> Result<UsageReport, ValidationErrors> {
        let Some(object) = value.as_object() else {
            return Err(FieldError::invalid(
                "body",
                "the body must be a JSON object such as {\"users\": 12}",
            )
            .into());
        };

        let mut errors = Vec::new();
        let mut report = UsageReport::default();
        let known: Vec<&str> = REPORT_FIELDS.iter().map(|(name, _)| *name).collect();
        for name in object.keys() {
            if !known.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    name,
                    codes::UNKNOWN,
                    format!(
                        "unknown field '{name}'; the known fields are {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        for (name, max) in REPORT_FIELDS {
            let parsed = match object.get(name) {
                None | Some(Value::Null) => None,
                Some(raw) => match read_count(name, raw, max) {
                    Ok(count) => Some(count),
                    Err(error) => {
                        errors.push(error);
                        None
                    }
                },
            };
            if let Some(count) = parsed {
                *report.slot(name) = Some(count);
            }
        }

        if errors.is_empty() && report == UsageReport::default() {
            errors.push(FieldError::new(
                "body",
                codes::MISSING,
                format!(
                    "the report is empty; send at least one of {}",
                    known.join(", ")
                ),
            ));
        }
        if errors.is_empty() {
            Ok(report)
        } else {
            Err(ValidationErrors(errors))
        }
    }

    fn slot(&mut self, name: &str) -> &mut Option<u64> {
        match name {
            "users" => &mut self.users,
            "assets" => &mut self.assets,
            "storage_gb" => &mut self.storage_gb,
            "api_calls" => &mut self.api_calls,
            "ai_executions" => &mut self.ai_executions,
            "ai_agent_credits" => &mut self.ai_agent_credits,
            _ => &mut self.integrations,
        }
    }
}

fn read_count(field: &str, raw: &Value, max: u64) -> Result<u64, FieldError> {
    if let Some(count) = raw.as_u64() {
        if count > max {
            return Err(FieldError::new(
                field,
                codes::OUT_OF_RANGE,
                format!("{field} is {count}, above the maximum of {max} per report"),
            ));
        }
        return Ok(count);
    }
    let negative = raw.as_i64().is_some_and(|n| n < 0) || raw.as_f64().is_some_and(|n| n < 0.0);
    if negative {
        return Err(FieldError::new(
            field,
            codes::OUT_OF_RANGE,
            format!("{field} is {raw}, but it must not be negative"),
        ));
    }
    if raw.is_number() {
        return Err(FieldError::invalid(
            field,
            format!("{field} is {raw}; send a whole number from 0 to {max}"),
        ));
    }
    Err(FieldError::invalid(
        field,
        format!("{field} must be a whole number from 0 to {max}"),
    ))
}

/// A usage threshold of a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Threshold {
    /// 80 % of the limit.
    #[serde(rename = "80")]
    Warning80,
    /// 100 % of the limit.
    #[serde(rename = "100")]
    Exceeded100,
}

impl Threshold {
    /// Returns the percentage, as used in notice keys like `technicians:80:2026-12`.
    pub fn percent(self) -> u64 {
        match self {
            Threshold::Warning80 => 80,
            Threshold::Exceeded100 => 100,
        }
    }

    /// Returns whether `used` is at or above this threshold of `max`. A maximum of zero is
    /// reached by any usage, including zero.
    pub fn is_reached(self, used: u64, max: u64) -> bool {
        u128::from(used) * 100 >= u128::from(max) * u128::from(self.percent())
    }
}

/// Returns the thresholds that `after` reaches and `before` did not, limit by limit in
/// [`Limit::ALL`] order and 80 before 100 within a limit.
///
/// A jump from below 80 % to 100 % or more returns both thresholds of that limit, so the
/// caller can record both notices and decide which to send. When `after` is in another
/// period than `before`, the monthly counters of `before` count as zero, because they
/// started again. The request rate has no stored usage and never crosses a threshold.
pub fn crossed_thresholds(
    before: &Usage,
    after: &Usage,
    limits: &Limits,
) -> Vec<(Limit, Threshold)> {
    let before = before.in_period(&after.period);
    let mut crossed = Vec::new();
    for limit in Limit::ALL {
        let (Some(used_before), Some(used_after)) = (before.used(limit), after.used(limit)) else {
            continue;
        };
        let max = limits.get(limit);
        for threshold in [Threshold::Warning80, Threshold::Exceeded100] {
            if threshold.is_reached(used_after, max) && !threshold.is_reached(used_before, max) {
                crossed.push((limit, threshold));
            }
        }
    }
    crossed
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::catalog::PlanCatalog;
    use crate::signup::Plan;

    fn limits() -> Limits {
        PlanCatalog::version(1)
            .unwrap()
            .plan(Plan::Professional)
            .limits
    }

    fn usage(period: &str) -> Usage {
        Usage {
            technicians: 10,
            assets: 100,
            storage_gb: 5,
            api_calls: 1000,
            ai_workflow_executions: 40,
            ai_agent_credits: 70,
            integrations: 2,
            period: period.to_owned(),
        }
    }

    fn report(value: Value) -> UsageReport {
        UsageReport::from_json(&value).unwrap()
    }

    fn codes_by_field(errors: &ValidationErrors) -> Vec<(&str, &str)> {
        errors
            .0
            .iter()
            .map(|error| (error.field.as_str(), error.code))
            .collect()
    }

    #[test]
    fn period_of_uses_utc() {
        assert_eq!(period_of(datetime!(2026-12-31 23:30 UTC)), "2026-12");
        assert_eq!(period_of(datetime!(2026-12-31 20:30 -05:00)), "2027-01");
    }

    #[test]
    fn apply_replaces_gauges_and_adds_counters() {
        let report = report(json!({"users": 12, "api_calls": 5, "ai_executions": 2,
                                   "ai_agent_credits": 3}));
        let after = usage("2027-01").apply(&report, "2027-01");
        assert_eq!(after.technicians, 12);
        assert_eq!(after.assets, 100);
        assert_eq!(after.api_calls, 1005);
        assert_eq!(after.ai_workflow_executions, 42);
        assert_eq!(after.ai_agent_credits, 73);
        assert_eq!(after.period, "2027-01");
    }

    #[test]
    fn apply_resets_counters_in_a_new_period() {
        let report = report(json!({"ai_executions": 2, "assets": 150}));
        let after = usage("2027-01").apply(&report, "2027-02");
        assert_eq!(after.ai_workflow_executions, 2);
        assert_eq!(after.api_calls, 0);
        assert_eq!(after.ai_agent_credits, 0);
        assert_eq!(after.assets, 150);
        assert_eq!(after.technicians, 10);
        assert_eq!(after.period, "2027-02");
    }

    #[test]
    fn apply_saturates_instead_of_overflowing() {
        let mut before = usage("2027-01");
        before.api_calls = u64::MAX - 1;
        let after = before.apply(&report(json!({"api_calls": 5})), "2027-01");
        assert_eq!(after.api_calls, u64::MAX);
    }

    #[test]
    fn report_accepts_every_known_field() {
        let parsed = UsageReport::parse(
            br#"{"users": 1, "assets": 2, "storage_gb": 3, "api_calls": 4,
                 "ai_executions": 5, "ai_agent_credits": 6, "integrations": 7}"#,
        )
        .unwrap();
        assert_eq!(
            parsed,
            UsageReport {
                users: Some(1),
                assets: Some(2),
                storage_gb: Some(3),
                api_calls: Some(4),
                ai_executions: Some(5),
                ai_agent_credits: Some(6),
                integrations: Some(7),
            }
        );
    }

    #[test]
    fn report_treats_null_as_absent() {
        let parsed = report(json!({"users": null, "assets": 3}));
        assert_eq!(parsed.users, None);
        assert_eq!(parsed.assets, Some(3));
    }

    #[test]
    fn report_rejects_an_empty_object() {
        let errors = UsageReport::from_json(&json!({})).unwrap_err();
        assert_eq!(codes_by_field(&errors), vec![("body", "missing")]);
        let errors = UsageReport::from_json(&json!({"users": null})).unwrap_err();
        assert_eq!(codes_by_field(&errors), vec![("body", "missing")]);
    }

    #[test]
    fn report_names_each_unknown_field() {
        let errors =
            UsageReport::from_json(&json!({"users": 1, "seats": 2, "tickets": 3})).unwrap_err();
        assert_eq!(
            codes_by_field(&errors),
            vec![("seats", "unknown"), ("tickets", "unknown")]
        );
        assert!(
            errors.0[0].message.contains("'seats'"),
            "{}",
            errors.0[0].message
        );
        assert!(
            errors.0[0].message.contains("users"),
            "{}",
            errors.0[0].message
        );
    }

    #[test]
    fn report_rejects_negative_fractional_and_text_values() {
        let errors = UsageReport::from_json(&json!({
            "users": -1, "assets": 1.5, "storage_gb": "3", "api_calls": -0.5
        }))
        .unwrap_err();
        assert_eq!(
            codes_by_field(&errors),
            vec![
                ("users", "out_of_range"),
                ("assets", "invalid"),
                ("storage_gb", "invalid"),
                ("api_calls", "out_of_range"),
            ]
        );
    }

    #[test]
    fn report_rejects_a_value_above_the_maximum() {
        let errors = UsageReport::from_json(&json!({"users": 1_000_001})).unwrap_err();
        assert_eq!(codes_by_field(&errors), vec![("users", "out_of_range")]);
        assert!(
            errors.0[0].message.contains("1000000"),
            "{}",
            errors.0[0].message
        );
        assert!(UsageReport::from_json(&json!({"users": 1_000_000})).is_ok());
    }

    #[test]
    fn report_rejects_a_non_object_body() {
        let errors = UsageReport::parse(b"[1, 2]").unwrap_err();
        assert_eq!(codes_by_field(&errors), vec![("body", "invalid")]);
        let errors = UsageReport::parse(b"{\"users\": ").unwrap_err();
        assert_eq!(codes_by_field(&errors), vec![("body", "invalid")]);
    }

    #[test]
    fn thresholds_report_a_newly_crossed_warning() {
        let limits = limits();
        let before = Usage {
            technicians: 19,
            ..usage("2027-01")
        };
        let after = Usage {
            technicians: 20,
            ..usage("2027-01")
        };
        assert_eq!(
            crossed_thresholds(&before, &after, &limits),
            vec![(Limit::Technicians, Threshold::Warning80)]
        );
    }

    #[test]
    fn thresholds_skip_one_already_crossed() {
        let limits = limits();
        let before = Usage {
            technicians: 21,
            ..usage("2027-01")
        };
        let after = Usage {
            technicians: 22,
            ..usage("2027-01")
        };
        assert_eq!(crossed_thresholds(&before, &after, &limits), vec![]);
    }

    #[test]
    fn thresholds_report_both_on_a_jump() {
        let limits = limits();
        let after = Usage {
            ai_agent_credits: 10_000,
            ..usage("2027-01")
        };
        assert_eq!(
            crossed_thresholds(&usage("2027-01"), &after, &limits),
            vec![
                (Limit::AiAgentCreditsPerMonth, Threshold::Warning80),
                (Limit::AiAgentCreditsPerMonth, Threshold::Exceeded100),
            ]
        );
    }

    #[test]
    fn thresholds_cross_again_in_a_new_period() {
        let limits = limits();
        let before = Usage {
            ai_workflow_executions: 4_500,
            ..usage("2027-01")
        };
        let after = Usage {
            ai_workflow_executions: 4_000,
            ..usage("2027-02")
        };
        assert_eq!(
            crossed_thresholds(&before, &after, &limits),
            vec![(Limit::AiWorkflowExecutionsPerMonth, Threshold::Warning80)]
        );
    }

    #[test]
    fn thresholds_ignore_falling_usage() {
        let limits = limits();
        let before = Usage {
            assets: 5_000,
            ..usage("2027-01")
        };
        assert_eq!(
            crossed_thresholds(&before, &usage("2027-01"), &limits),
            vec![]
        );
    }

    #[test]
    fn threshold_serializes_as_its_percentage() {
        assert_eq!(
            serde_json::to_string(&Threshold::Warning80).unwrap(),
            "\"80\""
        );
        assert_eq!(Threshold::Exceeded100.percent(), 100);
    }

    proptest! {
        #[test]
        fn thresholds_are_crossed_only_upward(
            before in 0u64..200, after in 0u64..200, max in 1u64..150
        ) {
            let limits = Limits { technicians: max, ..limits() };
            let old = Usage { technicians: before, ..Usage::default() };
            let new = Usage { technicians: after, ..Usage::default() };
            let crossed = crossed_thresholds(&old, &new, &limits);
            if after <= before {
                prop_assert!(crossed.is_empty());
            }
            for (limit, threshold) in crossed {
                prop_assert_eq!(limit, Limit::Technicians);
                prop_assert!(after * 100 >= max * threshold.percent());
                prop_assert!(before * 100 < max * threshold.percent());
            }
        }

        #[test]
        fn report_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = UsageReport::parse(&body);
        }
    }
}
