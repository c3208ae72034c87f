//! Identifiers of tenants, signups and outbox messages.
//!
//! Each identifier is a type prefix followed by a lowercase ULID, for example
//! `tnt_01j9zq6x4m8k2c7r5t3v1w0yab`. The prefix shows the kind of id in logs and table keys, and
//! the ULID sorts by creation time.

use std::fmt;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// Error returned when a string is not a valid identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string does not start with the prefix of the expected kind.
    #[error("invalid id '{value}': expected the prefix '{expected_prefix}'")]
    WrongPrefix {
        value: String,
        expected_prefix: &'static str,
    },
    /// The part after the prefix is not a ULID.
    #[error("invalid id '{value}': the part after '{prefix}' is not a ULID")]
    InvalidUlid {
        value: String,
        prefix: &'static str,
        #[source]
        source: ulid::DecodeError,
    },
    /// The ULID contains uppercase letters.
    #[error("invalid id '{value}': the ULID must be lowercase")]
    NotLowercase { value: String },
    /// The ULID is larger than 128 bits, which happens when its first character is above 7.
    #[error("invalid id '{value}': the ULID is out of range, its first character must be 0 to 7")]
    OutOfRange { value: String },
}

fn parse_prefixed(value: &str, prefix: &'static str) -> Result<String, IdError> {
    let Some(encoded) = value.strip_prefix(prefix) else {
        return Err(IdError::WrongPrefix {
            value: value.to_owned(),
            expected_prefix: prefix,
        });
    };
    // Table keys compare ids byte by byte, so only the lowercase spelling is accepted.
    if encoded.bytes().any(|byte| byte.is_ascii_uppercase()) {
        return Err(IdError::NotLowercase {
            value: value.to_owned(),
        });
    }
    let ulid = Ulid::from_string(encoded).map_err(|source| IdError::InvalidUlid {
        value: value.to_owned(),
        prefix,
        source,
    })?;
    // A first character above 7 overflows 128 bits, and the decoder wraps it silently.
    if ulid.to_string().to_ascii_lowercase() != encoded {
        return Err(IdError::OutOfRange {
            value: value.to_owned(),
        });
    }
    Ok(value.to_owned())
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Prefix of every id of this kind.
            pub const PREFIX: &'static str = $prefix;

            /// Generates a new id from the current time and random bits.
            pub fn generate() -> Self {
                Self::from_ulid(Ulid::new())
            }

            /// Builds the id of a given ULID.
            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(format!("{}{}", $prefix, ulid.to_string().to_ascii_lowercase()))
            }

            /// Parses an id, checking the prefix and the lowercase ULID after it.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                parse_prefixed(value, $prefix).map(Self)
            }

            /// Returns the id as stored and sent: prefix and lowercase ULID.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }
    };
}

prefixed_id!(
    /// Identifier of a tenant: `tnt_` and a lowercase ULID.
    TenantId,
    "tnt_"
);
prefixed_id!(
    /// Identifier of a signup: `sgn_` and a lowercase ULID.
    SignupId,
    "sgn_"
);
prefixed_id!(
    /// Identifier of an outgoing email message: `msg_` and a lowercase ULID.
    MessageId,
    "msg_"
);

/// Number of a provisioning run of one tenant, starting at 1.
///
/// The execution name of the state machine is `{tenant_id}-{attempt}`, and step items are keyed
/// by the attempt, so a retried provisioning never overwrites the record of an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionAttempt(pub u32);

impl ExecutionAttempt {
    /// The first attempt of a tenant.
    pub const FIRST: ExecutionAttempt = ExecutionAttempt(1);

    /// Returns the attempt after this one.
    pub fn next(self) -> ExecutionAttempt {
        ExecutionAttempt(self.0.saturating_add(1))
    }

    /// Returns the attempt number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ExecutionAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tenant_id_has_prefix_and_lowercase_ulid() {
        let id = TenantId::generate();
        let text = id.as_str();
        assert!(text.starts_with("tnt_"), "{text}");
        assert_eq!(text.len(), 4 + 26);
        assert_eq!(text, text.to_ascii_lowercase());
        assert_eq!(TenantId::parse(text), Ok(id));
    }

    #[test]
    fn each_kind_uses_its_own_prefix() {
        assert!(SignupId::generate().as_str().starts_with("sgn_"));
        assert!(MessageId::generate().as_str().starts_with("msg_"));
    }

    #[test]
    fn rejects_prefix_of_another_kind() {
        let signup = SignupId::generate();
        let error = TenantId::parse(signup.as_str()).unwrap_err();
        assert!(matches!(
            error,
            IdError::WrongPrefix {
                expected_prefix: "tnt_",
                ..
            }
        ));
    }

    #[test]
    fn rejects_an_id_whose_ulid_is_invalid() {
        for value in ["tnt_", "tnt_123", "tnt_01j9zq6x4m8k2c7r5t3v1w0ya!"] {
            let error = TenantId::parse(value).unwrap_err();
            assert!(
                matches!(error, IdError::InvalidUlid { .. }),
                "{value}: {error:?}"
            );
        }
    }

    #[test]
    fn rejects_a_ulid_above_128_bits() {
        let error = TenantId::parse("tnt_81j9zq6x4m8k2c7r5t3v1w0yab").unwrap_err();
        assert!(matches!(error, IdError::OutOfRange { .. }), "{error:?}");
    }

    #[test]
    fn rejects_an_uppercase_ulid() {
        let id = TenantId::generate();
        let upper = format!("tnt_{}", id.as_str()[4..].to_ascii_uppercase());
        assert!(matches!(
            TenantId::parse(&upper),
            Err(IdError::NotLowercase { .. })
        ));
    }

    #[test]
    fn serde_uses_a_validated_string() {
        let id = TenantId::generate();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: TenantId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<TenantId>("\"tnt_nope\"").is_err());
    }

    #[test]
    fn ids_generated_later_sort_after_earlier_ones() {
        let first = TenantId::from_ulid(Ulid::from_parts(1_000, 5));
        let second = TenantId::from_ulid(Ulid::from_parts(2_000, 1));
        assert!(first < second);
    }

    #[test]
    fn execution_attempt_counts_from_one() {
        assert_eq!(ExecutionAttempt::FIRST.get(), 1);
        assert_eq!(ExecutionAttempt::FIRST.next(), ExecutionAttempt(2));
        assert_eq!(serde_json::to_string(&ExecutionAttempt(3)).unwrap(), "3");
    }
}
