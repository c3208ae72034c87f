//! Secret tokens sent in links (email verification, admin invitation) and their stored hashes.
//!
//! Only the SHA-256 hash of a token is stored, so a copy of the table cannot be turned back
//! into working links.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Number of random bytes in a token: 256 bits, twice the 128-bit minimum for unguessable links.
pub const TOKEN_BYTES: usize = 32;
/// Length of a token's base64url text without padding.
pub const TOKEN_LENGTH: usize = 43;

/// A random secret for a link. `Debug` hides the value, and there is no `Display` or
/// `Serialize`, so the secret only leaves through [`SecretToken::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

/// Error returned when a string cannot be a token this crate generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token: expected {TOKEN_LENGTH} characters, got {0}")]
    WrongLength(usize),
    #[error("invalid token: only base64url characters (A-Z, a-z, 0-9, '-', '_') are allowed")]
    InvalidCharacter,
}

impl SecretToken {
    /// Generates a token of [`TOKEN_BYTES`] bytes from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        OsRng.fill_bytes(&mut bytes);
        SecretToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Parses a token received in a link, checking only its length and alphabet, so malformed
    /// input can be rejected before any lookup.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        if value.len() != TOKEN_LENGTH {
            return Err(TokenError::WrongLength(value.chars().count()));
        }
        let is_base64url = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
        if !value.bytes().all(is_base64url) {
            return Err(TokenError::InvalidCharacter);
        }
        Ok(SecretToken(value.to_owned()))
    }

    /// Returns the secret text, for building a link. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns the hash under which the token is stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

/// Lowercase hex SHA-256 of a token. Equality runs in constant time for equal lengths.
#[derive(Clone, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash(String);

/// Error returned when a string is not a lowercase hex SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid token hash: expected 64 lowercase hex characters")]
pub struct InvalidTokenHash;

impl TokenHash {
    /// Hashes a token's text.
    pub fn of(token: &str) -> Self {
        TokenHash(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Parses a stored hash.
    pub fn parse(value: &str) -> Result<Self, InvalidTokenHash> {
        let is_lower_hex = |byte: u8| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
        if value.len() != 64 || !value.bytes().all(is_lower_hex) {
            return Err(InvalidTokenHash);
        }
        Ok(TokenHash(value.to_owned()))
    }

    /// Returns the hex digest, as used in the `VERIFY#` and `INVITE#` keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns whether `token` hashes to this value, comparing in constant time.
    pub fn matches(&self, token: &str) -> bool {
        *self == TokenHash::of(token)
    }
}

/// Compares two byte strings without stopping at the first difference, so the time taken
/// does not reveal how long a matching prefix is. Lengths are compared first and may leak.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    let difference = left
        .iter()
        .zip(right)
        .fold(0u8, |accumulator, (a, b)| accumulator | (a ^ b));
    std::hint::black_box(difference) == 0
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.0)
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TokenHash {
    type Error = InvalidTokenHash;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TokenHash> for String {
    fn from(hash: TokenHash) -> String {
        hash.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_token_has_256_bits_in_43_characters() {
        let token = SecretToken::generate();
        assert_eq!(token.expose().len(), TOKEN_LENGTH);
        let decoded = URL_SAFE_NO_PAD.decode(token.expose()).unwrap();
        assert_eq!(decoded.len(), TOKEN_BYTES);
        assert!(!token.expose().contains('='));
    }

    #[test]
    fn generated_tokens_differ() {
        assert_ne!(SecretToken::generate(), SecretToken::generate());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let token = SecretToken::generate();
        let debug = format!("{token:?}");
        assert_eq!(debug, "SecretToken(***)");
        assert!(!debug.contains(token.expose()));
    }

    #[test]
    fn parse_accepts_a_generated_token() {
        let token = SecretToken::generate();
        assert_eq!(SecretToken::parse(token.expose()), Ok(token));
    }

    #[test]
    fn parse_rejects_malformed_tokens() {
        assert_eq!(SecretToken::parse("short"), Err(TokenError::WrongLength(5)));
        let with_plus = format!("{}+", "a".repeat(TOKEN_LENGTH - 1));
        assert_eq!(
            SecretToken::parse(&with_plus),
            Err(TokenError::InvalidCharacter)
        );
    }

    #[test]
    fn hash_is_hex_sha256() {
        let hash = TokenHash::of("abc");
        assert_eq!(
            hash.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash.as_str().len(), 64);
    }

    #[test]
    fn hash_matches_only_its_token() {
        let token = SecretToken::generate();
        let hash = token.hash();
        assert!(hash.matches(token.expose()));
        assert!(!hash.matches(SecretToken::generate().expose()));
    }

    #[test]
    fn constant_time_comparison_checks_every_byte() {
        assert!(constant_time_eq(b"abcd", b"abcd"));
        assert!(!constant_time_eq(b"abcd", b"abce"));
        assert!(!constant_time_eq(b"xbcd", b"abcd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn hash_parse_accepts_only_lowercase_hex_digests() {
        let hash = TokenHash::of("abc");
        assert_eq!(TokenHash::parse(hash.as_str()), Ok(hash.clone()));
        assert!(TokenHash::parse(&hash.as_str().to_ascii_uppercase()).is_err());
        assert!(TokenHash::parse("abc").is_err());
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), hash);
    }
}
