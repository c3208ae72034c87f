//! Subdomains that name a tenant's workspace.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::error::{codes, required_trimmed, FieldError};

const FIELD: &str = "subdomain";

/// Minimum length of a subdomain.
pub const MIN_SUBDOMAIN_LENGTH: usize = 3;
/// Maximum length of a subdomain, the DNS label limit.
pub const MAX_SUBDOMAIN_LENGTH: usize = 63;

const RESERVED_LIST: &str = include_str!("../../data/reserved_subdomains.txt");

fn reserved_names() -> &'static HashSet<&'static str> {
    static RESERVED: OnceLock<HashSet<&'static str>> = OnceLock::new();
    RESERVED.get_or_init(|| {
        RESERVED_LIST
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
}

/// Returns whether a name is on the reserved list, whatever its case.
pub fn is_reserved_subdomain(name: &str) -> bool {
    reserved_names().contains(name.to_ascii_lowercase().as_str())
}

/// A subdomain a tenant may claim: 3 to 63 lowercase letters, digits and hyphens.
///
/// It must not start or end with a hyphen, must not have hyphens at both the third and fourth
/// position (the form DNS keeps for encodings such as `xn--`), and must not be reserved.
/// Uppercase input is rejected rather than folded, so the name a person types is the name
/// they get.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subdomain(String);

impl Subdomain {
    /// Parses a subdomain a person requests, applying every rule including the reserved list.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = Self::parse_syntax(raw)?;
        if is_reserved_subdomain(name.as_str()) {
            return Err(FieldError::new(
                FIELD,
                codes::RESERVED,
                format!("subdomain '{}' is reserved; choose another name", name.0),
            ));
        }
        Ok(name)
    }

    /// Checks every rule except the reserved list.
    ///
    /// Deserialization uses this so a name claimed before it was added to the list still loads.
    pub fn parse_syntax(raw: &str) -> Result<Self, FieldError> {
        let name = required_trimmed(FIELD, raw)?;
        let length = name.chars().count();
        if length > MAX_SUBDOMAIN_LENGTH {
            return Err(FieldError::new(
                FIELD,
                codes::TOO_LONG,
                format!(
                    "subdomain must be {MIN_SUBDOMAIN_LENGTH} to {MAX_SUBDOMAIN_LENGTH} characters; got {length}"
                ),
            ));
        }
        if length < MIN_SUBDOMAIN_LENGTH {
            return Err(FieldError::invalid(
                FIELD,
                format!(
                    "subdomain must be {MIN_SUBDOMAIN_LENGTH} to {MAX_SUBDOMAIN_LENGTH} characters; got {length}"
                ),
            ));
        }
        if name.chars().any(|c| c.is_uppercase()) {
            // Suggest the lowercase form only when it would pass the other rules too.
            let lowercase = name.to_lowercase();
            // Some characters stay uppercase after to_lowercase, so check before recursing.
            let suggestable = !lowercase.chars().any(|c| c.is_uppercase());
            let message = if suggestable && Self::parse_syntax(&lowercase).is_ok() {
                format!("subdomain must be lowercase; use '{lowercase}' instead of '{name}'")
            } else {
                "subdomain must use only lowercase letters a-z, digits and hyphens".to_owned()
            };
            return Err(FieldError::invalid(FIELD, message));
        }
        if let Some(character) = name
            .chars()
            .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(FieldError::invalid(
                FIELD,
                format!(
                    "subdomain must not contain '{character}'; use lowercase letters a-z, digits and hyphens"
                ),
            ));
        }
        if name.starts_with('-') || name.ends_with('-') {
            return Err(FieldError::invalid(
                FIELD,
                "subdomain must not start or end with a hyphen",
            ));
        }
        let bytes = name.as_bytes();
        if bytes.get(2) == Some(&b'-') && bytes.get(3) == Some(&b'-') {
            return Err(FieldError::invalid(
                FIELD,
                "subdomain must not have hyphens as both its third and fourth character, which DNS keeps for encoded names like xn--",
            ));
        }
        Ok(Subdomain(name.to_owned()))
    }

    /// Returns the subdomain.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subdomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Subdomain {
    type Error = FieldError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse_syntax(&value)
    }
}

