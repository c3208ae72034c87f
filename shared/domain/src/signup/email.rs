//! Email addresses of the people who sign up.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{codes, required_trimmed, FieldError};

const FIELD: &str = "email";

/// Maximum length of a whole address, from the 256-octet path limit of RFC 5321 minus the angle brackets.
pub const MAX_EMAIL_LENGTH: usize = 254;
/// Maximum length of the local part (RFC 5321, section 4.5.3.1.1).
pub const MAX_LOCAL_PART_LENGTH: usize = 64;
/// Maximum length of a domain name in text form (RFC 1035, 255 octets on the wire).
pub const MAX_DOMAIN_LENGTH: usize = 253;
/// Maximum length of one domain label (RFC 1035).
pub const MAX_LABEL_LENGTH: usize = 63;

/// A validated email address: a dot-atom local part, as typed, and a lowercase DNS domain.
///
/// Quoted local parts, IP address literals, comments and internationalized (non-ASCII)
/// addresses are rejected. The local part keeps its case because RFC 5321 lets the receiving
/// server treat it as case-sensitive, while the domain is case-folded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress {
    address: String,
    at: usize,
}

impl EmailAddress {
    /// Parses and normalizes an address, or returns the first rule it breaks.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = required_trimmed(FIELD, raw)?;
        let length = value.chars().count();
        if length > MAX_EMAIL_LENGTH {
            return Err(FieldError::new(
                FIELD,
                codes::TOO_LONG,
                format!("email must be at most {MAX_EMAIL_LENGTH} characters; got {length}"),
            ));
        }

        let mut parts = value.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(FieldError::invalid(
                FIELD,
                "email must contain exactly one '@', as in name@example.com",
            ));
        };

        check_local_part(local)?;
        let domain = normalize_domain(domain)?;
        Ok(EmailAddress {
            address: format!("{local}@{domain}"),
            at: local.len(),
        })
    }

    /// Returns the normalized address.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// Returns the part before the `@`, as typed.
    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    /// Returns the lowercase domain after the `@`.
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }
}

/// Characters of `atext` in RFC 5322, section 3.2.3, besides ASCII letters and digits.
const ATEXT_SYMBOLS: &str = "!#$%&'*+/=?^_`{|}~-";

fn is_atext(character: char) -> bool {
    character.is_ascii_alphanumeric() || ATEXT_SYMBOLS.contains(character)
}

fn check_local_part(local: &str) -> Result<(), FieldError> {
    if local.is_empty() {
        return Err(FieldError::invalid(
            FIELD,
            "email needs a name before the '@', as in name@example.com",
        ));
    }
    if local.len() > MAX_LOCAL_PART_LENGTH {
        return Err(FieldError::new(
            FIELD,
            codes::TOO_LONG,
            format!(
                "the part of the email before '@' must be at most {MAX_LOCAL_PART_LENGTH} characters; got {}",
                local.chars().count()
            ),
        ));
    }
    if let Some(character) = local.chars().find(|&c| c != '.' && !is_atext(c)) {
        return Err(FieldError::invalid(
            FIELD,
            format!(
                "the part of the email before '@' must not contain '{character}'; use letters, digits and ! # $ % & ' * + / = ? ^ _ ` {{ | }} ~ - ."
            ),
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(FieldError::invalid(
            FIELD,
            "the part of the email before '@' must not start or end with a dot or contain two dots in a row",
        ));
    }
    Ok(())
}

fn normalize_domain(domain: &str) -> Result<String, FieldError> {
    if domain.is_empty() {
        return Err(FieldError::invalid(
            FIELD,
            "email needs a domain after the '@', as in name@example.com",
        ));
    }
    if !domain.is_ascii() {
        return Err(FieldError::invalid(
            FIELD,
            "the email domain must use ASCII letters; write an internationalized domain in its xn-- form",
        ));
    }
    let domain = domain.to_ascii_lowercase();
    if domain.len() > MAX_DOMAIN_LENGTH {
        return Err(FieldError::new(
            FIELD,
            codes::TOO_LONG,
            format!(
                "the email domain must be at most {MAX_DOMAIN_LENGTH} characters; got {}",
                domain.len()
            ),
        ));
    }

    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(FieldError::invalid(
            FIELD,
            format!("the email domain '{domain}' needs a dot, as in example.com"),
        ));
    }
    for label in &labels {
        check_label(&domain, label)?;
    }

    // `labels` has at least two entries, so the last one exists.
    let top_level = labels[labels.len() - 1];
    if top_level.len() < 2 || !top_level.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(FieldError::invalid(
            FIELD,
            format!(
                "the email domain '{domain}' must end in a top-level domain of two or more letters, such as .com"
            ),
        ));
    }
    Ok(domain)
}

