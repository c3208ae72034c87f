//! EventBridge schedule stand-in: `rate(...)` and `cron(...)` expressions that invoke a function.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::event_time::{EventTime, EventTimeError, EXAMPLE};
use crate::lambda_pool::{FunctionPool, InvokeResult};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("function {function}: unsupported schedule expression {expression:?}: {reason}")]
pub struct ScheduleError {
    pub function: String,
    pub expression: String,
    pub reason: String,
}

/// A rejected body of `POST /_local/schedules/{FunctionLogicalId}/run`.
#[derive(Debug, thiserror::Error)]
pub enum RunRequestError {
    #[error(
        "invalid request body: {0}; send no body or a JSON object like {{\"time\": \"{EXAMPLE}\"}}"
    )]
    NotJson(#[source] serde_json::Error),
    #[error(
        "invalid request body: expected a JSON object like {{\"time\": \"{EXAMPLE}\"}}, got {0}"
    )]
    NotObject(Value),
    #[error("invalid time field: expected a string with an RFC 3339 timestamp such as {EXAMPLE}, got {0}")]
    TimeNotText(Value),
    #[error("invalid time field: {0}")]
    InvalidTime(#[source] EventTimeError),
    #[error("unknown field {0:?} in the request body; the only field is time")]
    UnknownField(String),
}

/// Reads the optional body `{"time": "<RFC 3339>"}` of a schedule run: `None` when the body is
/// empty or has no `time`, so the event gets the current time.
pub fn parse_run_request(body: &[u8]) -> Result<Option<EventTime>, RunRequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body).map_err(RunRequestError::NotJson)?;
    let Value::Object(fields) = value else {
        return Err(RunRequestError::NotObject(value));
    };
    if let Some(unknown) = fields.keys().find(|key| key.as_str() != "time") {
        return Err(RunRequestError::UnknownField(unknown.clone()));
    }
    match fields.get("time") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => EventTime::parse(text)
            .map(Some)
            .map_err(RunRequestError::InvalidTime),
        Some(other) => Err(RunRequestError::TimeNotText(other.clone())),
    }
}

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    Rate(Duration),
    Cron(Box<Cron>),
}

/// A cron expression with its six fields expanded into the allowed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days_of_month: Option<Vec<u32>>,
    months: Vec<u32>,
    /// 1 = Sunday … 7 = Saturday, as EventBridge numbers them.
    days_of_week: Option<Vec<u32>>,
    years: Option<Vec<u32>>,
}

