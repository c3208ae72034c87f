//! The JSONPath subset that the local runtime evaluates.
//!
//! Supported forms are `$`, `$.a.b`, `$.a[0]`, `$['a b']` (or `$["a b"]`) and the same forms
//! rooted at the context object, `$$.Execution.Id`. Wildcards, filters, slices and recursive
//! descent are rejected when the definition is parsed.

use std::fmt;

use serde_json::{Map, Value};

/// A parse failure of a JSONPath expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JSONPath \"{path}\" is invalid at byte {position}: {reason}")]
pub struct PathError {
    /// The expression as written in the definition.
    pub path: String,
    /// Byte offset of the first character that could not be parsed.
    pub position: usize,
    /// Description of the syntax expected or rejected at that offset.
    pub reason: &'static str,
}

/// A lookup or write that a valid path could not perform on a given document.
///
/// The interpreter turns it into a `States.Runtime` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathEvalError {
    /// The path names a field or index that the document does not contain.
    #[error("JSONPath \"{path}\" could not be found in the {document}")]
    NotFound {
        path: String,
        document: &'static str,
    },
    /// A result path would write into a value that is not an object or array.
    #[error("JSONPath \"{path}\" cannot be written because {reason}")]
    NotWritable { path: String, reason: String },
}

/// The document that a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    /// `$`: the state input, or the task result inside ResultSelector.
    Input,
    /// `$$`: the context object.
    Context,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Field(String),
    Index(usize),
}

/// A parsed JSONPath expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    text: String,
    root: Root,
    segments: Vec<Segment>,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    /// Parses a path in the supported subset.
    pub(crate) fn parse(text: &str) -> Result<Path, PathError> {
        let fail = |position: usize, reason: &'static str| PathError {
            path: text.to_owned(),
            position,
            reason,
        };
        let bytes = text.as_bytes();
        if bytes.first() != Some(&b'$') {
            return Err(fail(0, "a path starts with `$` or `$$`"));
        }
        let (root, mut position) = if bytes.get(1) == Some(&b'$') {
            (Root::Context, 2)
        } else {
            (Root::Input, 1)
        };

        let mut segments = Vec::new();
        while position < bytes.len() {
            match bytes[position] {
                b'.' => {
                    let start = position + 1;
                    let end = text[start..]
                        .find(['.', '['])
                        .map_or(text.len(), |offset| start + offset);
                    let name = &text[start..end];
                    if name.is_empty() {
                        return Err(fail(
                            start,
                            "expected a field name (recursive descent `..` is not supported)",
                        ));
                    }
                    if let Some(offset) =
                        name.find(|c: char| "*?@()]'\"".contains(c) || c.is_whitespace())
                    {
                        return Err(fail(
                            start + offset,
                            "wildcards, filters, quotes and whitespace are not supported in a dotted field name",
                        ));
                    }
                    segments.push(Segment::Field(name.to_owned()));
                    position = end;
                }
                b'[' => {
                    let (segment, next) = parse_bracket(text, position + 1)
                        .map_err(|(at, reason)| fail(at, reason))?;
                    segments.push(segment);
                    position = next;
                }
                _ => return Err(fail(position, "expected `.` or `[`")),
            }
        }

        Ok(Path {
            text: text.to_owned(),
            root,
            segments,
        })
    }

    pub(crate) fn root(&self) -> Root {
        self.root
    }

    /// Reads the value at this path from `input` or, for `$$` paths, from `context`.
    pub(crate) fn get<'a>(
        &self,
        input: &'a Value,
        context: &'a Value,
    ) -> Result<&'a Value, PathEvalError> {
        let (mut current, document) = match self.root {
            Root::Input => (input, "input"),
            Root::Context => (context, "context object"),
        };
        for segment in &self.segments {
            let next = match (segment, current) {
                (Segment::Field(name), Value::Object(map)) => map.get(name),
                (Segment::Index(index), Value::Array(items)) => items.get(*index),
                _ => None,
            };
            current = next.ok_or_else(|| PathEvalError::NotFound {
                path: self.text.clone(),
                document,
            })?;
        }
        Ok(current)
    }

    /// Writes `value` at this path inside `target`, creating missing intermediate objects.
    ///
    /// `$` replaces the whole target. Only `$` paths are written, because the definition
    /// parser rejects `$$` in ResultPath.
    pub(crate) fn set(&self, target: &mut Value, value: Value) -> Result<(), PathEvalError> {
        let Some((last, parents)) = self.segments.split_last() else {
            *target = value;
            return Ok(());
        };

        let mut current = target;
        for segment in parents {
            current = match segment {
                Segment::Field(name) => {
                    let map = self.as_object(current, name)?;
                    map.entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()))
                }
                Segment::Index(index) => self.array_slot(current, *index)?,
            };
        }

        match last {
            Segment::Field(name) => {
                self.as_object(current, name)?.insert(name.clone(), value);
            }
            Segment::Index(index) => *self.array_slot(current, *index)? = value,
        }
        Ok(())
    }

    fn as_object<'a>(
        &self,
        value: &'a mut Value,
        field: &str,
    ) -> Result<&'a mut Map<String, Value>, PathEvalError> {
        match value {
            Value::Object(map) => Ok(map),
            other => Err(PathEvalError::NotWritable {
                path: self.text.clone(),
                reason: format!(
                    "field \"{field}\" would be added to a {}, not to an object",
                    type_name(other)
                ),
            }),
        }
    }

    fn array_slot<'a>(
        &self,
        value: &'a mut Value,
        index: usize,
    ) -> Result<&'a mut Value, PathEvalError> {
        let reason = match value {
            Value::Array(items) => {
                let len = items.len();
                if let Some(slot) = items.get_mut(index) {
                    return Ok(slot);
                }
                format!("index {index} is outside an array of length {len}")
            }
            other => format!(
                "index {index} would be applied to a {}, not to an array",
                type_name(other)
            ),
        };
        Err(PathEvalError::NotWritable {
            path: self.text.clone(),
            reason,
        })
    }
}

