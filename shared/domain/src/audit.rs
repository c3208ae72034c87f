//! The audit trail of a tenant: a hash chain of records, one per change.
//!
//! Each record stores the hash of the record before it, and its own hash covers that link and
//! every other field. Editing, reordering or deleting a record therefore breaks the chain at
//! that record. Deleting the newest records leaves a valid but shorter chain, so callers that
//! need to detect truncation compare [`ChainSummary::head_hash`] with a copy kept elsewhere.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset};

use crate::ids::TenantId;
use crate::lifecycle::TenantState;

/// The `prev_hash` of the first record of a chain: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Originator of a change, written as `system:{component}`, `user:{subject}` or
/// `platform_admin:{subject}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A component of the platform, such as `provisioner` or `watchdog`.
    System(String),
    /// The person who signed up or an administrator of the tenant, by identity subject.
    User(String),
    /// An operator of the platform, by identity subject.
    PlatformAdmin(String),
}

/// Error returned for an actor string or subject that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorError {
    #[error("invalid actor '{0}': expected system:NAME, user:SUBJECT or platform_admin:SUBJECT")]
    UnknownKind(String),
    #[error("invalid actor: the name or subject after the colon is empty")]
    EmptySubject,
    #[error("invalid actor: the name or subject must not contain control characters")]
    ControlCharacter,
}

fn check_subject(subject: &str) -> Result<(), ActorError> {
    if subject.is_empty() {
        return Err(ActorError::EmptySubject);
    }
    if subject.chars().any(char::is_control) {
        return Err(ActorError::ControlCharacter);
    }
    Ok(())
}

impl Actor {
    /// Builds the actor of a platform component. Component names are fixed in code.
    pub fn system(component: &str) -> Self {
        Actor::System(component.to_owned())
    }

    /// Builds the actor of a user from the subject of their identity token.
    pub fn user(subject: &str) -> Result<Self, ActorError> {
        check_subject(subject)?;
        Ok(Actor::User(subject.to_owned()))
    }

    /// Builds the actor of a platform operator from the subject of their identity token.
    pub fn platform_admin(subject: &str) -> Result<Self, ActorError> {
        check_subject(subject)?;
        Ok(Actor::PlatformAdmin(subject.to_owned()))
    }