impl Expression {
    /// Parses `rate(5 minutes)` or `cron(0/5 * * * ? *)`.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let expression = expression.trim();
        if let Some(inner) = expression
            .strip_prefix("rate(")
            .and_then(|e| e.strip_suffix(')'))
        {
            let mut parts = inner.split_whitespace();
            let count: u64 = parts
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .ok_or("rate needs a positive number")?;
            let unit = match parts.next() {
                Some("minute" | "minutes") => 60,
                Some("hour" | "hours") => 3600,
                Some("day" | "days") => 86_400,
                _ => return Err("rate unit must be minute(s), hour(s) or day(s)".to_string()),
            };
            return Ok(Expression::Rate(Duration::from_secs(count * unit)));
        }
        if let Some(inner) = expression
            .strip_prefix("cron(")
            .and_then(|e| e.strip_suffix(')'))
        {
            return Cron::parse(inner).map(|c| Expression::Cron(Box::new(c)));
        }
        Err("expected rate(...) or cron(...)".to_string())
    }

    /// Returns the time from `now` until the next firing.
    pub fn delay_after(&self, now: OffsetDateTime) -> Option<Duration> {
        match self {
            Expression::Rate(period) => Some(*period),
            Expression::Cron(cron) => {
                let next = cron.next_after(now)?;
                let seconds = (next - now).whole_milliseconds().max(0);
                Some(Duration::from_millis(u64::try_from(seconds).unwrap_or(0)))
            }
        }
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn parse_value(text: &str, names: &[&str], first: u32) -> Result<u32, String> {
    if let Some(index) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(first + u32::try_from(index).unwrap_or(0));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

/// Returns whether a cron field part uses `L`, `W` or `#` (such as `L`, `15W`, `5L`, `2#1`).
fn uses_special_character(part: &str) -> bool {
    let digits_then = |suffix: char| {
        part.strip_suffix(suffix)
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
    };
    part.contains('#') || part == "L" || part == "LW" || digits_then('L') || digits_then('W')
}

/// Expands one cron field; `None` stands for `?`.
fn parse_field(
    field: &str,
    min: u32,
    max: u32,
    names: &[&str],
) -> Result<Option<Vec<u32>>, String> {
    if field == "?" {
        return Ok(None);
    }
    let mut values = Vec::new();
    for part in field.split(',') {
        if uses_special_character(part) {
            return Err(format!(
                "{part:?} uses L, W or #, which the local runtime does not support"
            ));
        }
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .map_err(|_| format!("invalid step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("zero step in {part:?}"));
        }
        let (start, end) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (parse_value(a, names, min)?, parse_value(b, names, min)?)
        } else {
            let start = parse_value(range, names, min)?;
            (start, if part.contains('/') { max } else { start })
        };
        if start < min || end > max || start > end {
            return Err(format!("{part:?} is outside {min}-{max}"));
        }
        values.extend((start..=end).step_by(step as usize));
    }
    values.sort_unstable();
    values.dedup();
    Ok(Some(values))
}

impl Cron {
    fn parse(inner: &str) -> Result<Self, String> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, months, dow, years] = fields.as_slice() else {
            return Err(
                "cron needs six fields: minutes hours day-of-month month day-of-week year"
                    .to_string(),
            );
        };
        let required = |value: Option<Vec<u32>>, name: &str| {
            value.ok_or(format!("? is not allowed in {name}"))
        };
        let cron = Self {
            minutes: required(parse_field(minutes, 0, 59, &[])?, "minutes")?,
            hours: required(parse_field(hours, 0, 23, &[])?, "hours")?,
            days_of_month: parse_field(dom, 1, 31, &[])?,
            months: required(parse_field(months, 1, 12, &MONTHS)?, "month")?,
            days_of_week: parse_field(dow, 1, 7, &WEEKDAYS)?,
            years: parse_field(years, 1970, 2199, &[])?,
        };
        if cron.days_of_month.is_some() == cron.days_of_week.is_some() {
            return Err("exactly one of day-of-month and day-of-week must be ?".to_string());
        }
        Ok(cron)
    }

    /// Finds the next matching minute after `now` (UTC), searching at most about four years ahead.
    fn next_after(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let mut candidate =
            now.replace_second(0).ok()?.replace_nanosecond(0).ok()? + time::Duration::minutes(1);
        for _ in 0..(4 * 366 * 24 * 60) {
            if self.matches(candidate) {
                return Some(candidate);
            }
            candidate += time::Duration::minutes(1);
        }
        None
    }

    fn matches(&self, at: OffsetDateTime) -> bool {
        let weekday = u32::from(at.weekday().number_from_sunday());
        self.minutes.contains(&u32::from(at.minute()))
            && self.hours.contains(&u32::from(at.hour()))
            && self.months.contains(&u32::from(u8::from(at.month())))
            && self
                .days_of_month
                .as_ref()
                .is_none_or(|d| d.contains(&u32::from(at.day())))
            && self
                .days_of_week
                .as_ref()
                .is_none_or(|d| d.contains(&weekday))
            && self
                .years
                .as_ref()
                .is_none_or(|y| u32::try_from(at.year()).is_ok_and(|year| y.contains(&year)))
    }
}

/// One schedule event of one function.
#[derive(Clone)]
pub struct Schedule {
    pub function: Arc<FunctionPool>,
    pub event_name: String,
    pub expression_text: String,
    pub expression: Expression,
    pub enabled: bool,
    pub rule_arn: String,
    pub account_id: String,
    pub region: String,
}

impl Schedule {
    pub fn new(
        function: Arc<FunctionPool>,
        event_name: &str,
        expression_text: &str,
        enabled: bool,
        account_id: &str,
        region: &str,
    ) -> Result<Self, ScheduleError> {
        let expression = Expression::parse(expression_text).map_err(|reason| ScheduleError {
            function: function.spec.logical_id.clone(),
            expression: expression_text.to_string(),
            reason,
        })?;
        let rule_arn = format!(
            "arn:aws:events:{region}:{account_id}:rule/{}-{event_name}",
            function.spec.logical_id
        );
        Ok(Self {
            function,
            event_name: event_name.to_string(),
            expression_text: expression_text.to_string(),
            expression,
            enabled,
            rule_arn,
            account_id: account_id.to_string(),
            region: region.to_string(),
        })
    }