impl From<Subdomain> for String {
    fn from(subdomain: Subdomain) -> String {
        subdomain.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(raw: &str) -> FieldError {
        Subdomain::parse(raw).unwrap_err()
    }

    #[test]
    fn accepts_letters_digits_and_inner_hyphens() {
        for raw in ["acme", "acme-corp", "a1b", "123", "x-y-z", &"a".repeat(63)] {
            assert_eq!(Subdomain::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn trims_surrounding_spaces() {
        assert_eq!(Subdomain::parse("  acme ").unwrap().as_str(), "acme");
    }

    #[test]
    fn rejects_a_subdomain_shorter_than_three() {
        let error = rejection("ab");
        assert_eq!(error.code, codes::INVALID);
        assert_eq!(error.message, "subdomain must be 3 to 63 characters; got 2");
    }

    #[test]
    fn rejects_a_subdomain_longer_than_63() {
        let error = rejection(&"a".repeat(64));
        assert_eq!(error.code, codes::TOO_LONG);
        assert!(error.message.ends_with("got 64"), "{}", error.message);
    }

    #[test]
    fn uppercase_with_other_faults_gets_no_invalid_suggestion() {
        let error = Subdomain::parse_syntax("A_B_C").unwrap_err();
        assert!(!error.message.contains("a_b_c"), "{}", error.message);
    }

    #[test]
    fn rejects_uppercase_and_suggests_lowercase() {
        let error = rejection("Acme");
        assert_eq!(error.code, codes::INVALID);
        assert!(error.message.contains("lowercase"), "{}", error.message);
        assert!(error.message.contains("'acme'"), "{}", error.message);
    }

    #[test]
    fn rejects_characters_outside_letters_digits_and_hyphens() {
        for raw in ["acme_corp", "acme.corp", "acme corp", "acmé", "ac!me"] {
            assert_eq!(rejection(raw).code, codes::INVALID, "{raw}");
        }
    }

    #[test]
    fn rejects_a_subdomain_with_a_leading_hyphen() {
        assert!(rejection("-acme").message.contains("hyphen"));
    }

    #[test]
    fn rejects_a_subdomain_with_a_trailing_hyphen() {
        assert!(rejection("acme-").message.contains("hyphen"));
    }

    #[test]
    fn rejects_hyphens_at_the_third_and_fourth_position() {
        assert!(rejection("xn--acme").message.contains("xn--"));
        assert!(rejection("ab--cd").message.contains("third and fourth"));
        assert!(Subdomain::parse("abc--d").is_ok());
        assert!(Subdomain::parse("a-b-c").is_ok());
    }

    #[test]
    fn rejects_reserved_names() {
        for raw in [
            "www",
            "api",
            "admin",
            "mail",
            "status",
            "no-reply",
            "postmaster",
            "grafana",
        ] {
            let error = rejection(raw);
            assert_eq!(error.code, codes::RESERVED, "{raw}");
            assert!(
                error.message.contains("choose another"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn reserved_list_is_large_and_well_formed() {
        let names = reserved_names();
        assert!(names.len() >= 80, "{}", names.len());
        for name in names {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn rejects_control_characters() {
        for raw in ["acme\n", "ac\0me", "acme\r"] {
            assert_eq!(rejection(raw).code, codes::INVALID, "{raw:?}");
        }
    }

    #[test]
    fn deserializes_a_reserved_name_that_was_claimed_earlier() {
        let name: Subdomain = serde_json::from_str("\"status\"").unwrap();
        assert_eq!(name.as_str(), "status");
        assert!(serde_json::from_str::<Subdomain>("\"-bad\"").is_err());
    }
}
