//! Simulated event time: the instant a test puts into an HTTP payload or a scheduled event in place
//! of the clock, so that functions which read "now" from their event can be run on any date.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Request header that sets `requestContext.time` and `requestContext.timeEpoch` when
/// `LOCAL_TRUST_TIME_HEADER=1`.
pub const TIME_HEADER: &str = "x-local-time";

/// An example of the accepted format, for error messages and help text.
pub const EXAMPLE: &str = "2026-12-04T19:40:23Z";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an RFC 3339 timestamp (expected a form like {EXAMPLE} or 2026-12-04T20:40:23.250+01:00): {reason}")]
pub struct EventTimeError {
    pub value: String,
    pub reason: String,
}

/// An instant in UTC taken from an RFC 3339 timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTime(OffsetDateTime);

impl EventTime {
    /// Parses an RFC 3339 timestamp with any offset and converts it to UTC.
    pub fn parse(value: &str) -> Result<Self, EventTimeError> {
        OffsetDateTime::parse(value.trim(), &Rfc3339)
            .map(|at| Self(at.to_offset(UtcOffset::UTC)))
            .map_err(|error| EventTimeError {
                value: value.to_string(),
                reason: error.to_string(),
            })
    }

    /// Reads the system clock.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// Returns the milliseconds since the Unix epoch, as API Gateway writes `requestContext.timeEpoch`.
    pub fn epoch_millis(&self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// Formats the time as API Gateway's `requestContext.time`, such as `04/Dec/2026:19:40:23 +0000`.
    pub fn api_gateway_format(&self) -> String {
        let format =
            format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
        self.0.format(&format).unwrap_or_default()
    }

    /// Formats the time as EventBridge writes an event's `time`: UTC to the second, such as `2026-12-04T19:40:23Z`.
    pub fn eventbridge_format(&self) -> String {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        self.0.format(&format).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_converted_to_utc() {
        let at = EventTime::parse("2026-12-04T21:40:23.250+02:00").expect("parses");
        assert_eq!(at.api_gateway_format(), "04/Dec/2026:19:40:23 +0000");
        assert_eq!(at.eventbridge_format(), "2026-12-04T19:40:23Z");
        assert_eq!(at.epoch_millis(), 1_796_413_223_250);
    }

    #[test]
    fn single_digit_days_keep_their_leading_zero() {
        let at = EventTime::parse("2028-02-09T03:04:05Z").expect("parses");
        assert_eq!(at.api_gateway_format(), "09/Feb/2028:03:04:05 +0000");
        assert_eq!(at.eventbridge_format(), "2028-02-09T03:04:05Z");
    }

    #[test]
    fn leap_day_parses() {
        let at = EventTime::parse("2028-02-29T23:59:59Z").expect("parses");
        assert_eq!(at.eventbridge_format(), "2028-02-29T23:59:59Z");
    }

    #[test]
    fn malformed_values_are_rejected() {
        for value in [
            "",
            "tomorrow",
            "2026-12-04",
            "2026-12-04 19:40:23",
            "2026-12-04T19:40:23",
            "2026-02-30T00:00:00Z",
            "04/Dec/2026:19:40:23 +0000",
        ] {
            assert!(EventTime::parse(value).is_err(), "accepted {value:?}");
        }
    }

    #[test]
    fn error_message_shows_value_and_expected_form() {
        let error = EventTime::parse("tomorrow").expect_err("rejects");
        let message = error.to_string();
        assert!(message.contains("\"tomorrow\""), "{message}");
        assert!(message.contains("RFC 3339"), "{message}");
        assert!(message.contains(EXAMPLE), "{message}");
    }
}
