//! Parsing of the top level and of each state, and the checks across states.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::choice::parse_branch;
use super::error::{DefinitionError, Location};
use super::fields::Fields;
use super::{
    Catcher, ChoiceState, Definition, FailState, IoPaths, PassState, Retrier, State, SucceedState,
    TaskState, Transition, WaitState, WaitUntil,
};
use crate::errors::STATES_ALL;

type Result<T> = std::result::Result<T, DefinitionError>;

/// Parses the type-specific fields of a state, given its name.
type StateParser = fn(&str, &Fields<'_>) -> Result<State>;

const TOP_LEVEL_FIELDS: [&str; 6] = [
    "StartAt",
    "States",
    "Comment",
    "TimeoutSeconds",
    "Version",
    "QueryLanguage",
];
const COMMON_FIELDS: [&str; 3] = ["Type", "Comment", "QueryLanguage"];
const TASK_FIELDS: [&str; 11] = [
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Resource",
    "TimeoutSeconds",
    "Retry",
    "Catch",
];
const PASS_FIELDS: [&str; 7] = [
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "Result",
    "ResultPath",
];
const WAIT_FIELDS: [&str; 8] = [
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
];
const CHOICE_FIELDS: [&str; 4] = ["InputPath", "OutputPath", "Choices", "Default"];
const SUCCEED_FIELDS: [&str; 2] = ["InputPath", "OutputPath"];
const FAIL_FIELDS: [&str; 2] = ["Error", "Cause"];
const RETRIER_FIELDS: [&str; 6] = [
    "ErrorEquals",
    "IntervalSeconds",
    "BackoffRate",
    "MaxAttempts",
    "MaxDelaySeconds",
    "Comment",
];
const CATCHER_FIELDS: [&str; 4] = ["ErrorEquals", "Next", "ResultPath", "Comment"];

pub(super) fn parse_definition(json: &str) -> Result<Definition> {
    let value: Value = serde_json::from_str(json).map_err(DefinitionError::Json)?;
    let location = Location::Definition;
    let top = Fields::of(&value, &location, "")?;
    top.allow_only(&TOP_LEVEL_FIELDS)?;
    check_query_language(&top)?;
    if let Some(version) = top.string("Version")? {
        if version != "1.0" {
            return Err(DefinitionError::UnsupportedValue {
                location: location.clone(),
                field: "Version".to_owned(),
                value: version.to_owned(),
            });
        }
    }
    top.string("Comment")?;

    let start_at = top.required_string("StartAt")?.to_owned();
    let timeout_seconds = top.integer("TimeoutSeconds", 1)?;
    let states_value = top.get("States").ok_or_else(|| top.missing("States"))?;
    let Value::Object(state_map) = states_value else {
        return Err(top.invalid("States", "expected a JSON object of states"));
    };
    if state_map.is_empty() {
        return Err(top.invalid("States", "expected at least one state"));
    }

    let mut states = BTreeMap::new();
    for (name, state_value) in state_map {
        states.insert(name.clone(), parse_state(name, state_value)?);
    }

    let definition = Definition {
        start_at,
        timeout_seconds,
        states,
    };
    check_targets(&definition)?;
    check_reachability(&definition)?;
    Ok(definition)
}

fn check_query_language(fields: &Fields<'_>) -> Result<()> {
    match fields.string("QueryLanguage")? {
        None | Some("JSONPath") => Ok(()),
        Some(other) => Err(DefinitionError::UnsupportedValue {
            location: fields.location().clone(),
            field: fields.name("QueryLanguage"),
            value: other.to_owned(),
        }),
    }
}

fn parse_state(name: &str, value: &Value) -> Result<State> {
    let location = Location::State(name.to_owned());
    let fields = Fields::of(value, &location, "")?;
    let state_type = fields.required_string("Type")?;
    let (specific, parser): (&[&str], StateParser) = match state_type {
        "Task" => (&TASK_FIELDS, parse_task),
        "Pass" => (&PASS_FIELDS, parse_pass),
        "Wait" => (&WAIT_FIELDS, parse_wait),
        "Choice" => (&CHOICE_FIELDS, parse_choice),
        "Succeed" => (&SUCCEED_FIELDS, parse_succeed),
        "Fail" => (&FAIL_FIELDS, parse_fail),
        other => {
            return Err(DefinitionError::UnsupportedStateType {
                state: name.to_owned(),
                state_type: other.to_owned(),
            })
        }
    };

    let allowed: Vec<&str> = COMMON_FIELDS.iter().chain(specific).copied().collect();
    fields.allow_only(&allowed)?;
    check_query_language(&fields)?;
    fields.string("Comment")?;
    parser(name, &fields)
}

fn parse_io(fields: &Fields<'_>) -> Result<IoPaths> {
    Ok(IoPaths {
        input_path: fields.input_path("InputPath")?,
        output_path: fields.input_path("OutputPath")?,
    })
}

fn parse_transition(name: &str, fields: &Fields<'_>) -> Result<Transition> {
    let next = fields.string("Next")?;
    let end = fields.bool("End")?;
    match (next, end) {
        (Some(_), Some(true)) => Err(fields.conflict("Next", "End")),
        (Some(next), _) => Ok(Transition::Next(next.to_owned())),
        (None, Some(true)) => Ok(Transition::End),
        (None, _) => Err(DefinitionError::MissingTransition {
            state: name.to_owned(),
        }),
    }
}

fn parse_task(name: &str, fields: &Fields<'_>) -> Result<State> {
    let resource = fields.required_string("Resource")?.to_owned();
    let timeout = fields
        .integer("TimeoutSeconds", 1)?
        .map(Duration::from_secs);
    let retry = match fields.array("Retry")? {
        Some(items) => parse_list(fields, "Retry", items, parse_retrier)?,
        None => Vec::new(),
    };
    let catch = match fields.array("Catch")? {
        Some(items) => parse_list(fields, "Catch", items, parse_catcher)?,
        None => Vec::new(),
    };
    check_catch_all_is_last(
        fields,
        "Retry",
        retry.iter().map(|retrier| &retrier.error_equals),
    )?;
    check_catch_all_is_last(
        fields,
        "Catch",
        catch.iter().map(|catcher| &catcher.error_equals),
    )?;

    Ok(State::Task(TaskState {
        resource,
        io: parse_io(fields)?,
        parameters: fields.template("Parameters")?,
        result_selector: fields.template("ResultSelector")?,
        result_path: fields.input_path("ResultPath")?,
        timeout,
        retry,
        catch,
        transition: parse_transition(name, fields)?,
    }))
}

fn parse_list<T>(
    fields: &Fields<'_>,
    field: &str,
    items: &[Value],
    parse_item: fn(&Fields<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_item(&fields.nested(item, &format!("{field}[{index}]"))?))
        .collect()
}

fn parse_error_equals(fields: &Fields<'_>) -> Result<Vec<String>> {
    let items = fields
        .array("ErrorEquals")?
        .ok_or_else(|| fields.missing("ErrorEquals"))?;
    if items.is_empty() {
        return Err(fields.invalid("ErrorEquals", "expected at least one error name"));
    }
    let names = items
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| fields.invalid("ErrorEquals", "expected an array of error names"))?;
    if names.len() > 1 && names.iter().any(|name| name == STATES_ALL) {
        return Err(fields.invalid(
            "ErrorEquals",
            "\"States.ALL\" must be the only error name in its list",
        ));
    }
    Ok(names)
}

