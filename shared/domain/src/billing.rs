//! Billing rules: the Stripe subscription status, the order of subscription events and the
//! dunning action a status change causes.
//!
//! # Event order
//!
//! Stripe does not deliver events in order, so the tenant record keeps `created` of the
//! newest applied subscription event and [`is_newer`] decides whether a later delivery may
//! overwrite the stored state. An event with the same `created` second as the stored one is
//! applied. Stripe often sends several events within one second (for example
//! `customer.subscription.created` and `customer.subscription.updated`), and rejecting equal
//! timestamps would drop the second of them. Applying it is safe because the handlers write
//! the subscription state that the event carries, so applying a same-second event again or in
//! the other order leaves the state of one of them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Status of a Stripe subscription.
///
/// Unknown values are kept in [`SubscriptionStatus::Other`], so a status that Stripe adds
/// later does not make an event unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    /// A renewal payment failed and Stripe is retrying it.
    PastDue,
    /// Stripe stopped retrying and left the latest invoice open.
    Unpaid,
    Canceled,
    /// The first payment has not succeeded yet.
    Incomplete,
    /// The first payment did not succeed in time, so the subscription never started.
    IncompleteExpired,
    /// A trial ended without a payment method and the subscription is paused.
    Paused,
    /// Any other value, as received.
    Other(String),
}

impl SubscriptionStatus {
    /// Parses a Stripe status. Every input is accepted: unknown values become `Other`.
    pub fn parse(value: &str) -> Self {
        match value {
            "trialing" => SubscriptionStatus::Trialing,
            "active" => SubscriptionStatus::Active,
            "past_due" => SubscriptionStatus::PastDue,
            "unpaid" => SubscriptionStatus::Unpaid,
            "canceled" => SubscriptionStatus::Canceled,
            "incomplete" => SubscriptionStatus::Incomplete,
            "incomplete_expired" => SubscriptionStatus::IncompleteExpired,
            "paused" => SubscriptionStatus::Paused,
            other => SubscriptionStatus::Other(other.to_owned()),
        }
    }

    /// Returns the Stripe value, or the stored text of `Other`.
    pub fn as_str(&self) -> &str {
        match self {
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Paused => "paused",
            SubscriptionStatus::Other(other) => other,
        }
    }

    /// Returns whether the subscription is paid for or still being collected, which ends the
    /// rules of the free trial: trialing, active and past_due.
    pub fn is_paying(&self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
        )
    }

    /// Returns whether the status stops write access: unpaid, canceled and paused.
    pub fn stops_writes(&self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Unpaid | SubscriptionStatus::Canceled | SubscriptionStatus::Paused
        )
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SubscriptionStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SubscriptionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Ok(SubscriptionStatus::parse(&value))
    }
}

/// Returns whether an event created at `event_created` (Unix seconds) may overwrite the
/// subscription state stored from an event created at `stored_event_created`.
///
/// Older events never overwrite newer state. Equal timestamps apply, as the module
/// documentation explains. Without a stored event every event applies.
pub fn is_newer(stored_event_created: Option<i64>, event_created: i64) -> bool {
    match stored_event_created {
        Some(stored) => event_created >= stored,
        None => true,
    }
}

/// Action on a tenant caused by a change of its subscription status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DunningAction {
    /// A payment failed: record when, warn the Tenant Admin, and keep full access.
    StartGrace,
    /// Payment stopped for good: suspend the tenant, which makes it read-only.
    Suspend,
    /// The subscription is paid again: end the grace period and restore a tenant that billing
    /// suspended.
    Restore,
}

impl DunningAction {
    /// Decides the action for a change from `previous` (`None` when no status was stored) to
    /// `current`. An unchanged status causes no action.
    ///
    /// - past_due starts the grace period.
    /// - unpaid, canceled and paused suspend the tenant.
    /// - active restores the tenant, also when no status was stored before, because a tenant
    ///   suspended after its trial may buy its first subscription. Restoring a tenant that is
    ///   not suspended changes nothing.
    /// - Every other status (trialing, incomplete, incomplete_expired, unknown values) causes
    ///   no action.
    pub fn for_status_change(
        previous: Option<&SubscriptionStatus>,
        current: &SubscriptionStatus,
    ) -> Option<DunningAction> {
        if previous == Some(current) {
            return None;
        }
        match current {
            SubscriptionStatus::PastDue => Some(DunningAction::StartGrace),
            status if status.stops_writes() => Some(DunningAction::Suspend),
            SubscriptionStatus::Active => Some(DunningAction::Restore),
            _ => None,
        }
    }

