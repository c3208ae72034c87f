//! Evaluation of CloudFormation intrinsic functions against parameters, pseudo parameters and physical ids.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::template::Template;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The reference names a resource whose physical id is not known yet.
    #[error("resource {0} is not created yet")]
    Pending(String),
    #[error("unknown reference {0}")]
    UnknownReference(String),
    #[error("resource {resource} has no attribute {attribute} locally")]
    UnknownAttribute { resource: String, attribute: String },
    #[error("unknown condition {0}")]
    UnknownCondition(String),
    #[error("invalid {function}: {reason}")]
    Invalid {
        function: &'static str,
        reason: String,
    },
}

/// Values of `Ref` and `Fn::GetAtt` for one resource.
#[derive(Debug, Clone, Default)]
pub struct Physical {
    pub reference: String,
    pub attributes: BTreeMap<String, String>,
}

impl Physical {
    pub fn new(reference: impl Into<String>) -> Self {
        Self {
            reference: reference.into(),
            attributes: BTreeMap::new(),
        }
    }

    pub fn with(mut self, attribute: &str, value: impl Into<String>) -> Self {
        self.attributes.insert(attribute.to_string(), value.into());
        self
    }
}

/// Resolves intrinsic functions; physical ids are added as resources are created.
#[derive(Debug, Clone)]
pub struct Resolver {
    parameters: BTreeMap<String, Value>,
    conditions: Map<String, Value>,
    mappings: Map<String, Value>,
    template_ids: Vec<String>,
    physical: BTreeMap<String, Physical>,
}

/// The marker for `Ref: AWS::NoValue`, removed from the enclosing object or list.
enum Resolved {
    Value(Value),
    NoValue,
}

impl Resolver {
    /// Builds a resolver from the template's parameters and the given values (parameter name → value).
    pub fn new(template: &Template, parameters: BTreeMap<String, Value>) -> Self {
        Self {
            parameters,
            conditions: template.conditions.clone(),
            mappings: template.mappings.clone(),
            template_ids: template.resources.keys().cloned().collect(),
            physical: BTreeMap::new(),
        }
    }

    pub fn set_physical(&mut self, logical_id: &str, physical: Physical) {
        self.physical.insert(logical_id.to_string(), physical);
    }

    pub fn physical(&self, logical_id: &str) -> Option<&Physical> {
        self.physical.get(logical_id)
    }