fn parse_retrier(fields: &Fields<'_>) -> Result<Retrier> {
    fields.allow_only(&RETRIER_FIELDS)?;
    let backoff_rate = fields.number("BackoffRate")?.unwrap_or(2.0);
    if backoff_rate < 1.0 {
        return Err(fields.invalid("BackoffRate", "expected a number of at least 1.0"));
    }
    let max_attempts = match fields.integer("MaxAttempts", 0)? {
        Some(attempts) => u32::try_from(attempts)
            .map_err(|_| fields.invalid("MaxAttempts", "the value is too large"))?,
        None => 3,
    };
    Ok(Retrier {
        error_equals: parse_error_equals(fields)?,
        interval_seconds: fields.integer("IntervalSeconds", 1)?.unwrap_or(1),
        backoff_rate,
        max_attempts,
        max_delay_seconds: fields.integer("MaxDelaySeconds", 1)?,
    })
}

fn parse_catcher(fields: &Fields<'_>) -> Result<Catcher> {
    fields.allow_only(&CATCHER_FIELDS)?;
    Ok(Catcher {
        error_equals: parse_error_equals(fields)?,
        next: fields.required_string("Next")?.to_owned(),
        result_path: fields.input_path("ResultPath")?,
    })
}

/// Rejects a retrier or catcher on `States.ALL` that is followed by another one, which could never match.
fn check_catch_all_is_last<'a>(
    fields: &Fields<'_>,
    field: &str,
    lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
) -> Result<()> {
    let count = lists.len();
    for (index, names) in lists.enumerate() {
        if index + 1 < count && names.iter().any(|name| name == STATES_ALL) {
            return Err(fields.invalid(
                &format!("{field}[{index}].ErrorEquals"),
                "an entry on \"States.ALL\" must be the last one",
            ));
        }
    }
    Ok(())
}

fn parse_pass(name: &str, fields: &Fields<'_>) -> Result<State> {
    Ok(State::Pass(PassState {
        io: parse_io(fields)?,
        parameters: fields.template("Parameters")?,
        result: fields.get("Result").cloned(),
        result_path: fields.input_path("ResultPath")?,
        transition: parse_transition(name, fields)?,
    }))
}

