//! Runtime settings from environment variables, overridable by `--flag value` arguments.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be a port number (0-65535), got {value:?}")]
    InvalidPort { name: &'static str, value: String },
    #[error("{name} must be a positive whole number, got {value:?}")]
    InvalidNumber { name: &'static str, value: String },
    #[error("unknown argument {0}; run with --help for the list")]
    UnknownArgument(String),
    #[error("argument {0} needs a value")]
    MissingValue(String),
}

pub const HELP: &str = "\
local-runtime: runs template.yaml on this machine against moto.

Each setting is an environment variable; the flag after it overrides it.
  LOCAL_API_PORT            --api-port N        HTTP API and /_local endpoints (default 3000)
  LOCAL_AWS_PORT            --aws-port N        port of the running moto server (default 4566)
  LOCAL_SFN_PORT            --sfn-port N        Step Functions endpoint (default 0: an ephemeral port)
  LOCAL_TEMPLATE            --template PATH     SAM template (default template.yaml)
  LOCAL_FUNCTIONS_DIR       --functions-dir DIR function binaries (default target/debug)
  LOCAL_FAIL_STEP           --fail-step STATE   make this Task state fail with Provisioning.Transient
  LOCAL_TRUST_FORWARDED_FOR                     1: sourceIp is the first X-Forwarded-For address
  LOCAL_TRUST_TIME_HEADER                       1: the request header x-local-time (RFC 3339, such as
                                                2026-12-04T19:40:23Z) sets requestContext.time and
                                                timeEpoch of that request's event instead of the
                                                clock and is removed from the event. A malformed
                                                value gets 400. Unset: the header passes unchanged.
  LOCAL_LOG_DIR             --log-dir DIR       write function output to DIR/<LogicalId>.log
  LOCAL_MAX_WORKERS         --max-workers N     worker processes per function (default 16)
  LOCAL_STACK_NAME          --stack-name NAME   AWS::StackName and name prefix (default onboarding-local)
  LOCAL_MOTO_WAIT_SECONDS                       how long to wait for moto at start (default 60)
  LOCAL_PARAM_<Name>                            value of template parameter <Name>

Endpoints under /_local on the API port:
  GET  /_local/health                 ready state, functions, routes and state machines
  POST /_local/tokens                 JWT for the HTTP API's authorizer; JSON body with sub and
                                      optional roles, tenant_id, scope and ttl_seconds
  GET  /_local/mailbox                email sent through SES
  GET  /_local/resources              physical names of the template's resources
  GET  /_local/executions/NAME        a state machine execution and its history
  POST /_local/schedules/ID/run       invoke function ID once with its scheduled event and return
                                      the output. An optional JSON body {\"time\": \"2026-12-04T19:40:23Z\"}
                                      (RFC 3339) sets the event's time instead of the clock.
";

#[derive(Debug, Clone)]
pub struct Config {
    pub api_port: u16,
    pub aws_port: u16,
    pub sfn_port: u16,
    pub template: PathBuf,
    pub functions_dir: PathBuf,
    pub fail_step: Option<String>,
    pub trust_forwarded_for: bool,
    pub trust_time_header: bool,
    pub log_dir: Option<PathBuf>,
    pub max_workers: usize,
    pub stack_name: String,
    pub moto_wait_seconds: u64,
    pub region: String,
    pub account_id: String,
}

fn parse_port(name: &'static str, value: &str) -> Result<u16, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::InvalidPort {
        name,
        value: value.to_string(),
    })
}

fn parse_positive(name: &'static str, value: &str) -> Result<u64, ConfigError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|n: &u64| *n > 0)
        .ok_or_else(|| ConfigError::InvalidNumber {
            name,
            value: value.to_string(),
        })
}

