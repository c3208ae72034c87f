//! Typed access to DynamoDB item maps, so mapping code reads like the record it builds.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

pub fn ts(value: OffsetDateTime) -> AttributeValue {
    AttributeValue::S(format_time(value))
}

pub fn format_time(value: OffsetDateTime) -> String {
    value
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| value.unix_timestamp().to_string())
}

pub fn parse_time(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).ok()
}

/// Reads attributes of one item, naming the item in every error.
pub struct Reader<'a> {
    item: &'a Item,
    name: String,
}

impl<'a> Reader<'a> {
    pub fn new(item: &'a Item) -> Self {
        let pk = item
            .get("PK")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let sk = item
            .get("SK")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        Self {
            item,
            name: format!("{pk}/{sk}"),
        }
    }

    pub fn malformed(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Malformed {
            item: self.name.clone(),
            reason: reason.into(),
        }
    }

    pub fn opt_s(&self, attribute: &str) -> Option<&'a str> {
        self.item.get(attribute)?.as_s().ok().map(String::as_str)
    }

    pub fn s(&self, attribute: &str) -> Result<&'a str, StoreError> {
        self.opt_s(attribute)
            .ok_or_else(|| self.malformed(format!("string attribute {attribute} is missing")))
    }

    pub fn opt_n<T: std::str::FromStr>(&self, attribute: &str) -> Result<Option<T>, StoreError> {
        match self.item.get(attribute) {
            None => Ok(None),
            Some(value) => {
                let text = value
                    .as_n()
                    .map_err(|_| self.malformed(format!("{attribute} is not a number")))?;
                text.parse().map(Some).map_err(|_| {
                    self.malformed(format!("{attribute} is not a valid number: {text}"))
                })
            }
        }
    }

    pub fn n<T: std::str::FromStr>(&self, attribute: &str) -> Result<T, StoreError> {
        self.opt_n(attribute)?
            .ok_or_else(|| self.malformed(format!("number attribute {attribute} is missing")))
    }

    pub fn bool(&self, attribute: &str) -> bool {
        matches!(self.item.get(attribute), Some(AttributeValue::Bool(true)))
    }

    pub fn opt_time(&self, attribute: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        match self.opt_s(attribute) {
            None => Ok(None),
            Some(text) => parse_time(text).map(Some).ok_or_else(|| {
                self.malformed(format!("{attribute} is not an RFC 3339 time: {text}"))
            }),
        }
    }

    pub fn time(&self, attribute: &str) -> Result<OffsetDateTime, StoreError> {
        self.opt_time(attribute)?
            .ok_or_else(|| self.malformed(format!("time attribute {attribute} is missing")))
    }

    /// Parses a string attribute with a domain `parse` constructor.
    pub fn parsed<T, E: std::fmt::Display>(
        &self,
        attribute: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        let text = self.s(attribute)?;
        parse(text).map_err(|error| self.malformed(format!("{attribute}: {error}")))
    }

    pub fn string_list(&self, attribute: &str) -> Vec<String> {
        match self.item.get(attribute) {
            Some(AttributeValue::L(values)) => values
                .iter()
                .filter_map(|v| v.as_s().ok().cloned())
                .collect(),
            Some(AttributeValue::Ss(values)) => values.clone(),
            _ => Vec::new(),
        }
    }
}
