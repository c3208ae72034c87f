//! Predefined error names of the Amazon States Language and how Retry and Catch match them.

/// Matches every error except `States.Runtime`.
pub const STATES_ALL: &str = "States.ALL";
/// An error in path processing or payload construction. It fails the execution and no Retry or
/// Catch handles it.
pub const STATES_RUNTIME: &str = "States.Runtime";
/// A Task state ran longer than its TimeoutSeconds, or the execution ran longer than its own.
pub const STATES_TIMEOUT: &str = "States.Timeout";
/// Matches every task failure except `States.Timeout`.
pub const STATES_TASK_FAILED: &str = "States.TaskFailed";
/// A Choice state found no matching rule and has no Default.
pub const STATES_NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";

/// Returns whether an `ErrorEquals` entry matches the error name of a failed task.
///
/// Only task failures reach Retry and Catch, so `States.TaskFailed` matches every name except
/// `States.Timeout`.
pub(crate) fn error_matches(pattern: &str, error: &str) -> bool {
    match pattern {
        STATES_ALL => error != STATES_RUNTIME,
        STATES_TASK_FAILED => error != STATES_TIMEOUT && error != STATES_RUNTIME,
        _ => pattern == error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_all_matches_everything_but_runtime() {
        assert!(error_matches(STATES_ALL, "Provisioning.Fatal"));
        assert!(error_matches(STATES_ALL, STATES_TIMEOUT));
        assert!(!error_matches(STATES_ALL, STATES_RUNTIME));
    }

    #[test]
    fn task_failed_matches_everything_but_timeout() {
        assert!(error_matches(STATES_TASK_FAILED, "Provisioning.Transient"));
        assert!(!error_matches(STATES_TASK_FAILED, STATES_TIMEOUT));
    }

    #[test]
    fn named_error_matches_only_itself() {
        assert!(error_matches("Provisioning.Fatal", "Provisioning.Fatal"));
        assert!(!error_matches(
            "Provisioning.Fatal",
            "Provisioning.Transient"
        ));
    }
}