    /// Builds the `Scheduled Event` that EventBridge sends at `time`.
    pub fn event(&self, time: EventTime) -> Value {
        json!({
            "version": "0",
            "id": ulid::Ulid::new().to_string().to_lowercase(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": time.eventbridge_format(),
            "region": self.region,
            "resources": [self.rule_arn],
            "detail": {},
        })
    }

    /// Invokes the function once with a scheduled event whose `time` is `time`.
    pub async fn fire(&self, time: EventTime) -> InvokeResult {
        let event_time = time.eventbridge_format();
        let result = self.function.invoke(&self.event(time)).await;
        match &result {
            Ok(_) => {
                tracing::info!(function = %self.function.spec.logical_id, schedule = %self.expression_text, time = %event_time, "scheduled invocation succeeded")
            }
            Err(error) => {
                tracing::warn!(function = %self.function.spec.logical_id, schedule = %self.expression_text, time = %event_time, error = %error, "scheduled invocation failed")
            }
        }
        result
    }

    /// Fires on the expression's timetable until `stop` turns true.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if !self.enabled {
            tracing::info!(function = %self.function.spec.logical_id, event = %self.event_name, "schedule is disabled");
            return;
        }
        tracing::info!(function = %self.function.spec.logical_id, schedule = %self.expression_text, "schedule started");
        loop {
            let Some(delay) = self.expression.delay_after(OffsetDateTime::now_utc()) else {
                tracing::warn!(function = %self.function.spec.logical_id, schedule = %self.expression_text, "schedule has no future firing time");
                return;
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = crate::lambda_pool::wait_until_set(&mut stop) => return,
            }
            let _ = self.fire(EventTime::now()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn rate_expressions_parse_to_durations() {
        assert_eq!(
            Expression::parse("rate(1 minute)"),
            Ok(Expression::Rate(Duration::from_secs(60)))
        );
        assert_eq!(
            Expression::parse("rate(2 hours)"),
            Ok(Expression::Rate(Duration::from_secs(7200)))
        );
        assert!(Expression::parse("rate(0 minutes)").is_err());
        assert!(Expression::parse("rate(5 weeks)").is_err());
    }

    #[test]
    fn cron_finds_next_quarter_hour() {
        let cron = Expression::parse("cron(0/15 * * * ? *)").expect("parses");
        let delay = cron
            .delay_after(datetime!(2026-01-01 10:07:30 UTC))
            .expect("fires");
        assert_eq!(delay, Duration::from_secs(7 * 60 + 30));
    }

    #[test]
    fn cron_honours_weekday_names() {
        let Expression::Cron(cron) = Expression::parse("cron(0 9 ? * MON-FRI *)").expect("parses")
        else {
            panic!("expected cron");
        };
        // 2026-01-03 is a Saturday, so the next firing is Monday 2026-01-05 09:00.
        let next = cron
            .next_after(datetime!(2026-01-03 12:00 UTC))
            .expect("fires");
        assert_eq!(next, datetime!(2026-01-05 09:00 UTC));
    }

    #[test]
    fn run_request_without_body_uses_the_clock() {
        assert!(parse_run_request(b"").expect("accepts").is_none());
        assert!(parse_run_request(b" \n").expect("accepts").is_none());
        assert!(parse_run_request(b"{}").expect("accepts").is_none());
        assert!(parse_run_request(br#"{"time": null}"#)
            .expect("accepts")
            .is_none());
    }

    #[test]
    fn run_request_time_is_converted_to_utc() {
        let time = parse_run_request(br#"{"time": "2026-12-04T21:40:23+02:00"}"#)
            .expect("accepts")
            .expect("has a time");
        assert_eq!(time.eventbridge_format(), "2026-12-04T19:40:23Z");
    }

    #[test]
    fn run_request_rejects_bad_bodies_naming_the_problem() {
        let cases: [(&[u8], &str); 5] = [
            (b"not json", "invalid request body"),
            (b"[1]", "expected a JSON object"),
            (br#"{"time": 5}"#, "invalid time field"),
            (br#"{"time": "yesterday"}"#, "invalid time field"),
            (
                br#"{"Time": "2026-12-04T19:40:23Z"}"#,
                "unknown field \"Time\"",
            ),
        ];
        for (body, expected) in cases {
            let message = parse_run_request(body).expect_err("rejects").to_string();
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn cron_rejects_unsupported_forms() {
        assert!(Expression::parse("cron(0 9 L * ? *)").is_err());
        assert!(Expression::parse("cron(0 9 * * *)").is_err());
        assert!(Expression::parse("cron(0 9 * * MON *)").is_err());
    }
}