    pub fn all_physical(&self) -> &BTreeMap<String, Physical> {
        &self.physical
    }

    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.parameters.get(name)
    }

    /// Resolves every intrinsic function inside `value`.
    pub fn resolve(&self, value: &Value) -> Result<Value, ResolveError> {
        match self.resolve_inner(value)? {
            Resolved::Value(v) => Ok(v),
            Resolved::NoValue => Ok(Value::Null),
        }
    }

    /// Resolves `value` and renders the result as a string (numbers and booleans as text).
    pub fn resolve_string(&self, value: &Value) -> Result<String, ResolveError> {
        Ok(scalar_to_string(&self.resolve(value)?))
    }

    /// Evaluates the named entry of the `Conditions` section.
    pub fn condition(&self, name: &str) -> Result<bool, ResolveError> {
        let body = self
            .conditions
            .get(name)
            .ok_or_else(|| ResolveError::UnknownCondition(name.to_string()))?;
        self.evaluate_condition(body)
    }

    fn evaluate_condition(&self, body: &Value) -> Result<bool, ResolveError> {
        match self.resolve(body)? {
            Value::Bool(b) => Ok(b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            other => Err(ResolveError::Invalid {
                function: "condition",
                reason: format!("expected a boolean, got {other}"),
            }),
        }
    }

    fn resolve_inner(&self, value: &Value) -> Result<Resolved, ResolveError> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Resolved::Value(v) = self.resolve_inner(item)? {
                        out.push(v);
                    }
                }
                Ok(Resolved::Value(Value::Array(out)))
            }
            Value::Object(object) if object.len() == 1 => {
                let (key, argument) = object.iter().next().ok_or(ResolveError::Invalid {
                    function: "object",
                    reason: "empty".to_string(),
                })?;
                match key.as_str() {
                    "Ref" => self.reference(argument),
                    "Condition" => {
                        let name = argument.as_str().unwrap_or_default();
                        Ok(Resolved::Value(Value::Bool(self.condition(name)?)))
                    }
                    "Fn::If" => match argument.as_array().map(Vec::as_slice) {
                        Some([Value::String(condition), when_true, when_false]) => {
                            if self.condition(condition)? {
                                self.resolve_inner(when_true)
                            } else {
                                self.resolve_inner(when_false)
                            }
                        }
                        _ => Err(invalid("Fn::If", argument)),
                    },
                    name if name.starts_with("Fn::") => {
                        self.function(name, argument).map(Resolved::Value)
                    }
                    _ => self.resolve_object(object),
                }
            }
            Value::Object(object) => self.resolve_object(object),
            other => Ok(Resolved::Value(other.clone())),
        }
    }

    fn resolve_object(&self, object: &Map<String, Value>) -> Result<Resolved, ResolveError> {
        let mut out = Map::new();
        for (key, item) in object {
            if let Resolved::Value(v) = self.resolve_inner(item)? {
                out.insert(key.clone(), v);
            }
        }
        Ok(Resolved::Value(Value::Object(out)))
    }

    fn reference(&self, argument: &Value) -> Result<Resolved, ResolveError> {
        let name = argument.as_str().ok_or_else(|| ResolveError::Invalid {
            function: "Ref",
            reason: format!("expected a name, got {argument}"),
        })?;
        if name == "AWS::NoValue" {
            return Ok(Resolved::NoValue);
        }
        self.lookup_name(name).map(Resolved::Value)
    }

    fn lookup_name(&self, name: &str) -> Result<Value, ResolveError> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        if let Some(physical) = self.physical.get(name) {
            return Ok(Value::String(physical.reference.clone()));
        }
        if self.template_ids.iter().any(|id| id == name) {
            return Err(ResolveError::Pending(name.to_string()));
        }
        Err(ResolveError::UnknownReference(name.to_string()))
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<Value, ResolveError> {
        match self.physical.get(resource) {
            Some(physical) => physical
                .attributes
                .get(attribute)
                .map(|v| Value::String(v.clone()))
                .ok_or_else(|| ResolveError::UnknownAttribute {
                    resource: resource.to_string(),
                    attribute: attribute.to_string(),
                }),
            None if self.template_ids.iter().any(|id| id == resource) => {
                Err(ResolveError::Pending(resource.to_string()))
            }
            None => Err(ResolveError::UnknownReference(resource.to_string())),
        }
    }

    fn function(&self, name: &str, argument: &Value) -> Result<Value, ResolveError> {
        match name {
            "Fn::GetAtt" => {
                let parts = self.resolve(argument)?;
                let (resource, attribute) = match &parts {
                    Value::Array(items) if items.len() == 2 => {
                        (scalar_to_string(&items[0]), scalar_to_string(&items[1]))
                    }
                    Value::String(s) => match s.split_once('.') {
                        Some((r, a)) => (r.to_string(), a.to_string()),
                        None => return Err(invalid("Fn::GetAtt", &parts)),
                    },
                    _ => return Err(invalid("Fn::GetAtt", &parts)),
                };
                self.attribute(&resource, &attribute)
            }
            "Fn::Sub" => self.substitute(argument).map(Value::String),
            "Fn::Join" => {
                let args = self.resolve(argument)?;
                match args.as_array().map(Vec::as_slice) {
                    Some([separator, Value::Array(items)]) => {
                        let separator = scalar_to_string(separator);
                        let parts: Vec<String> = items.iter().map(scalar_to_string).collect();
                        Ok(Value::String(parts.join(&separator)))
                    }
                    _ => Err(invalid("Fn::Join", &args)),
                }
            }
            "Fn::Split" => {
                let args = self.resolve(argument)?;
                match args.as_array().map(Vec::as_slice) {
                    Some([Value::String(separator), Value::String(text)]) => Ok(Value::Array(
                        text.split(separator.as_str())
                            .map(|s| Value::String(s.to_string()))
                            .collect(),
                    )),
                    _ => Err(invalid("Fn::Split", &args)),
                }
            }
            "Fn::Select" => {
                let args = self.resolve(argument)?;
                match args.as_array().map(Vec::as_slice) {
                    Some([index, Value::Array(items)]) => {
                        let index: usize = scalar_to_string(index)
                            .parse()
                            .map_err(|_| invalid("Fn::Select", &args))?;
                        items
                            .get(index)
                            .cloned()
                            .ok_or_else(|| invalid("Fn::Select", &args))
                    }
                    _ => Err(invalid("Fn::Select", &args)),
                }
            }
            "Fn::Equals" => {
                let args = self.resolve(argument)?;
                match args.as_array().map(Vec::as_slice) {
                    Some([a, b]) => Ok(Value::Bool(scalar_to_string(a) == scalar_to_string(b))),
                    _ => Err(invalid("Fn::Equals", &args)),
                }
            }
            "Fn::Not" => match argument.as_array().map(Vec::as_slice) {
                Some([inner]) => Ok(Value::Bool(!self.evaluate_condition(inner)?)),
                _ => Err(invalid("Fn::Not", argument)),
            },
            "Fn::And" | "Fn::Or" => {
                let items = argument
                    .as_array()
                    .ok_or_else(|| invalid("Fn::And/Fn::Or", argument))?;
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    results.push(self.evaluate_condition(item)?);
                }
                Ok(Value::Bool(if name == "Fn::And" {
                    results.iter().all(|b| *b)
                } else {
                    results.iter().any(|b| *b)
                }))
            }
            "Fn::FindInMap" => {
                let args = self.resolve(argument)?;
                match args.as_array().map(Vec::as_slice) {
                    Some([map, top, second]) => self
                        .mappings
                        .get(&scalar_to_string(map))
                        .and_then(|m| m.get(scalar_to_string(top)))
                        .and_then(|m| m.get(scalar_to_string(second)))
                        .cloned()
                        .ok_or_else(|| invalid("Fn::FindInMap", &args)),
                    _ => Err(invalid("Fn::FindInMap", &args)),
                }
            }
            other => Err(ResolveError::Invalid {
                function: "intrinsic function",
                reason: format!("{other} is not supported by the local runtime"),
            }),
        }
    }

    /// Expands `${Name}`, `${Resource.Attribute}` and `${!Literal}` in an `Fn::Sub` string.
    fn substitute(&self, argument: &Value) -> Result<String, ResolveError> {
        let (text, variables) = match argument {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Array(items) if items.len() == 2 => {
                let text = items[0]
                    .as_str()
                    .ok_or_else(|| invalid("Fn::Sub", argument))?;
                let variables = match self.resolve(&items[1])? {
                    Value::Object(map) => map,
                    other => return Err(invalid("Fn::Sub", &other)),
                };
                (text.to_string(), variables)
            }
            _ => return Err(invalid("Fn::Sub", argument)),
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| invalid("Fn::Sub", argument))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(&scalar_to_string(value));
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&scalar_to_string(&self.attribute(resource, attribute)?));
            } else {
                out.push_str(&scalar_to_string(&self.lookup_name(name)?));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn invalid(function: &'static str, value: &Value) -> ResolveError {
    ResolveError::Invalid {
        function,
        reason: format!("unexpected arguments {value}"),
    }
}

/// Renders a scalar as CloudFormation does when it needs a string; lists become comma separated.
pub fn scalar_to_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items
            .iter()
            .map(scalar_to_string)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn resolver() -> Resolver {
        let text = r#"
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
Resources:
  Dlq:
    Type: AWS::SQS::Queue
  Table:
    Type: AWS::DynamoDB::Table
"#;
        let template = Template::parse(text, PathBuf::from(".")).expect("parses");
        let mut parameters = BTreeMap::new();
        parameters.insert("Stage".to_string(), json!("dev"));
        parameters.insert("AWS::StackName".to_string(), json!("stack"));
        let mut resolver = Resolver::new(&template, parameters);
        resolver.set_physical(
            "Dlq",
            Physical::new("http://q/dlq").with("Arn", "arn:aws:sqs:us-east-1:1:dlq"),
        );
        resolver
    }

    #[test]
    fn sub_expands_parameters_and_attributes() {
        let value = json!({"Fn::Sub": "${AWS::StackName}/${Dlq.Arn}/${!Literal}"});
        assert_eq!(
            resolver().resolve(&value).expect("resolves"),
            json!("stack/arn:aws:sqs:us-east-1:1:dlq/${Literal}")
        );
    }

    #[test]
    fn if_picks_the_branch_of_the_condition() {
        let value = json!({"Fn::If": ["NotProd", "a", {"Ref": "AWS::NoValue"}]});
        assert_eq!(resolver().resolve(&value).expect("resolves"), json!("a"));
        let value = json!({"k": {"Fn::If": ["IsProd", "a", {"Ref": "AWS::NoValue"}]}});
        assert_eq!(resolver().resolve(&value).expect("resolves"), json!({}));
    }

    #[test]
    fn reference_to_uncreated_resource_is_pending() {
        let error = resolver()
            .resolve(&json!({"Fn::GetAtt": ["Table", "Arn"]}))
            .expect_err("pending");
        assert!(matches!(error, ResolveError::Pending(ref id) if id == "Table"));
    }

    #[test]
    fn select_and_split_and_join_compose() {
        let value =
            json!({"Fn::Join": ["-", [{"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "x"]]});
        assert_eq!(resolver().resolve(&value).expect("resolves"), json!("b-x"));
    }
}
