//! The lifecycle of a tenant and its allowed transitions.

use std::fmt;

use serde::{Deserialize, Serialize};

/// State of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantState {
    /// Signed up, waiting for email verification or for provisioning to start.
    Pending,
    /// The provisioning state machine is running.
    Provisioning,
    /// Provisioned and usable.
    Active,
    /// Usable again once the cause (billing, an admin decision) is resolved.
    Suspended,
    /// Closed, expired unverified, or rolled back. No transition leaves this state.
    Deactivated,
}

/// Error returned for a transition the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a tenant cannot go from {from} to {to}")]
pub struct InvalidTransition {
    pub from: TenantState,
    pub to: TenantState,
}

/// Error returned when a string names no tenant state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown tenant state '{0}'; expected pending, provisioning, active, suspended or deactivated"
)]
pub struct UnknownTenantState(pub String);

impl TenantState {
    /// Every state, in lifecycle order.
    pub const ALL: [TenantState; 5] = [
        TenantState::Pending,
        TenantState::Provisioning,
        TenantState::Active,
        TenantState::Suspended,
        TenantState::Deactivated,
    ];

    /// Returns the lowercase name used in records and in the `STATE#` index key.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantState::Pending => "pending",
            TenantState::Provisioning => "provisioning",
            TenantState::Active => "active",
            TenantState::Suspended => "suspended",
            TenantState::Deactivated => "deactivated",
        }
    }

    /// Parses a lowercase state name.
    pub fn parse(value: &str) -> Result<Self, UnknownTenantState> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == value)
            .ok_or_else(|| UnknownTenantState(value.to_owned()))
    }

    /// Returns whether the lifecycle allows going from this state to `next`.
    ///
    /// Allowed: pending to provisioning or deactivated, provisioning to active or deactivated,
    /// active to suspended or deactivated, suspended to active or deactivated. Staying in the
    /// same state is not a transition.
    pub fn can_transition_to(self, next: TenantState) -> bool {
        use TenantState::*;
        matches!(
            (self, next),
            (Pending, Provisioning)
                | (Pending, Deactivated)
                | (Provisioning, Active)
                | (Provisioning, Deactivated)
                | (Active, Suspended)
                | (Suspended, Active)
                | (Active, Deactivated)
                | (Suspended, Deactivated)
        )
    }

    /// Returns `next` if the lifecycle allows the transition, or the error naming both states.
    pub fn transition_to(self, next: TenantState) -> Result<TenantState, InvalidTransition> {
        if self.can_transition_to(next) {
            Ok(next)
        } else {
            Err(InvalidTransition {
                from: self,
                to: next,
            })
        }
    }

    /// Returns whether the tenant still exists, which is every state except deactivated.
    /// A live tenant keeps its subdomain and email claims.
    pub fn is_live(self) -> bool {
        self != TenantState::Deactivated
    }
}

impl fmt::Display for TenantState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TenantState {
    type Err = UnknownTenantState;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::TenantState::*;
    use super::*;

    const ALLOWED: [(TenantState, TenantState); 8] = [
        (Pending, Provisioning),
        (Pending, Deactivated),
        (Provisioning, Active),
        (Provisioning, Deactivated),
        (Active, Suspended),
        (Suspended, Active),
        (Active, Deactivated),
        (Suspended, Deactivated),
    ];

    #[test]
    fn allows_every_transition_of_the_lifecycle_table() {
        for (from, to) in ALLOWED {
            assert_eq!(from.transition_to(to), Ok(to), "{from} -> {to}");
        }
    }

    #[test]
    fn rejects_every_other_transition() {
        for from in TenantState::ALL {
            for to in TenantState::ALL {
                if ALLOWED.contains(&(from, to)) {
                    continue;
                }
                assert_eq!(
                    from.transition_to(to),
                    Err(InvalidTransition { from, to }),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn rejects_leaving_deactivated() {
        for to in TenantState::ALL {
            assert!(
                Deactivated.transition_to(to).is_err(),
                "deactivated -> {to}"
            );
        }
    }

    #[test]
    fn rejects_skipping_provisioning() {
        let error = Pending.transition_to(Active).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a tenant cannot go from pending to active"
        );
    }

    #[test]
    fn only_deactivated_is_not_live() {
        for state in TenantState::ALL {
            assert_eq!(state.is_live(), state != Deactivated, "{state}");
        }
    }

    #[test]
    fn state_names_round_trip_through_parse_and_serde() {
        for state in TenantState::ALL {
            assert_eq!(TenantState::parse(state.as_str()), Ok(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(serde_json::from_str::<TenantState>(&json).unwrap(), state);
        }
        assert!(TenantState::parse("Active").is_err());
    }
}
