//! Validation of execution names and ARNs.

use super::error::ServiceError;

const MAX_NAME_LENGTH: usize = 80;

/// Checks a state machine or execution name: 1 to 80 characters of `A-Z a-z 0-9 - _`.
pub(super) fn check_name(name: &str) -> Result<(), ServiceError> {
    let invalid = |reason| ServiceError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() || name.len() > MAX_NAME_LENGTH {
        return Err(invalid("a name has 1 to 80 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            "a name may contain only letters, digits, '-' and '_'",
        ));
    }
    Ok(())
}

/// Checks the shape `arn:aws:states:{region}:{account}:stateMachine:{name}`.
pub(super) fn check_state_machine_arn(arn: &str) -> Result<(), ServiceError> {
    check_arn(
        arn,
        "stateMachine",
        7,
        "expected arn:aws:states:{region}:{account}:stateMachine:{name}",
    )
}

/// Checks the shape `arn:aws:states:{region}:{account}:execution:{state machine name}:{name}`.
pub(super) fn check_execution_arn(arn: &str) -> Result<(), ServiceError> {
    check_arn(
        arn,
        "execution",
        8,
        "expected arn:aws:states:{region}:{account}:execution:{state machine name}:{execution name}",
    )
}

fn check_arn(
    arn: &str,
    resource_type: &str,
    part_count: usize,
    reason: &'static str,
) -> Result<(), ServiceError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let valid = parts.len() == part_count
        && parts[0] == "arn"
        && parts[2] == "states"
        && parts[5] == resource_type
        && parts[3..].iter().all(|part| !part.is_empty());
    if valid {
        Ok(())
    } else {
        Err(ServiceError::InvalidArn {
            arn: arn.to_owned(),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_check_accepts_the_provisioning_execution_name() {
        assert_eq!(check_name("tnt_01HZX3-1"), Ok(()));
    }

    #[test]
    fn name_check_rejects_bad_names() {
        for name in ["", "has space", "colon:", &"a".repeat(81)] {
            assert!(check_name(name).is_err(), "{name:?} should be rejected");
        }
    }

    #[test]
    fn execution_arn_check_requires_eight_parts() {
        assert!(check_execution_arn(
            "arn:aws:states:us-east-1:123456789012:execution:Provisioning:x"
        )
        .is_ok());
        assert!(check_execution_arn(
            "arn:aws:states:us-east-1:123456789012:stateMachine:Provisioning"
        )
        .is_err());
        assert!(check_execution_arn("not-an-arn").is_err());
    }
}
