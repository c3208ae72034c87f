//! Configuration read once from the environment at cold start.

use std::str::FromStr;

use onboarding_domain::signup::ServedRegions;

/// A missing or invalid environment variable, named so the operator can fix the template.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is missing; set it in template.yaml")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid ({value:?}): {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Settings shared by every function. Each field names the variable it comes from.
#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single table.
    pub table_name: String,
    /// `EMAIL_QUEUE_URL`: queue of outgoing email.
    pub email_queue_url: String,
    /// `KMS_KEY_ID`: customer-managed key, as an alias or ARN.
    pub kms_key_id: String,
    /// `STATE_MACHINE_ARN`: the provisioning state machine; empty in functions that never start it.
    pub state_machine_arn: String,
    /// `SENDER_EMAIL`: From address of every email.
    pub sender_email: String,
    /// `PUBLIC_API_URL`: base URL of this API, without a trailing slash, used in links.
    pub public_api_url: String,
    /// `WORKSPACE_BASE_DOMAIN`: workspaces live at `https://{subdomain}.{this}`.
    pub workspace_base_domain: String,
    /// `SERVED_REGIONS`: residency regions this deployment accepts.
    pub served_regions: ServedRegions,
    /// `SIGNUP_LIMIT_PER_IP_PER_HOUR`.
    pub signup_limit_per_ip_per_hour: u32,
    /// `SIGNUP_LIMIT_PER_EMAIL_PER_HOUR`.
    pub signup_limit_per_email_per_hour: u32,
    /// `RESEND_LIMIT_PER_HOUR`: verification resends per signup.
    pub resend_limit_per_hour: u32,
    /// `SHARED_CELL_CAPACITY`: tenants per shared cell.
    pub shared_cell_capacity: u32,
    /// `PROVISIONING_STUCK_AFTER_SECONDS`: the watchdog acts on tenants without progress for this long.
    pub provisioning_stuck_after_seconds: u64,
    /// `CORS_ALLOWED_ORIGIN`: value of `Access-Control-Allow-Origin` on every response.
    pub cors_allowed_origin: String,
    /// `STRIPE_*`: the Stripe API and webhook settings.
    pub stripe: crate::stripe::StripeSettings,
}

impl Config {
    /// Reads every setting from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads every setting through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| -> Result<String, ConfigError> {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let optional = |name: &'static str, default: &str| -> String {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let served_raw = optional("SERVED_REGIONS", "us,eu,apac");
        let served_regions =
            ServedRegions::parse(&served_raw).map_err(|error| ConfigError::Invalid {
                name: "SERVED_REGIONS",
                value: served_raw.clone(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            email_queue_url: optional("EMAIL_QUEUE_URL", ""),
            kms_key_id: optional("KMS_KEY_ID", ""),
            state_machine_arn: optional("STATE_MACHINE_ARN", ""),
            sender_email: optional("SENDER_EMAIL", ""),
            public_api_url: optional("PUBLIC_API_URL", "http://127.0.0.1:3000")
                .trim_end_matches('/')
                .to_owned(),
            workspace_base_domain: optional("WORKSPACE_BASE_DOMAIN", "workspaces.example.com"),
            served_regions,
            signup_limit_per_ip_per_hour: number(&lookup, "SIGNUP_LIMIT_PER_IP_PER_HOUR", 60)?,
            signup_limit_per_email_per_hour: number(&lookup, "SIGNUP_LIMIT_PER_EMAIL_PER_HOUR", 5)?,
            resend_limit_per_hour: number(&lookup, "RESEND_LIMIT_PER_HOUR", 5)?,
            shared_cell_capacity: number(&lookup, "SHARED_CELL_CAPACITY", 500)?,
            provisioning_stuck_after_seconds: number(
                &lookup,
                "PROVISIONING_STUCK_AFTER_SECONDS",
                300,
            )?,
            cors_allowed_origin: optional("CORS_ALLOWED_ORIGIN", "*"),
            stripe: crate::stripe::StripeSettings::from_lookup(&lookup),
        })
    }

    /// Returns the variable's value or fails naming it, for functions that need an optional setting.
    pub fn require<'a>(
        &'a self,
        name: &'static str,
        value: &'a str,
    ) -> Result<&'a str, ConfigError> {
        if value.is_empty() {
            Err(ConfigError::Missing(name))
        } else {
            Ok(value)
        }
    }
}

fn number<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match lookup(name).filter(|value| !value.trim().is_empty()) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|error: T::Err| ConfigError::Invalid {
                name,
                value: value.clone(),
                reason: format!("expected a whole number: {error}"),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn missing_table_name_is_named_in_the_error() {
        let error = Config::from_lookup(lookup(&[])).unwrap_err();
        assert!(error.to_string().contains("TABLE_NAME"), "{error}");
    }

    #[test]
    fn invalid_limit_names_variable_and_value() {
        let error = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("SIGNUP_LIMIT_PER_IP_PER_HOUR", "many"),
        ]))
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("SIGNUP_LIMIT_PER_IP_PER_HOUR"),
            "{message}"
        );
        assert!(message.contains("many"), "{message}");
    }

    #[test]
    fn defaults_let_fifty_signups_an_hour_through_from_one_ip() {
        let config = Config::from_lookup(lookup(&[("TABLE_NAME", "t")])).unwrap();
        assert!(config.signup_limit_per_ip_per_hour >= 50);
        assert_eq!(config.public_api_url, "http://127.0.0.1:3000");
    }
}