impl Config {
    /// Reads the settings from `environment` and then applies `arguments` (without the program name).
    pub fn load(
        environment: &dyn Fn(&str) -> Option<String>,
        arguments: &[String],
    ) -> Result<Self, ConfigError> {
        let text = |name: &str, default: &str| {
            environment(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let mut config = Self {
            api_port: parse_port("LOCAL_API_PORT", &text("LOCAL_API_PORT", "3000"))?,
            aws_port: parse_port("LOCAL_AWS_PORT", &text("LOCAL_AWS_PORT", "4566"))?,
            sfn_port: parse_port("LOCAL_SFN_PORT", &text("LOCAL_SFN_PORT", "0"))?,
            template: PathBuf::from(text("LOCAL_TEMPLATE", "template.yaml")),
            functions_dir: PathBuf::from(text("LOCAL_FUNCTIONS_DIR", "target/debug")),
            fail_step: environment("LOCAL_FAIL_STEP").filter(|v| !v.is_empty()),
            trust_forwarded_for: matches!(
                environment("LOCAL_TRUST_FORWARDED_FOR").as_deref(),
                Some("1" | "true")
            ),
            trust_time_header: matches!(
                environment("LOCAL_TRUST_TIME_HEADER").as_deref(),
                Some("1" | "true")
            ),
            log_dir: environment("LOCAL_LOG_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            max_workers: usize::try_from(parse_positive(
                "LOCAL_MAX_WORKERS",
                &text("LOCAL_MAX_WORKERS", "16"),
            )?)
            .unwrap_or(16),
            stack_name: text("LOCAL_STACK_NAME", "onboarding-local"),
            moto_wait_seconds: parse_positive(
                "LOCAL_MOTO_WAIT_SECONDS",
                &text("LOCAL_MOTO_WAIT_SECONDS", "60"),
            )?,
            region: "us-east-1".to_string(),
            account_id: "123456789012".to_string(),
        };
        let mut iter = arguments.iter();
        while let Some(flag) = iter.next() {
            let mut value = || {
                iter.next()
                    .cloned()
                    .ok_or_else(|| ConfigError::MissingValue(flag.clone()))
            };
            match flag.as_str() {
                "--api-port" => config.api_port = parse_port("--api-port", &value()?)?,
                "--aws-port" => config.aws_port = parse_port("--aws-port", &value()?)?,
                "--sfn-port" => config.sfn_port = parse_port("--sfn-port", &value()?)?,
                "--template" => config.template = PathBuf::from(value()?),
                "--functions-dir" => config.functions_dir = PathBuf::from(value()?),
                "--fail-step" => config.fail_step = Some(value()?),
                "--log-dir" => config.log_dir = Some(PathBuf::from(value()?)),
                "--stack-name" => config.stack_name = value()?,
                "--max-workers" => {
                    config.max_workers =
                        usize::try_from(parse_positive("--max-workers", &value()?)?).unwrap_or(16)
                }
                other => return Err(ConfigError::UnknownArgument(other.to_string())),
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_without_settings() {
        let config = Config::load(&|_| None, &[]).expect("loads");
        assert_eq!(config.api_port, 3000);
        assert_eq!(config.aws_port, 4566);
        assert_eq!(config.max_workers, 16);
        assert!(!config.trust_forwarded_for);
        assert!(!config.trust_time_header);
    }

    #[test]
    fn time_header_trust_reads_its_variable() {
        let environment = |name: &str| (name == "LOCAL_TRUST_TIME_HEADER").then(|| "1".to_string());
        let config = Config::load(&environment, &[]).expect("loads");
        assert!(config.trust_time_header);
        assert!(!config.trust_forwarded_for);
    }

    #[test]
    fn flags_override_environment() {
        let environment = |name: &str| (name == "LOCAL_API_PORT").then(|| "4000".to_string());
        let arguments = vec!["--api-port".to_string(), "5000".to_string()];
        let config = Config::load(&environment, &arguments).expect("loads");
        assert_eq!(config.api_port, 5000);
    }

    #[test]
    fn invalid_port_is_rejected() {
        let environment = |name: &str| (name == "LOCAL_AWS_PORT").then(|| "x".to_string());
        assert!(Config::load(&environment, &[]).is_err());
    }
}
