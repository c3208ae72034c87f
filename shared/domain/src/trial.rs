//! Trial period of a new tenant.

use time::{Duration, OffsetDateTime};

/// Length of the free trial, in days.
pub const TRIAL_DAYS: i64 = 14;
/// Length of the grace period that follows the trial, in days.
pub const GRACE_DAYS: i64 = 7;

/// Returns when a trial that starts at `start` ends.
pub fn trial_ends_at(start: OffsetDateTime) -> OffsetDateTime {
    start + Duration::days(TRIAL_DAYS)
}

/// Returns when the grace period after a trial that starts at `start` ends.
pub fn grace_ends_at(start: OffsetDateTime) -> OffsetDateTime {
    trial_ends_at(start) + Duration::days(GRACE_DAYS)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn trial_lasts_fourteen_days() {
        let start = datetime!(2025-02-20 09:30:00 UTC);
        assert_eq!(trial_ends_at(start), datetime!(2025-03-06 09:30:00 UTC));
    }

    #[test]
    fn grace_period_follows_the_trial() {
        let start = datetime!(2025-02-20 09:30:00 UTC);
        assert_eq!(grace_ends_at(start), datetime!(2025-03-13 09:30:00 UTC));
    }
}
