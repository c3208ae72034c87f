use std::fmt;

use crate::path::PathError;
use crate::template::TemplateError;

/// Place in the definition where a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The top-level object of the definition.
    Definition,
    /// The state with this name.
    State(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Definition => f.write_str("definition"),
            Location::State(name) => write!(f, "state \"{name}\""),
        }
    }
}

/// A definition that the local runtime cannot run.
///
/// Field names are dotted from the state (or the top level), for example `Retry[0].BackoffRate`
/// or `Choices[2].And[0].Variable`.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The text is not JSON.
    #[error("the definition is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// An ASL feature outside the supported subset, or a field that ASL does not define.
    #[error("{location}: field \"{field}\" is not supported by the local runtime")]
    UnsupportedField { location: Location, field: String },
    /// Map, Parallel and any other state type outside the supported subset.
    #[error("state \"{state}\": type \"{state_type}\" is not supported by the local runtime")]
    UnsupportedStateType { state: String, state_type: String },
    /// A field value that selects an unsupported feature, such as `"QueryLanguage": "JSONata"`.
    #[error(
        "{location}: value \"{value}\" of field \"{field}\" is not supported by the local runtime"
    )]
    UnsupportedValue {
        location: Location,
        field: String,
        value: String,
    },
    /// A required field is absent.
    #[error("{location}: required field \"{field}\" is missing")]
    MissingField { location: Location, field: String },
    /// A field has the wrong type or an out-of-range value.
    #[error("{location}: field \"{field}\" is invalid: {reason}")]
    InvalidField {
        location: Location,
        field: String,
        reason: String,
    },
    /// Two fields that exclude each other are both present.
    #[error("{location}: fields \"{first}\" and \"{second}\" cannot be used together")]
    ConflictingFields {
        location: Location,
        first: String,
        second: String,
    },
    /// A Task, Pass or Wait state that neither names a Next state nor ends the execution.
    #[error("state \"{state}\" needs either \"Next\" or \"End\": true")]
    MissingTransition { state: String },
    /// A JSONPath expression outside the supported subset.
    #[error("{location}: field \"{field}\": {source}")]
    Path {
        location: Location,
        field: String,
        #[source]
        source: PathError,
    },
    /// An invalid Parameters or ResultSelector template, including intrinsic functions.
    #[error("{location}: field \"{field}\": {source}")]
    Template {
        location: Location,
        field: String,
        #[source]
        source: TemplateError,
    },
    /// StartAt, Next, Default or a Catch Next names a state that does not exist.
    #[error("{location}: field \"{field}\" names state \"{target}\", which the definition does not contain")]
    UnknownState {
        location: Location,
        field: String,
        target: String,
    },
    /// A state that no transition leads to.
    #[error("state \"{state}\" cannot be reached from StartAt")]
    UnreachableState { state: String },
}
