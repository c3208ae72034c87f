//! Company names shown in the workspace and in email.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::error::{codes, required_trimmed, FieldError};

const FIELD: &str = "company_name";

/// Minimum number of characters of a company name.
pub const MIN_COMPANY_NAME_LENGTH: usize = 2;
/// Maximum number of characters of a company name.
pub const MAX_COMPANY_NAME_LENGTH: usize = 100;

/// Punctuation allowed in a company name besides letters, digits and spaces.
const PUNCTUATION: &str = ".,&'()-/+";

/// A company name: 2 to 100 characters of letters, combining marks and digits of any script,
/// spaces and `.,&'()-/+`.
///
/// Surrounding whitespace is trimmed and every inner run of whitespace becomes one space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CompanyName(String);

impl CompanyName {
    /// Parses and normalizes a company name, or returns the first rule it breaks.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let trimmed = required_trimmed(FIELD, raw)?;
        let name = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");

        let length = name.chars().count();
        if length > MAX_COMPANY_NAME_LENGTH {
            return Err(FieldError::new(
                FIELD,
                codes::TOO_LONG,
                format!(
                    "company_name must be {MIN_COMPANY_NAME_LENGTH} to {MAX_COMPANY_NAME_LENGTH} characters; got {length}"
                ),
            ));
        }
        if length < MIN_COMPANY_NAME_LENGTH {
            return Err(FieldError::invalid(
                FIELD,
                format!(
                    "company_name must be {MIN_COMPANY_NAME_LENGTH} to {MAX_COMPANY_NAME_LENGTH} characters; got {length}"
                ),
            ));
        }
        if let Some(character) = name.chars().find(|&c| !is_allowed(c)) {
            return Err(FieldError::invalid(
                FIELD,
                format!(
                    "company_name must not contain '{character}'; use letters, digits, spaces and . , & ' ( ) - / +"
                ),
            ));
        }
        if !name.chars().any(char::is_alphanumeric) {
            return Err(FieldError::invalid(
                FIELD,
                "company_name must contain at least one letter or digit",
            ));
        }
        Ok(CompanyName(name))
    }

    /// Returns the normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_allowed(character: char) -> bool {
    character.is_alphanumeric()
        || character == ' '
        || PUNCTUATION.contains(character)
        || is_combining_mark(character)
}

/// Combining marks belong to the letters before them: vowel signs and viramas of Indic
/// scripts, and accents typed as separate code points (such as `e` followed by U+0301).
fn is_combining_mark(character: char) -> bool {
    character.general_category_group() == GeneralCategoryGroup::Mark
}

impl fmt::Display for CompanyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CompanyName {
    type Error = FieldError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CompanyName> for String {
    fn from(name: CompanyName) -> String {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_collapses_inner_whitespace() {
        let name = CompanyName::parse("  Acme \u{3000}  Widgets,  Inc. ").unwrap();
        assert_eq!(name.as_str(), "Acme Widgets, Inc.");
    }

    #[test]
    fn accepts_any_script_and_punctuation() {
        for raw in [
            "Müller & Söhne GmbH",
            "株式会社テスト",
            "Ōsaka (Kansai) Co./Ltd.",
            "AT&T",
            "O'Brien-Smith + Partners",
            "Société Générale",
            "Cafe\u{301} Noir",
            "ООО Ромашка",
            "शक्ति",
        ] {
            assert!(CompanyName::parse(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn counts_characters_not_bytes() {
        let hundred = "é".repeat(100);
        assert!(CompanyName::parse(&hundred).is_ok());
        let error = CompanyName::parse(&"é".repeat(101)).unwrap_err();
        assert_eq!(error.code, codes::TOO_LONG);
        assert!(error.message.ends_with("got 101"), "{}", error.message);
    }

    #[test]
    fn rejects_a_one_character_name() {
        let error = CompanyName::parse(" A ").unwrap_err();
        assert_eq!(error.code, codes::INVALID);
        assert_eq!(
            error.message,
            "company_name must be 2 to 100 characters; got 1"
        );
    }

    #[test]
    fn rejects_symbols_outside_the_allowed_set() {
        for raw in ["Acme <script>", "Acme!", "Acme\"Co", "Acme@Co", "Acme 😀"] {
            assert_eq!(
                CompanyName::parse(raw).unwrap_err().code,
                codes::INVALID,
                "{raw}"
            );
        }
    }

    #[test]
    fn rejects_a_name_of_punctuation_only() {
        assert_eq!(CompanyName::parse("...").unwrap_err().code, codes::INVALID);
    }

    #[test]
    fn rejects_control_characters() {
        for raw in ["Acme\nInc", "Acme\t Inc", "Acme\u{7f}"] {
            assert_eq!(
                CompanyName::parse(raw).unwrap_err().code,
                codes::INVALID,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn rejects_a_blank_name_as_missing() {
        assert_eq!(CompanyName::parse("   ").unwrap_err().code, codes::MISSING);
    }
}
