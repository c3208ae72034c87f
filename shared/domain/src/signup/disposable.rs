//! Domains of disposable mailbox providers, which signups may not use.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::email::EmailAddress;

const BUILTIN_LIST: &str = include_str!("../../data/disposable_email_domains.txt");

/// A set of disposable mailbox domains. A domain matches when it or any parent domain is listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisposableDomains {
    domains: HashSet<String>,
}

impl DisposableDomains {
    /// Returns the list shipped with the product, parsed once.
    pub fn builtin() -> &'static DisposableDomains {
        static BUILTIN: OnceLock<DisposableDomains> = OnceLock::new();
        BUILTIN.get_or_init(|| DisposableDomains::from_list(BUILTIN_LIST))
    }

    /// Builds a set from text with one domain a line, ignoring blank lines and `#` comments.
    pub fn from_list(list: &str) -> Self {
        let domains = list
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_ascii_lowercase)
            .collect();
        DisposableDomains { domains }
    }

    /// Returns whether the address's domain, or a parent of it, is disposable.
    pub fn is_disposable(&self, email: &EmailAddress) -> bool {
        self.contains_domain(email.domain())
    }

    /// Returns whether a domain, or a parent of it, is listed. `a.b.mailinator.com` matches
    /// `mailinator.com`.
    pub fn contains_domain(&self, domain: &str) -> bool {
        let domain = domain.to_ascii_lowercase();
        let mut candidate = domain.as_str();
        loop {
            if self.domains.contains(candidate) {
                return true;
            }
            match candidate.split_once('.') {
                Some((_, parent)) => candidate = parent,
                None => return false,
            }
        }
    }

    /// Returns the number of listed domains.
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// Returns whether no domain is listed.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(raw: &str) -> EmailAddress {
        EmailAddress::parse(raw).unwrap()
    }

    #[test]
    fn builtin_list_has_at_least_150_domains() {
        assert!(
            DisposableDomains::builtin().len() >= 150,
            "{}",
            DisposableDomains::builtin().len()
        );
    }

    #[test]
    fn builtin_list_contains_well_known_providers() {
        let list = DisposableDomains::builtin();
        for domain in [
            "mailinator.com",
            "guerrillamail.com",
            "10minutemail.com",
            "yopmail.com",
            "trashmail.com",
            "sharklasers.com",
            "temp-mail.org",
        ] {
            assert!(list.contains_domain(domain), "{domain}");
        }
    }

    #[test]
    fn matches_the_domain_of_an_address() {
        assert!(DisposableDomains::builtin().is_disposable(&email("x@Mailinator.com")));
        assert!(!DisposableDomains::builtin().is_disposable(&email("x@example.com")));
    }

    #[test]
    fn matches_every_parent_domain() {
        let list = DisposableDomains::builtin();
        assert!(list.is_disposable(&email("x@a.b.mailinator.com")));
        assert!(list.is_disposable(&email("x@inbox.yopmail.com")));
    }

    #[test]
    fn ignores_a_shared_name_suffix() {
        let list = DisposableDomains::builtin();
        assert!(!list.is_disposable(&email("x@notmailinator.com")));
        assert!(!list.contains_domain("com"));
    }

    #[test]
    fn custom_list_ignores_comments_and_blank_lines() {
        let list = DisposableDomains::from_list("# comment\n\n Throwaway.Test \n");
        assert_eq!(list.len(), 1);
        assert!(list.contains_domain("mx.throwaway.test"));
    }
}
