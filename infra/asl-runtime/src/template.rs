//! Payload templates: the values of Parameters and ResultSelector.
//!
//! A key ending in `.$` takes its value from a path, so `{"id.$": "$.tenant_id"}` becomes
//! `{"id": <input.tenant_id>}`. Nested objects and objects inside arrays are processed the same way.

use serde_json::{Map, Value};

use crate::path::{Path, PathError, PathEvalError};

/// A template node, parsed once with the definition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Literal(Value),
    Path(Path),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

/// An invalid Parameters or ResultSelector template. `key` is the dotted location inside it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("key \"{key}\" ends in \".$\" but its value is not a string path")]
    NotAPath { key: String },
    #[error("key \"{key}\" uses the intrinsic function \"{function}\", which is not supported by the local runtime")]
    IntrinsicFunction { key: String, function: String },
    #[error("key \"{key}\": {source}")]
    InvalidPath {
        key: String,
        #[source]
        source: PathError,
    },
}

impl Template {
    /// Parses a template from the JSON value of a Parameters or ResultSelector field.
    pub(crate) fn parse(value: &Value) -> Result<Template, TemplateError> {
        parse_node(value, "")
    }

    /// Builds the payload, reading `$` paths from `input` and `$$` paths from `context`.
    pub(crate) fn evaluate(&self, input: &Value, context: &Value) -> Result<Value, PathEvalError> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Path(path) => path.get(input, context).cloned(),
            Template::Object(entries) => {
                let mut map = Map::new();
                for (key, node) in entries {
                    map.insert(key.clone(), node.evaluate(input, context)?);
                }
                Ok(Value::Object(map))
            }
            Template::Array(items) => items
                .iter()
                .map(|item| item.evaluate(input, context))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }
}

fn parse_node(value: &Value, location: &str) -> Result<Template, TemplateError> {
    match value {
        Value::Object(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (key, child) in map {
                let child_location = join(location, key);
                let entry = match key.strip_suffix(".$") {
                    Some(name) => (name.to_owned(), parse_path_entry(child, &child_location)?),
                    None => (key.clone(), parse_node(child, &child_location)?),
                };
                entries.push(entry);
            }
            Ok(Template::Object(entries))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| parse_node(item, &format!("{location}[{index}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Template::Array),
        scalar => Ok(Template::Literal(scalar.clone())),
    }
}

fn parse_path_entry(value: &Value, key: &str) -> Result<Template, TemplateError> {
    let Value::String(text) = value else {
        return Err(TemplateError::NotAPath {
            key: key.to_owned(),
        });
    };
    if text.starts_with("States.") {
        let function = text.split('(').next().unwrap_or(text).trim().to_owned();
        return Err(TemplateError::IntrinsicFunction {
            key: key.to_owned(),
            function,
        });
    }
    Path::parse(text)
        .map(Template::Path)
        .map_err(|source| TemplateError::InvalidPath {
            key: key.to_owned(),
            source,
        })
}

fn join(location: &str, key: &str) -> String {
    if location.is_empty() {
        key.to_owned()
    } else {
        format!("{location}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn template_resolves_paths_in_nested_objects_and_arrays() {
        let template = Template::parse(&json!({
            "FunctionName": "provisioner",
            "Payload": {
                "step": "validate",
                "tenant_id.$": "$.tenant_id",
                "execution.$": "$$.Execution.Name",
                "items": [{"first.$": "$.list[0]"}, 7]
            }
        }))
        .expect("valid template");
        let input = json!({"tenant_id": "tnt_1", "list": ["a", "b"]});
        let context = json!({"Execution": {"Name": "tnt_1-1"}});

        let payload = template.evaluate(&input, &context).expect("paths resolve");

        assert_eq!(
            payload,
            json!({
                "FunctionName": "provisioner",
                "Payload": {
                    "step": "validate",
                    "tenant_id": "tnt_1",
                    "execution": "tnt_1-1",
                    "items": [{"first": "a"}, 7]
                }
            })
        );
    }

    #[test]
    fn template_with_missing_path_fails_to_evaluate() {
        let template = Template::parse(&json!({"id.$": "$.missing"})).expect("valid template");
        assert!(template.evaluate(&json!({}), &json!({})).is_err());
    }

    #[test]
    fn template_rejects_intrinsic_functions() {
        let error =
            Template::parse(&json!({"a": {"msg.$": "States.Format('x {}', $.id)"}})).unwrap_err();
        assert_eq!(
            error,
            TemplateError::IntrinsicFunction {
                key: "a.msg.$".into(),
                function: "States.Format".into()
            }
        );
    }

    #[test]
    fn template_rejects_a_non_string_path_value() {
        let error = Template::parse(&json!({"id.$": 3})).unwrap_err();
        assert_eq!(error, TemplateError::NotAPath { key: "id.$".into() });
    }
}
