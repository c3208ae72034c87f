//! Pure types and rules of tenant onboarding: identifiers, signup validation, the tenant
//! lifecycle, plans and templates, secret tokens, the audit chain and email rendering, and
//! for billing the plan catalog, usage, entitlements, trial reminders and Stripe webhooks.
//! The crate does no I/O and has no dependency on AWS.

pub mod audit;
pub mod billing;
pub mod catalog;
pub mod email;
pub mod entitlements;
pub mod ids;
pub mod lifecycle;
pub mod plans;
pub mod provisioning;
pub mod signup;
pub mod stripe;
pub mod token;
pub mod trial;
pub mod usage;

use signup::Subdomain;

/// Returns the URL of a tenant's workspace, `https://{subdomain}.{base_domain}`.
///
/// Surrounding dots and slashes of `base_domain` are ignored, so `example.com.` and
/// `example.com` give the same URL.
pub fn workspace_url(subdomain: &Subdomain, base_domain: &str) -> String {
    let base = base_domain.trim().trim_matches(|c| c == '.' || c == '/');
    format!("https://{}.{base}", subdomain.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_url_joins_subdomain_and_base() {
        let subdomain = Subdomain::parse("acme").unwrap();
        assert_eq!(
            workspace_url(&subdomain, "example.com"),
            "https://acme.example.com"
        );
        assert_eq!(
            workspace_url(&subdomain, ".example.com."),
            "https://acme.example.com"
        );
    }
}
