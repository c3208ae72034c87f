//! Errors of signup fields, shaped for the API response.

use std::fmt;

use serde::Serialize;

/// Machine-readable reasons a field can be rejected with.
pub mod codes {
    /// The value has the wrong form or contains characters that are not allowed.
    pub const INVALID: &str = "invalid";
    /// The field is absent or blank.
    pub const MISSING: &str = "missing";
    /// The value is kept for the platform or against abuse.
    pub const RESERVED: &str = "reserved";
    /// The value exceeds a length limit.
    pub const TOO_LONG: &str = "too_long";
    /// The value is well formed but not offered, such as an unknown plan or an unserved region.
    pub const UNSUPPORTED: &str = "unsupported";
    /// The email address belongs to a disposable mailbox provider.
    pub const DISPOSABLE: &str = "disposable";
    /// The request names a field that the endpoint does not accept.
    pub const UNKNOWN: &str = "unknown";
    /// The number is negative or above the field's maximum.
    pub const OUT_OF_RANGE: &str = "out_of_range";
}

/// One rejected field: which field, a stable code and a message saying how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Name of the field in the request, such as `subdomain`.
    pub field: String,
    /// One of the constants in [`codes`].
    pub code: &'static str,
    /// Explanation of the problem and its fix, written for the person signing up.
    pub message: String,
}

impl FieldError {
    /// Builds an error of any code.
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }

    /// Builds an error with the code `invalid`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(field, codes::INVALID, message)
    }

    /// Builds the `missing` error of a required field.
    pub fn missing(field: &str) -> Self {
        Self::new(field, codes::MISSING, format!("{field} is required"))
    }
}

/// Every field error of one request, in field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Returns the errors of one field.
    pub fn for_field<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a FieldError> + 'a {
        self.0.iter().filter(move |error| error.field == field)
    }

    /// Returns whether no field was rejected.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the number of rejected fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid request: ")?;
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        ValidationErrors(vec![error])
    }
}

/// Rejects a value that contains a control character anywhere, before any trimming.
///
/// A line break in a name or address could end an email header early, so even a trailing
/// newline is an error rather than whitespace to trim.
pub(crate) fn reject_control_characters(field: &str, raw: &str) -> Result<(), FieldError> {
    match raw.chars().position(char::is_control) {
        Some(position) => Err(FieldError::invalid(
            field,
            format!(
                "{field} must not contain control characters such as line breaks or tabs; found one at character {}",
                position + 1
            ),
        )),
        None => Ok(()),
    }
}

/// Checks for control characters, trims surrounding whitespace and rejects a blank value.
pub(crate) fn required_trimmed<'a>(field: &str, raw: &'a str) -> Result<&'a str, FieldError> {
    reject_control_characters(field, raw)?;
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::missing(field));
    }
    Ok(trimmed)
}
