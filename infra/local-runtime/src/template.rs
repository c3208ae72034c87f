//! Reading a SAM template into JSON with the CloudFormation short tags turned into their long forms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("failed to read template {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid YAML in template {path}: {source}")]
    Yaml {
        path: PathBuf,
        source: serde_yaml::Error,
    },
    #[error("unsupported value in template: {0}")]
    Unsupported(String),
    #[error("template has no Resources section")]
    MissingResources,
}

/// One entry of the template's `Resources` section.
#[derive(Debug, Clone)]
pub struct Resource {
    pub logical_id: String,
    pub kind: String,
    pub properties: Value,
    pub metadata: Value,
    pub condition: Option<String>,
}

/// A parsed template; every intrinsic function uses its long form (`Ref`, `Fn::GetAtt` as a list, `Fn::Sub` …).
#[derive(Debug, Clone)]
pub struct Template {
    pub directory: PathBuf,
    pub parameters: Map<String, Value>,
    pub conditions: Map<String, Value>,
    pub mappings: Map<String, Value>,
    pub globals: Value,
    pub resources: BTreeMap<String, Resource>,
}

impl Template {
    /// Reads and parses the template file at `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let directory = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, directory).map_err(|error| match error {
            TemplateError::Yaml { source, .. } => TemplateError::Yaml {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })
    }

    /// Parses template text; `directory` is where relative paths such as `DefinitionUri` start.
    pub fn parse(text: &str, directory: PathBuf) -> Result<Self, TemplateError> {
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|source| TemplateError::Yaml {
                path: PathBuf::new(),
                source,
            })?;
        let document = yaml_to_json(yaml)?;
        let section = |name: &str| -> Map<String, Value> {
            document
                .get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let raw_resources = document
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or(TemplateError::MissingResources)?;
        let mut resources = BTreeMap::new();
        for (logical_id, body) in raw_resources {
            let kind = body
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            resources.insert(
                logical_id.clone(),
                Resource {
                    logical_id: logical_id.clone(),
                    kind,
                    properties: body
                        .get("Properties")
                        .cloned()
                        .unwrap_or(Value::Object(Map::new())),
                    metadata: body.get("Metadata").cloned().unwrap_or(Value::Null),
                    condition: body
                        .get("Condition")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                },
            );
        }
        Ok(Self {
            directory,
            parameters: section("Parameters"),
            conditions: section("Conditions"),
            mappings: section("Mappings"),
            globals: document.get("Globals").cloned().unwrap_or(Value::Null),
            resources,
        })
    }

    /// Returns the resources of one type, in logical id order.
    pub fn resources_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.values().filter(move |r| r.kind == kind)
    }
}

/// Converts YAML into JSON, turning a short tag such as `!GetAtt A.B` into `{"Fn::GetAtt": ["A", "B"]}`.
pub fn yaml_to_json(value: serde_yaml::Value) -> Result<Value, TemplateError> {
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or_default();
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| TemplateError::Unsupported(format!("number {n}")))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, item) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(TemplateError::Unsupported(format!("mapping key {other:?}")))
                    }
                };
                object.insert(key, yaml_to_json(item)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(tagged.value)?;
            let (key, inner) = match name {
                "Ref" => ("Ref".to_string(), inner),
                "Condition" => ("Condition".to_string(), inner),
                "GetAtt" => ("Fn::GetAtt".to_string(), split_get_att(inner)),
                other => (format!("Fn::{other}"), inner),
            };
            let mut object = Map::new();
            object.insert(key, inner);
            Value::Object(object)
        }
    })
}

/// `!GetAtt Queue.Arn` names the resource before the first dot and the attribute after it.
fn split_get_att(value: Value) -> Value {
    match value {
        Value::String(s) => match s.split_once('.') {
            Some((resource, attribute)) => Value::Array(vec![
                Value::String(resource.to_string()),
                Value::String(attribute.to_string()),
            ]),
            None => Value::String(s),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tags_become_long_forms() {
        let text = r#"
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dlq.Arn
      QueueName: !Sub "${AWS::StackName}-q"
      Other: !Ref Dlq
"#;
        let template = Template::parse(text, PathBuf::from(".")).expect("parses");
        let queue = &template.resources["Queue"];
        assert_eq!(queue.kind, "AWS::SQS::Queue");
        assert_eq!(
            queue.properties["RedrivePolicy"]["deadLetterTargetArn"],
            serde_json::json!({"Fn::GetAtt": ["Dlq", "Arn"]})
        );
        assert_eq!(
            queue.properties["QueueName"],
            serde_json::json!({"Fn::Sub": "${AWS::StackName}-q"})
        );
        assert_eq!(queue.properties["Other"], serde_json::json!({"Ref": "Dlq"}));
    }
}