    /// Parses `kind:subject`. The subject may itself contain colons.
    pub fn parse(value: &str) -> Result<Self, ActorError> {
        let Some((kind, subject)) = value.split_once(':') else {
            return Err(ActorError::UnknownKind(value.to_owned()));
        };
        check_subject(subject)?;
        match kind {
            "system" => Ok(Actor::System(subject.to_owned())),
            "user" => Ok(Actor::User(subject.to_owned())),
            "platform_admin" => Ok(Actor::PlatformAdmin(subject.to_owned())),
            _ => Err(ActorError::UnknownKind(value.to_owned())),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System(name) => write!(f, "system:{name}"),
            Actor::User(subject) => write!(f, "user:{subject}"),
            Actor::PlatformAdmin(subject) => write!(f, "platform_admin:{subject}"),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Actor::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// One entry of a tenant's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub tenant_id: TenantId,
    /// Position in the chain, starting at 1.
    pub seq: u64,
    /// Time of the change, in UTC, serialized in RFC 3339 with nine fraction digits.
    #[serde(with = "canonical_time")]
    pub at: OffsetDateTime,
    pub actor: Actor,
    /// Short machine-readable name of the change, such as `tenant.created`.
    pub action: String,
    /// Human-readable cause of the change.
    pub reason: String,
    pub state_before: Option<TenantState>,
    pub state_after: Option<TenantState>,
    /// Hash of the previous record, or [`GENESIS_HASH`] for the first one.
    pub prev_hash: String,
    /// Lowercase hex SHA-256 of this record, as [`AuditRecord::compute_hash`] returns it.
    pub hash: String,
}

impl AuditRecord {
    /// Builds the record that follows `prev` (or starts a chain when `prev` is `None`) and
    /// computes its hash. `at` is converted to UTC.
    #[allow(clippy::too_many_arguments)]
    pub fn next(
        prev: Option<&AuditRecord>,
        tenant_id: TenantId,
        at: OffsetDateTime,
        actor: Actor,
        action: impl Into<String>,
        reason: impl Into<String>,
        state_before: Option<TenantState>,
        state_after: Option<TenantState>,
    ) -> AuditRecord {
        let mut record = AuditRecord {
            tenant_id,
            seq: prev.map_or(1, |prev| prev.seq + 1),
            at: at.to_offset(UtcOffset::UTC),
            actor,
            action: action.into(),
            reason: reason.into(),
            state_before,
            state_after,
            prev_hash: prev.map_or_else(|| GENESIS_HASH.to_owned(), |prev| prev.hash.clone()),
            hash: String::new(),
        };
        record.hash = record.compute_hash();
        record
    }

    /// Computes the lowercase hex SHA-256 of every field except `hash`.
    ///
    /// The input is a version tag followed by each field as its byte length, a colon and its
    /// bytes, so no two different records encode the same way. An absent state is encoded as
    /// the empty string, which no state name is.
    pub fn compute_hash(&self) -> String {
        let seq = self.seq.to_string();
        let at = format_canonical_time(self.at);
        let actor = self.actor.to_string();
        let state_before = self.state_before.map_or("", TenantState::as_str);
        let state_after = self.state_after.map_or("", TenantState::as_str);
        let fields: [&str; 9] = [
            &self.prev_hash,
            self.tenant_id.as_str(),
            &seq,
            &at,
            &actor,
            &self.action,
            &self.reason,
            state_before,
            state_after,
        ];

        let mut hasher = Sha256::new();
        hasher.update(b"audit-record-v1\n");
        for field in fields {
            hasher.update(field.len().to_string().as_bytes());
            hasher.update(b":");
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Formats a time as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` in UTC.
fn format_canonical_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond()
    )
}

mod canonical_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_canonical_time(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        let value = String::deserialize(deserializer)?;
        OffsetDateTime::parse(&value, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

/// Outcome of a chain that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// Number of records checked.
    pub records: usize,
    /// `seq` of the newest record, or 0 for an empty chain.
    pub last_seq: u64,
    /// Hash of the newest record, or [`GENESIS_HASH`] for an empty chain.
    pub head_hash: String,
}

/// The first place where a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {reason}")]
pub struct ChainBreak {
    /// The seq the broken record should have, which is its position in the chain.
    pub seq: u64,
    pub reason: ChainBreakReason,
}

/// Cause of a chain verification failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreakReason {
    /// A record is missing or out of order, so the seq at this position is wrong.
    #[error("expected seq {expected}, found {found}")]
    SeqMismatch { expected: u64, found: u64 },
    /// The record does not point at the hash of the record before it.
    #[error("prev_hash {found} does not match the previous record's hash {expected}")]
    PrevHashMismatch { expected: String, found: String },
    /// The stored hash differs from the hash of the record's fields, so a field was edited.
    #[error("stored hash {stored} does not match the computed hash {computed}")]
    HashMismatch { stored: String, computed: String },
    /// The record belongs to another tenant than the first record.
    #[error("record belongs to tenant {found}, the chain to {expected}")]
    TenantMismatch { expected: TenantId, found: TenantId },
}

/// Verifies records given oldest first: seq runs from 1 without gaps, each `prev_hash` is the
/// hash of the record before, each hash matches the record's fields, and all records belong to
/// one tenant. Returns the first break found.
pub fn verify_chain(records: &[AuditRecord]) -> Result<ChainSummary, ChainBreak> {
    let mut expected_prev_hash = GENESIS_HASH.to_owned();
    let mut last_seq = 0;

    for (position, record) in records.iter().enumerate() {
        let expected_seq = position as u64 + 1;
        let broken = |reason| ChainBreak {
            seq: expected_seq,
            reason,
        };

        if record.seq != expected_seq {
            return Err(broken(ChainBreakReason::SeqMismatch {
                expected: expected_seq,
                found: record.seq,
            }));
        }
        if record.tenant_id != records[0].tenant_id {
            return Err(broken(ChainBreakReason::TenantMismatch {
                expected: records[0].tenant_id.clone(),
                found: record.tenant_id.clone(),
            }));
        }
        if record.prev_hash != expected_prev_hash {
            return Err(broken(ChainBreakReason::PrevHashMismatch {
                expected: expected_prev_hash,
                found: record.prev_hash.clone(),
            }));
        }
        let computed = record.compute_hash();
        if record.hash != computed {
            return Err(broken(ChainBreakReason::HashMismatch {
                stored: record.hash.clone(),
                computed,
            }));
        }

        expected_prev_hash = record.hash.clone();
        last_seq = record.seq;
    }

    Ok(ChainSummary {
        records: records.len(),
        last_seq,
        head_hash: expected_prev_hash,
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::lifecycle::TenantState::*;

    fn chain(length: usize) -> Vec<AuditRecord> {
        let tenant = TenantId::parse("tnt_01j9zq6x4m8k2c7r5t3v1w0yab").unwrap();
        let steps = [
            (
                Actor::user("auth0|42").unwrap(),
                "tenant.created",
                None,
                Some(Pending),
            ),
            (
                Actor::system("provisioner"),
                "provisioning.started",
                Some(Pending),
                Some(Provisioning),
            ),
            (
                Actor::system("provisioner"),
                "tenant.activated",
                Some(Provisioning),
                Some(Active),
            ),
            (
                Actor::platform_admin("ops@example.com").unwrap(),
                "tenant.suspended",
                Some(Active),
                Some(Suspended),
            ),
            (
                Actor::platform_admin("ops@example.com").unwrap(),
                "tenant.reactivated",
                Some(Suspended),
                Some(Active),
            ),
        ];
        let start = datetime!(2025-03-01 12:00:00.123456789 +02:00);
        let mut records: Vec<AuditRecord> = Vec::new();
        for index in 0..length {
            let (actor, action, before, after) = steps[index % steps.len()].clone();
            let record = AuditRecord::next(
                records.last(),
                tenant.clone(),
                start + time::Duration::minutes(index as i64),
                actor,
                action,
                format!("reason {index}"),
                before,
                after,
            );
            records.push(record);
        }
        records
    }

    fn break_seq(records: &[AuditRecord]) -> u64 {
        verify_chain(records).unwrap_err().seq
    }

    #[test]
    fn first_record_starts_the_chain() {
        let records = chain(1);
        assert_eq!(records[0].seq, 1);
        assert_eq!(records[0].prev_hash, GENESIS_HASH);
        assert_eq!(records[0].hash, records[0].compute_hash());
        assert_eq!(records[0].hash.len(), 64);
    }

    #[test]
    fn next_record_links_to_the_previous_one() {
        let records = chain(2);
        assert_eq!(records[1].seq, 2);
        assert_eq!(records[1].prev_hash, records[0].hash);
    }

    #[test]
    fn time_is_stored_in_utc_with_nanoseconds() {
        let record = &chain(1)[0];
        assert_eq!(record.at.offset(), UtcOffset::UTC);
        let json = serde_json::to_value(record).unwrap();
        assert_eq!(json["at"], "2025-03-01T10:00:00.123456789Z");
        assert_eq!(json["actor"], "user:auth0|42");
        assert_eq!(json["state_before"], serde_json::Value::Null);
        assert_eq!(json["state_after"], "pending");
    }

    #[test]
    fn record_round_trips_through_json() {
        let records = chain(3);
        let json = serde_json::to_string(&records).unwrap();
        let back: Vec<AuditRecord> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, records);
        assert!(verify_chain(&back).is_ok());
    }

    #[test]
    fn valid_chain_verifies() {
        let records = chain(5);
        let summary = verify_chain(&records).unwrap();
        assert_eq!(summary.records, 5);
        assert_eq!(summary.last_seq, 5);
        assert_eq!(summary.head_hash, records[4].hash);
    }

    #[test]
    fn empty_chain_verifies() {
        let summary = verify_chain(&[]).unwrap();
        assert_eq!(summary.records, 0);
        assert_eq!(summary.head_hash, GENESIS_HASH);
    }

    #[test]
    fn tampering_with_any_field_is_detected() {
        let other_tenant = TenantId::parse("tnt_01j9zq6x4m8k2c7r5t3v1w0yac").unwrap();
        type Edit = fn(&mut AuditRecord);
        let edits: [(&str, Edit); 7] = [
            ("at", |r| r.at += time::Duration::nanoseconds(1)),
            ("actor", |r| r.actor = Actor::system("watchdog")),
            ("action", |r| r.action.push('x')),
            ("reason", |r| r.reason = "edited".to_owned()),
            ("state_before", |r| r.state_before = None),
            ("state_after", |r| r.state_after = Some(Deactivated)),
            ("hash", |r| r.hash = "f".repeat(64)),
        ];
        for (field, edit) in edits {
            let mut records = chain(5);
            edit(&mut records[2]);
            let error = verify_chain(&records).unwrap_err();
            assert_eq!(error.seq, 3, "{field}");
            assert!(
                matches!(error.reason, ChainBreakReason::HashMismatch { .. }),
                "{field}: {error}"
            );
        }

        let mut records = chain(5);
        records[2].tenant_id = other_tenant;
        let error = verify_chain(&records).unwrap_err();
        assert_eq!(error.seq, 3);
        assert!(matches!(
            error.reason,
            ChainBreakReason::TenantMismatch { .. }
        ));
    }

    #[test]
    fn tampering_with_prev_hash_is_detected() {
        let mut records = chain(5);
        records[3].prev_hash = GENESIS_HASH.to_owned();
        let error = verify_chain(&records).unwrap_err();
        assert_eq!(error.seq, 4);
        assert!(matches!(
            error.reason,
            ChainBreakReason::PrevHashMismatch { .. }
        ));
    }

    #[test]
    fn rehashing_an_edited_record_breaks_the_next_link() {
        let mut records = chain(5);
        records[1].reason = "rewritten".to_owned();
        records[1].hash = records[1].compute_hash();
        assert_eq!(break_seq(&records), 3);
    }

    #[test]
    fn tampering_with_seq_is_detected() {
        let mut records = chain(5);
        records[2].seq = 7;
        let error = verify_chain(&records).unwrap_err();
        assert_eq!(error.seq, 3);
        assert_eq!(
            error.reason,
            ChainBreakReason::SeqMismatch {
                expected: 3,
                found: 7
            }
        );
    }

    #[test]
    fn deleting_a_record_is_detected() {
        let mut records = chain(5);
        records.remove(2);
        let error = verify_chain(&records).unwrap_err();
        assert_eq!(error.seq, 3);
        assert_eq!(
            error.reason,
            ChainBreakReason::SeqMismatch {
                expected: 3,
                found: 4
            }
        );

        let mut records = chain(5);
        records.remove(0);
        assert_eq!(break_seq(&records), 1);
    }

    #[test]
    fn swapping_two_records_is_detected() {
        let mut records = chain(5);
        records.swap(1, 2);
        assert_eq!(break_seq(&records), 2);
    }

    #[test]
    fn deleting_the_newest_record_changes_the_head_hash() {
        let records = chain(5);
        let full = verify_chain(&records).unwrap();
        let truncated = verify_chain(&records[..4]).unwrap();
        assert_ne!(full.head_hash, truncated.head_hash);
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut left = chain(1).remove(0);
        let mut right = left.clone();
        left.action = "tenant.created".to_owned();
        left.reason = "x".to_owned();
        right.action = "tenant.".to_owned();
        right.reason = "createdx".to_owned();
        assert_ne!(left.compute_hash(), right.compute_hash());
    }

    #[test]
    fn actor_parses_its_three_kinds() {
        assert_eq!(
            Actor::parse("system:provisioner"),
            Ok(Actor::system("provisioner"))
        );
        assert_eq!(Actor::parse("user:a:b"), Ok(Actor::User("a:b".to_owned())));
        assert_eq!(
            Actor::parse("platform_admin:ops"),
            Ok(Actor::PlatformAdmin("ops".to_owned()))
        );
        assert!(matches!(
            Actor::parse("robot:x"),
            Err(ActorError::UnknownKind(_))
        ));
        assert_eq!(Actor::parse("user:"), Err(ActorError::EmptySubject));
        assert_eq!(Actor::user("a\nb"), Err(ActorError::ControlCharacter));
    }
}