fn parse_wait(name: &str, fields: &Fields<'_>) -> Result<State> {
    let present: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
        .into_iter()
        .filter(|field| fields.contains(field))
        .collect();
    let until = match present.as_slice() {
        ["Seconds"] => WaitUntil::Seconds(fields.integer("Seconds", 0)?.unwrap_or_default()),
        ["SecondsPath"] => WaitUntil::SecondsPath(required_path(fields, "SecondsPath")?),
        ["TimestampPath"] => WaitUntil::TimestampPath(required_path(fields, "TimestampPath")?),
        [_] => {
            let text = fields.required_string("Timestamp")?;
            let timestamp = OffsetDateTime::parse(text, &Rfc3339).map_err(|error| {
                fields.invalid(
                    "Timestamp",
                    format!("expected an RFC 3339 timestamp: {error}"),
                )
            })?;
            WaitUntil::Timestamp(timestamp)
        }
        [] => return Err(fields.missing("Seconds")),
        [first, second, ..] => return Err(fields.conflict(first, second)),
    };
    Ok(State::Wait(WaitState {
        io: parse_io(fields)?,
        until,
        transition: parse_transition(name, fields)?,
    }))
}

fn required_path(fields: &Fields<'_>, field: &str) -> Result<crate::path::Path> {
    fields.path(field)?.ok_or_else(|| fields.missing(field))
}

fn parse_choice(_name: &str, fields: &Fields<'_>) -> Result<State> {
    let items = fields
        .array("Choices")?
        .ok_or_else(|| fields.missing("Choices"))?;
    if items.is_empty() {
        return Err(fields.invalid("Choices", "expected at least one choice rule"));
    }
    Ok(State::Choice(ChoiceState {
        io: parse_io(fields)?,
        choices: parse_list(fields, "Choices", items, parse_branch)?,
        default: fields.string("Default")?.map(str::to_owned),
    }))
}

fn parse_succeed(_name: &str, fields: &Fields<'_>) -> Result<State> {
    Ok(State::Succeed(SucceedState {
        io: parse_io(fields)?,
    }))
}

fn parse_fail(_name: &str, fields: &Fields<'_>) -> Result<State> {
    Ok(State::Fail(FailState {
        error: fields.string("Error")?.map(str::to_owned),
        cause: fields.string("Cause")?.map(str::to_owned),
    }))
}

/// Lists the (field, target state) pairs of every transition out of `state`.
fn targets(state: &State) -> Vec<(String, &str)> {
    let mut targets = Vec::new();
    match state {
        State::Task(task) => {
            targets.extend(next_target(&task.transition));
            for (index, catcher) in task.catch.iter().enumerate() {
                targets.push((format!("Catch[{index}].Next"), catcher.next.as_str()));
            }
        }
        State::Pass(pass) => targets.extend(next_target(&pass.transition)),
        State::Wait(wait) => targets.extend(next_target(&wait.transition)),
        State::Choice(choice) => {
            for (index, branch) in choice.choices.iter().enumerate() {
                targets.push((format!("Choices[{index}].Next"), branch.next.as_str()));
            }
            if let Some(default) = &choice.default {
                targets.push(("Default".to_owned(), default.as_str()));
            }
        }
        State::Succeed(_) | State::Fail(_) => {}
    }
    targets
}

fn next_target(transition: &Transition) -> Option<(String, &str)> {
    match transition {
        Transition::Next(next) => Some(("Next".to_owned(), next.as_str())),
        Transition::End => None,
    }
}

fn check_targets(definition: &Definition) -> Result<()> {
    if !definition.states.contains_key(&definition.start_at) {
        return Err(DefinitionError::UnknownState {
            location: Location::Definition,
            field: "StartAt".to_owned(),
            target: definition.start_at.clone(),
        });
    }
    for (name, state) in &definition.states {
        for (field, target) in targets(state) {
            if !definition.states.contains_key(target) {
                return Err(DefinitionError::UnknownState {
                    location: Location::State(name.clone()),
                    field,
                    target: target.to_owned(),
                });
            }
        }
    }
    Ok(())
}

fn check_reachability(definition: &Definition) -> Result<()> {
    let mut reached = BTreeSet::from([definition.start_at.as_str()]);
    let mut queue = VecDeque::from([definition.start_at.as_str()]);
    while let Some(name) = queue.pop_front() {
        let Some(state) = definition.states.get(name) else {
            continue;
        };
        for (_, target) in targets(state) {
            if reached.insert(target) {
                queue.push_back(target);
            }
        }
    }
    match definition
        .states
        .keys()
        .find(|name| !reached.contains(name.as_str()))
    {
        Some(name) => Err(DefinitionError::UnreachableState {
            state: name.clone(),
        }),
        None => Ok(()),
    }
}