    /// Returns the snake_case name used in audit entries and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DunningAction::StartGrace => "start_grace",
            DunningAction::Suspend => "suspend",
            DunningAction::Restore => "restore",
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const KNOWN: [&str; 8] = [
        "trialing",
        "active",
        "past_due",
        "unpaid",
        "canceled",
        "incomplete",
        "incomplete_expired",
        "paused",
    ];

    #[test]
    fn status_round_trips_known_values() {
        for value in KNOWN {
            let status = SubscriptionStatus::parse(value);
            assert!(!matches!(status, SubscriptionStatus::Other(_)), "{value}");
            assert_eq!(status.as_str(), value);
        }
    }

    #[test]
    fn status_keeps_an_unknown_value() {
        let status = SubscriptionStatus::parse("on_hold");
        assert_eq!(status, SubscriptionStatus::Other("on_hold".to_owned()));
        assert_eq!(status.as_str(), "on_hold");
    }

    #[test]
    fn status_serializes_as_its_text() {
        let json = serde_json::to_string(&SubscriptionStatus::PastDue).unwrap();
        assert_eq!(json, "\"past_due\"");
        let status: SubscriptionStatus = serde_json::from_str("\"something_new\"").unwrap();
        assert_eq!(
            status,
            SubscriptionStatus::Other("something_new".to_owned())
        );
    }

    #[test]
    fn is_newer_applies_without_stored_event() {
        assert!(is_newer(None, 0));
        assert!(is_newer(None, 1_800_000_000));
    }

    #[test]
    fn is_newer_rejects_an_older_event() {
        assert!(!is_newer(Some(1_800_000_001), 1_800_000_000));
    }

    #[test]
    fn is_newer_applies_equal_and_later_events() {
        assert!(is_newer(Some(1_800_000_000), 1_800_000_000));
        assert!(is_newer(Some(1_800_000_000), 1_800_000_001));
    }

    #[test]
    fn past_due_starts_grace() {
        let action = DunningAction::for_status_change(
            Some(&SubscriptionStatus::Active),
            &SubscriptionStatus::PastDue,
        );
        assert_eq!(action, Some(DunningAction::StartGrace));
    }

    #[test]
    fn unpaid_canceled_and_paused_suspend() {
        for status in [
            SubscriptionStatus::Unpaid,
            SubscriptionStatus::Canceled,
            SubscriptionStatus::Paused,
        ] {
            let action =
                DunningAction::for_status_change(Some(&SubscriptionStatus::PastDue), &status);
            assert_eq!(action, Some(DunningAction::Suspend), "{status}");
        }
    }

    #[test]
    fn active_restores_after_any_other_status() {
        for previous in [
            None,
            Some(SubscriptionStatus::PastDue),
            Some(SubscriptionStatus::Unpaid),
            Some(SubscriptionStatus::Trialing),
        ] {
            let action =
                DunningAction::for_status_change(previous.as_ref(), &SubscriptionStatus::Active);
            assert_eq!(action, Some(DunningAction::Restore), "{previous:?}");
        }
    }

    #[test]
    fn unchanged_status_causes_no_action() {
        for value in KNOWN {
            let status = SubscriptionStatus::parse(value);
            assert_eq!(
                DunningAction::for_status_change(Some(&status), &status),
                None,
                "{value}"
            );
        }
    }

    #[test]
    fn other_statuses_cause_no_action() {
        for status in [
            SubscriptionStatus::Trialing,
            SubscriptionStatus::Incomplete,
            SubscriptionStatus::IncompleteExpired,
            SubscriptionStatus::Other("on_hold".to_owned()),
        ] {
            assert_eq!(
                DunningAction::for_status_change(None, &status),
                None,
                "{status}"
            );
        }
    }

    proptest! {
        #[test]
        fn status_text_always_round_trips(value in "[a-z_]{0,20}") {
            let status = SubscriptionStatus::parse(&value);
            prop_assert_eq!(status.as_str(), value.as_str());
        }

        #[test]
        fn is_newer_never_accepts_an_older_event(stored in any::<i64>(), event in any::<i64>()) {
            prop_assert_eq!(is_newer(Some(stored), event), event >= stored);
        }
    }
}