/// Parses the inside of `[...]` starting right after `[`, returning the segment and the offset after `]`.
fn parse_bracket(text: &str, start: usize) -> Result<(Segment, usize), (usize, &'static str)> {
    let bytes = text.as_bytes();
    match bytes.get(start) {
        Some(quote @ (b'\'' | b'"')) => {
            let name_start = start + 1;
            let name_end = text[name_start..]
                .find(char::from(*quote))
                .map(|offset| name_start + offset)
                .ok_or((start, "unterminated quoted field name"))?;
            if bytes.get(name_end + 1) != Some(&b']') {
                return Err((name_end + 1, "expected `]` after a quoted field name"));
            }
            Ok((Segment::Field(text[name_start..name_end].to_owned()), name_end + 2))
        }
        Some(b'0'..=b'9') => {
            let digits_end = text[start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(text.len(), |offset| start + offset);
            if bytes.get(digits_end) != Some(&b']') {
                return Err((digits_end, "expected `]` after an array index (slices and unions are not supported)"));
            }
            let index = text[start..digits_end]
                .parse::<usize>()
                .map_err(|_| (start, "array index is too large"))?;
            Ok((Segment::Index(index), digits_end + 1))
        }
        _ => Err((
            start,
            "expected an array index or a quoted field name (wildcards and filters are not supported)",
        )),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(text: &str) -> Path {
        Path::parse(text).expect("valid path")
    }

    #[test]
    fn root_path_returns_the_whole_input() {
        let input = json!({"a": 1});
        assert_eq!(path("$").get(&input, &Value::Null), Ok(&input));
    }

    #[test]
    fn dotted_path_reads_nested_fields() {
        let input = json!({"a": {"b": "x"}});
        assert_eq!(path("$.a.b").get(&input, &Value::Null), Ok(&json!("x")));
    }

    #[test]
    fn index_path_reads_array_items() {
        let input = json!({"a": [10, 20]});
        assert_eq!(path("$.a[1]").get(&input, &Value::Null), Ok(&json!(20)));
        assert_eq!(path("$.a[0]").get(&input, &Value::Null), Ok(&json!(10)));
    }

    #[test]
    fn bracket_path_reads_fields_with_spaces() {
        let input = json!({"a b": {"c": true}});
        assert_eq!(
            path("$['a b'].c").get(&input, &Value::Null),
            Ok(&json!(true))
        );
        assert_eq!(
            path("$[\"a b\"]").get(&input, &Value::Null),
            Ok(&json!({"c": true}))
        );
    }

    #[test]
    fn context_path_reads_the_context_object() {
        let context = json!({"Execution": {"Id": "arn"}});
        let parsed = path("$$.Execution.Id");
        assert_eq!(parsed.root(), Root::Context);
        assert_eq!(parsed.get(&json!({}), &context), Ok(&json!("arn")));
    }

    #[test]
    fn missing_field_is_not_found() {
        let error = path("$.a.missing")
            .get(&json!({"a": {}}), &Value::Null)
            .unwrap_err();
        assert_eq!(
            error,
            PathEvalError::NotFound {
                path: "$.a.missing".into(),
                document: "input"
            }
        );
    }

    #[test]
    fn set_creates_intermediate_objects() {
        let mut target = json!({"keep": 1});
        path("$.a.b.c")
            .set(&mut target, json!("v"))
            .expect("writable");
        assert_eq!(target, json!({"keep": 1, "a": {"b": {"c": "v"}}}));
    }

    #[test]
    fn set_on_root_replaces_the_target() {
        let mut target = json!({"keep": 1});
        path("$").set(&mut target, json!([1])).expect("writable");
        assert_eq!(target, json!([1]));
    }

    #[test]
    fn set_into_a_string_is_not_writable() {
        let mut target = json!({"a": "text"});
        let error = path("$.a.b").set(&mut target, json!(1)).unwrap_err();
        assert!(
            matches!(error, PathEvalError::NotWritable { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn set_replaces_an_existing_array_item() {
        let mut target = json!({"a": [1, 2]});
        path("$.a[1]").set(&mut target, json!(3)).expect("writable");
        assert_eq!(target, json!({"a": [1, 3]}));
        assert!(path("$.a[5]").set(&mut target, json!(3)).is_err());
    }

    #[test]
    fn parse_rejects_unsupported_syntax() {
        for text in [
            "",
            "a.b",
            "$..a",
            "$.a[*]",
            "$.*",
            "$[?(@.a)]",
            "$.a[0:2]",
            "$['a",
            "$.a b",
            "$x",
        ] {
            assert!(Path::parse(text).is_err(), "{text} should be rejected");
        }
    }
}