fn check_label(domain: &str, label: &str) -> Result<(), FieldError> {
    if label.is_empty() {
        return Err(FieldError::invalid(
            FIELD,
            format!("the email domain '{domain}' must not start or end with a dot or contain two dots in a row"),
        ));
    }
    if label.len() > MAX_LABEL_LENGTH {
        return Err(FieldError::new(
            FIELD,
            codes::TOO_LONG,
            format!("each part of the email domain between dots must be at most {MAX_LABEL_LENGTH} characters"),
        ));
    }
    if let Some(character) = label
        .chars()
        .find(|&c| !c.is_ascii_alphanumeric() && c != '-')
    {
        return Err(FieldError::invalid(
            FIELD,
            format!("the email domain '{domain}' must not contain '{character}'; use letters, digits, hyphens and dots"),
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(FieldError::invalid(
            FIELD,
            format!("the parts of the email domain '{domain}' must not start or end with a hyphen"),
        ));
    }
    Ok(())
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = FieldError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(email: EmailAddress) -> String {
        email.address
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(raw: &str) -> &'static str {
        EmailAddress::parse(raw).unwrap_err().code
    }

    #[test]
    fn lowercases_the_domain_and_keeps_the_local_part() {
        let email = EmailAddress::parse("  Jane.Doe+ops@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Jane.Doe+ops@example.com");
        assert_eq!(email.local_part(), "Jane.Doe+ops");
        assert_eq!(email.domain(), "example.com");
    }

    #[test]
    fn accepts_every_dot_atom_symbol() {
        let email = EmailAddress::parse("a!#$%&'*+/=?^_`{|}~-b@example.co.uk").unwrap();
        assert_eq!(email.domain(), "example.co.uk");
    }

    #[test]
    fn rejects_a_blank_address_as_missing() {
        assert_eq!(code_of(""), codes::MISSING);
        assert_eq!(code_of("   "), codes::MISSING);
    }

    #[test]
    fn rejects_an_address_without_exactly_one_at_sign() {
        assert_eq!(code_of("jane.example.com"), codes::INVALID);
        assert_eq!(code_of("jane@doe@example.com"), codes::INVALID);
    }

    #[test]
    fn rejects_a_quoted_local_part() {
        assert_eq!(code_of("\"jane doe\"@example.com"), codes::INVALID);
    }

    #[test]
    fn rejects_misplaced_dots_in_the_local_part() {
        for raw in [
            ".jane@example.com",
            "jane.@example.com",
            "ja..ne@example.com",
        ] {
            assert_eq!(code_of(raw), codes::INVALID, "{raw}");
        }
    }

    #[test]
    fn rejects_a_local_part_longer_than_64() {
        let raw = format!("{}@example.com", "a".repeat(65));
        assert_eq!(code_of(&raw), codes::TOO_LONG);
        let raw = format!("{}@example.com", "a".repeat(64));
        assert!(EmailAddress::parse(&raw).is_ok());
    }

    #[test]
    fn rejects_an_address_longer_than_254() {
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63)
        );
        let raw = format!("{}@{domain}", "a".repeat(60));
        assert!(raw.len() > 254);
        assert_eq!(code_of(&raw), codes::TOO_LONG);
    }

    #[test]
    fn rejects_a_domain_without_a_dot() {
        assert_eq!(code_of("jane@localhost"), codes::INVALID);
    }

    #[test]
    fn rejects_a_short_or_numeric_tld() {
        assert_eq!(code_of("jane@example.c"), codes::INVALID);
        assert_eq!(code_of("jane@192.168.0.1"), codes::INVALID);
    }

    #[test]
    fn rejects_domain_labels_that_break_dns_rules() {
        for raw in [
            "jane@-example.com",
            "jane@example-.com",
            "jane@exa_mple.com",
            "jane@example..com",
            "jane@example.com.",
            "jane@[127.0.0.1]",
        ] {
            assert_eq!(code_of(raw), codes::INVALID, "{raw}");
        }
        let long_label = format!("jane@{}.com", "x".repeat(64));
        assert_eq!(code_of(&long_label), codes::TOO_LONG);
    }

    #[test]
    fn rejects_a_non_ascii_domain() {
        let error = EmailAddress::parse("jane@bücher.de").unwrap_err();
        assert_eq!(error.code, codes::INVALID);
        assert!(error.message.contains("xn--"), "{}", error.message);
        assert!(EmailAddress::parse("jane@xn--bcher-kva.de").is_ok());
    }

    #[test]
    fn rejects_control_characters_even_at_the_end() {
        for raw in [
            "jane@example.com\n",
            "jane@example.com\r\nBcc: x@y.com",
            "ja\0ne@example.com",
        ] {
            assert_eq!(code_of(raw), codes::INVALID, "{raw:?}");
        }
    }

    #[test]
    fn deserializes_with_validation() {
        let email: EmailAddress = serde_json::from_str("\"Jane@EXAMPLE.com\"").unwrap();
        assert_eq!(email.as_str(), "Jane@example.com");
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
    }
}
