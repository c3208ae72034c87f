//! Steps of the provisioning state machine, their status, and where a tenant is placed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::signup::Plan;

/// A step of provisioning, as the provisioner receives it in `{"step": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Validate,
    ReserveCapacity,
    CreateDataStore,
    CheckDataStore,
    ApplyConfigTemplate,
    EnableModules,
    CreateAdminInvitation,
    Activate,
    Rollback,
}

/// Error returned when a string names no step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provisioning step '{0}'")]
pub struct UnknownStep(pub String);

impl Step {
    /// The forward steps in execution order. `Rollback` runs only after a failure.
    pub const FORWARD: [Step; 8] = [
        Step::Validate,
        Step::ReserveCapacity,
        Step::CreateDataStore,
        Step::CheckDataStore,
        Step::ApplyConfigTemplate,
        Step::EnableModules,
        Step::CreateAdminInvitation,
        Step::Activate,
    ];

    /// Every step, forward steps first.
    pub const ALL: [Step; 9] = [
        Step::Validate,
        Step::ReserveCapacity,
        Step::CreateDataStore,
        Step::CheckDataStore,
        Step::ApplyConfigTemplate,
        Step::EnableModules,
        Step::CreateAdminInvitation,
        Step::Activate,
        Step::Rollback,
    ];

    /// Returns the snake_case name used in the Task payload and in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Validate => "validate",
            Step::ReserveCapacity => "reserve_capacity",
            Step::CreateDataStore => "create_data_store",
            Step::CheckDataStore => "check_data_store",
            Step::ApplyConfigTemplate => "apply_config_template",
            Step::EnableModules => "enable_modules",
            Step::CreateAdminInvitation => "create_admin_invitation",
            Step::Activate => "activate",
            Step::Rollback => "rollback",
        }
    }

    /// Returns the name of the state in the state machine definition.
    pub fn state_name(self) -> &'static str {
        match self {
            Step::Validate => "Validate",
            Step::ReserveCapacity => "ReserveCapacity",
            Step::CreateDataStore => "CreateDataStore",
            Step::CheckDataStore => "CheckDataStore",
            Step::ApplyConfigTemplate => "ApplyConfigTemplate",
            Step::EnableModules => "EnableModules",
            Step::CreateAdminInvitation => "CreateAdminInvitation",
            Step::Activate => "Activate",
            Step::Rollback => "Rollback",
        }
    }

    /// Parses a snake_case step name.
    pub fn parse(value: &str) -> Result<Self, UnknownStep> {
        Self::ALL
            .into_iter()
            .find(|step| step.as_str() == value)
            .ok_or_else(|| UnknownStep(value.to_owned()))
    }

    /// Returns the position of the step in [`Step::ALL`], from 0 for `Validate` to 8 for
    /// `Rollback`. Step records are keyed by it, so records sort in execution order.
    pub fn index(self) -> usize {
        match self {
            Step::Validate => 0,
            Step::ReserveCapacity => 1,
            Step::CreateDataStore => 2,
            Step::CheckDataStore => 3,
            Step::ApplyConfigTemplate => 4,
            Step::EnableModules => 5,
            Step::CreateAdminInvitation => 6,
            Step::Activate => 7,
            Step::Rollback => 8,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Status of one step of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Running,
    Succeeded,
    Failed,
    /// Rollback reverted what the step did.
    Undone,
    /// Rollback could not revert the step, so an operator has to clean up.
    UndoFailed,
}

impl StepStatus {
    /// Every status.
    pub const ALL: [StepStatus; 5] = [
        StepStatus::Running,
        StepStatus::Succeeded,
        StepStatus::Failed,
        StepStatus::Undone,
        StepStatus::UndoFailed,
    ];

    /// Returns the snake_case name used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Undone => "undone",
            StepStatus::UndoFailed => "undo_failed",
        }
    }

    /// Parses a snake_case status name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kind of cell that hosts a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// A cell shared by many tenants up to its capacity.
    Shared,
    /// A cell for one tenant.
    Dedicated,
}

impl CellKind {
    /// Returns the lowercase name used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            CellKind::Shared => "shared",
            CellKind::Dedicated => "dedicated",
        }
    }
}

/// Decides the kind of cell for a tenant. Trials always go to a shared cell, and paying
/// tenants get a dedicated cell when their plan allows one.
pub fn placement(plan: Plan, on_trial: bool) -> CellKind {
    if !on_trial && plan.allows_dedicated() {
        CellKind::Dedicated
    } else {
        CellKind::Shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_steps_run_in_the_documented_order() {
        let names: Vec<&str> = Step::FORWARD.iter().map(|step| step.state_name()).collect();
        assert_eq!(
            names,
            [
                "Validate",
                "ReserveCapacity",
                "CreateDataStore",
                "CheckDataStore",
                "ApplyConfigTemplate",
                "EnableModules",
                "CreateAdminInvitation",
                "Activate"
            ]
        );
        assert!(!Step::FORWARD.contains(&Step::Rollback));
    }

    #[test]
    fn index_is_the_position_in_all() {
        for (position, step) in Step::ALL.into_iter().enumerate() {
            assert_eq!(step.index(), position, "{step}");
        }
    }

    #[test]
    fn step_names_round_trip() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Ok(step));
            let json = serde_json::to_string(&step).unwrap();
            assert_eq!(json, format!("\"{}\"", step.as_str()));
        }
        assert_eq!(Step::CheckDataStore.as_str(), "check_data_store");
        assert_eq!(
            Step::parse("Validate"),
            Err(UnknownStep("Validate".to_owned()))
        );
    }

    #[test]
    fn step_status_names_round_trip() {
        for status in StepStatus::ALL {
            assert_eq!(StepStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn trials_are_always_placed_in_shared_cells() {
        for plan in Plan::ALL {
            assert_eq!(placement(plan, true), CellKind::Shared, "{plan}");
        }
    }

    #[test]
    fn paid_enterprise_and_msp_get_dedicated_cells() {
        assert_eq!(placement(Plan::Enterprise, false), CellKind::Dedicated);
        assert_eq!(placement(Plan::Msp, false), CellKind::Dedicated);
        assert_eq!(placement(Plan::Basic, false), CellKind::Shared);
        assert_eq!(placement(Plan::Professional, false), CellKind::Shared);
    }
}
