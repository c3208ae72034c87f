//! InputPath, ResultPath and OutputPath processing.

use serde_json::{Map, Value};

use crate::path::{Path, PathEvalError};

/// Applies InputPath or OutputPath. `None` (JSON `null`) selects an empty object.
pub(super) fn select(
    path: Option<&Path>,
    value: &Value,
    context: &Value,
) -> Result<Value, PathEvalError> {
    match path {
        Some(path) => path.get(value, context).cloned(),
        None => Ok(Value::Object(Map::new())),
    }
}

/// Applies ResultPath: writes `result` into a copy of the raw state input.
/// `None` (JSON `null`) discards the result and keeps the input.
pub(super) fn merge_result(
    path: Option<&Path>,
    state_input: &Value,
    result: Value,
) -> Result<Value, PathEvalError> {
    let Some(path) = path else {
        return Ok(state_input.clone());
    };
    let mut output = state_input.clone();
    path.set(&mut output, result)?;
    Ok(output)
}
