//! Typed access to the fields of one JSON object of a definition, with errors that name the field.

use serde_json::{Map, Value};

use super::error::{DefinitionError, Location};
use crate::path::{Path, Root};
use crate::template::Template;

type Result<T> = std::result::Result<T, DefinitionError>;

/// The fields of one object (a state, a retrier, a choice rule) and where that object sits.
pub(super) struct Fields<'a> {
    map: &'a Map<String, Value>,
    location: &'a Location,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// Wraps `value`, which must be an object. `name` is the field that contains it, used in errors.
    pub(super) fn of(value: &'a Value, location: &'a Location, name: &str) -> Result<Fields<'a>> {
        let Value::Object(map) = value else {
            return Err(DefinitionError::InvalidField {
                location: location.clone(),
                field: name.to_owned(),
                reason: "expected a JSON object".to_owned(),
            });
        };
        let prefix = if name.is_empty() {
            String::new()
        } else {
            format!("{name}.")
        };
        Ok(Fields {
            map,
            location,
            prefix,
        })
    }

    /// Wraps an object nested in this one, such as `Retry[0]`.
    pub(super) fn nested(&self, value: &'a Value, name: &str) -> Result<Fields<'a>> {
        Fields::of(value, self.location, &self.name(name))
    }

    pub(super) fn location(&self) -> &Location {
        self.location
    }

    /// Returns the dotted name of `field` for error messages.
    pub(super) fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.map.keys()
    }

    pub(super) fn contains(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    pub(super) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field)
    }

    /// Rejects every field that is not in `allowed`.
    pub(super) fn allow_only(&self, allowed: &[&str]) -> Result<()> {
        match self.map.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(key) => Err(self.unsupported(key)),
            None => Ok(()),
        }
    }

    pub(super) fn unsupported(&self, field: &str) -> DefinitionError {
        DefinitionError::UnsupportedField {
            location: self.location.clone(),
            field: self.name(field),
        }
    }

    pub(super) fn invalid(&self, field: &str, reason: impl Into<String>) -> DefinitionError {
        DefinitionError::InvalidField {
            location: self.location.clone(),
            field: self.name(field),
            reason: reason.into(),
        }
    }

    /// Reports a problem with this object as a whole, such as a choice rule without an operator.
    pub(super) fn invalid_object(&self, reason: impl Into<String>) -> DefinitionError {
        DefinitionError::InvalidField {
            location: self.location.clone(),
            field: self.prefix.trim_end_matches('.').to_owned(),
            reason: reason.into(),
        }
    }

    pub(super) fn missing(&self, field: &str) -> DefinitionError {
        DefinitionError::MissingField {
            location: self.location.clone(),
            field: self.name(field),
        }
    }

    pub(super) fn conflict(&self, first: &str, second: &str) -> DefinitionError {
        DefinitionError::ConflictingFields {
            location: self.location.clone(),
            first: self.name(first),
            second: self.name(second),
        }
    }

    pub(super) fn string(&self, field: &str) -> Result<Option<&'a str>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.invalid(field, "expected a string")),
        }
    }

    pub(super) fn required_string(&self, field: &str) -> Result<&'a str> {
        self.string(field)?.ok_or_else(|| self.missing(field))
    }

    pub(super) fn bool(&self, field: &str) -> Result<Option<bool>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(self.invalid(field, "expected true or false")),
        }
    }

    pub(super) fn number(&self, field: &str) -> Result<Option<f64>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::Number(number)) => number
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.invalid(field, "expected a finite number")),
            Some(_) => Err(self.invalid(field, "expected a number")),
        }
    }

    /// Reads an integer that is at least `min`.
    pub(super) fn integer(&self, field: &str, min: u64) -> Result<Option<u64>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(value) => match value.as_u64() {
                Some(number) if number >= min => Ok(Some(number)),
                _ => Err(self.invalid(field, format!("expected an integer of at least {min}"))),
            },
        }
    }

    pub(super) fn array(&self, field: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.invalid(field, "expected an array")),
        }
    }

    /// Reads a path that may start at `$` or `$$`.
    pub(super) fn path(&self, field: &str) -> Result<Option<Path>> {
        let Some(text) = self.string(field)? else {
            return Ok(None);
        };
        Path::parse(text)
            .map(Some)
            .map_err(|source| DefinitionError::Path {
                location: self.location.clone(),
                field: self.name(field),
                source,
            })
    }

    /// Reads InputPath, OutputPath or ResultPath: absent means `$` and `null` means `None`.
    ///
    /// These paths select from or write into the state input, so a `$$` path is invalid here.
    pub(super) fn input_path(&self, field: &str) -> Result<Option<Path>> {
        if matches!(self.map.get(field), Some(Value::Null)) {
            return Ok(None);
        }
        let path = match self.path(field)? {
            Some(path) => path,
            None => Path::parse("$").map_err(|source| DefinitionError::Path {
                location: self.location.clone(),
                field: self.name(field),
                source,
            })?,
        };
        if path.root() == Root::Context {
            return Err(self.invalid(
                field,
                "a path into the context object ($$) is not allowed here",
            ));
        }
        Ok(Some(path))
    }

    pub(super) fn template(&self, field: &str) -> Result<Option<Template>> {
        let Some(value) = self.map.get(field) else {
            return Ok(None);
        };
        if !value.is_object() {
            return Err(self.invalid(field, "expected a JSON object"));
        }
        Template::parse(value)
            .map(Some)
            .map_err(|source| DefinitionError::Template {
                location: self.location.clone(),
                field: self.name(field),
                source,
            })
    }
}
