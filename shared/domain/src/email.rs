//! Transactional email: the templates the notifier sends and their rendering.

use serde::{Deserialize, Serialize};

/// An email to send, with the data its template needs.
///
/// Serialized as `{"template": "verification", "data": {...}}`, which is the body of an outbox
/// message and of an email queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", content = "data", rename_all = "snake_case")]
pub enum EmailTemplate {
    /// Asks the person who signed up to confirm their address.
    Verification {
        company_name: String,
        verify_url: String,
        expires_hours: u32,
    },
    /// Announces a provisioned workspace with the link to set the admin password.
    Welcome {
        company_name: String,
        workspace_url: String,
        set_password_url: String,
        /// First setup tasks. When empty, [`default_setup_checklist`] is used.
        checklist: Vec<String>,
    },
    /// Reports that provisioning failed and the signup was rolled back.
    ProvisioningFailed {
        company_name: String,
        reason: String,
    },
    /// Reminds a trial tenant that the trial ends in `days_left` days.
    TrialReminder {
        company_name: String,
        days_left: u32,
        /// RFC 3339 time the trial ends.
        trial_ends_at: String,
        upgrade_url: String,
    },
    /// Says the trial ended and the data is read-only until the grace period ends.
    TrialExpired {
        company_name: String,
        grace_ends_at: String,
        upgrade_url: String,
    },
    /// Says the tenant is suspended and why.
    TenantSuspended {
        company_name: String,
        reason: String,
    },
    /// Reports a platform admin's decision on a trial extension.
    TrialExtensionDecided {
        company_name: String,
        approved: bool,
        trial_ends_at: Option<String>,
    },
    /// Warns that usage reached 80 % or 100 % of a plan limit.
    UsageThreshold {
        company_name: String,
        limit: String,
        percent: u64,
        used: u64,
        max: u64,
        upgrade_url: String,
    },
    /// Confirms a paid plan after a successful payment.
    UpgradeConfirmed {
        company_name: String,
        plan: String,
        workspace_url: String,
    },
    /// Reports a failed payment and where to fix it.
    PaymentFailed {
        company_name: String,
        billing_url: String,
    },
    /// Tells an MSP provider that its pool holds fewer licenses than it has allocated.
    PoolOverAllocated {
        company_name: String,
        reason: String,
    },
    /// Tells a customer of an MSP about a change at its provider that affects its licenses.
    ProviderNotice {
        company_name: String,
        provider_name: String,
        reason: String,
    },
    /// Reports a downgrade: which modules are blocked and how long their data stays readable.
    PlanDowngraded {
        company_name: String,
        plan: String,
        blocked_modules: Vec<String>,
        read_only_until: String,
    },
}

/// An email ready for sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedEmail {
    /// Subject line, free of control characters.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Returns the first setup tasks listed in the welcome email.
pub fn default_setup_checklist() -> Vec<String> {
    [
        "Invite your team",
        "Connect your support email address so messages become tickets",
        "Import your assets or start discovery",
        "Review priorities and SLA targets",
        "Set up approval rules for changes",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Replaces control characters with spaces, because a line break in a subject could end
/// the header and inject another.
fn single_line(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect()
}

/// Wraps paragraphs of already escaped HTML in a minimal document.
fn html_document(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; line-height: 1.5\">\n{body}</body></html>\n"
    )
}

/// Renders an escaped link as a button-like anchor.
fn html_link(url: &str, label: &str) -> String {
    format!(
        "<p><a href=\"{}\" style=\"background: #2563eb; color: #ffffff; padding: 10px 16px; text-decoration: none; border-radius: 4px\">{}</a></p>\n",
        escape_html(url),
        escape_html(label)
    )
}

/// Renders the subject, plain text and HTML of an email. Every interpolated value is
/// HTML-escaped in the HTML part.
pub fn render(template: &EmailTemplate) -> RenderedEmail {
    match template {
        EmailTemplate::Verification {
            company_name,
            verify_url,
            expires_hours,
        } => render_verification(company_name, verify_url, *expires_hours),
        EmailTemplate::Welcome {
            company_name,
            workspace_url,
            set_password_url,
            checklist,
        } => render_welcome(company_name, workspace_url, set_password_url, checklist),
        EmailTemplate::ProvisioningFailed {
            company_name,
            reason,
        } => render_provisioning_failed(company_name, reason),
        other => render_notice(other),
    }
}

/// Subject, paragraphs and an optional link of the short account notices.
fn notice_parts(template: &EmailTemplate) -> (String, Vec<String>, Option<(String, &'static str)>) {
    match template {
        EmailTemplate::TrialReminder { company_name, days_left, trial_ends_at, upgrade_url } => (
            format!("Your {company_name} trial ends in {days_left} day(s)"),
            vec![format!("The trial of the {company_name} workspace ends on {trial_ends_at}. Choose a plan to keep working without interruption.")],
            Some((upgrade_url.clone(), "Choose a plan")),
        ),
        EmailTemplate::TrialExpired { company_name, grace_ends_at, upgrade_url } => (
            format!("Your {company_name} trial has ended"),
            vec![
                format!("The trial of the {company_name} workspace has ended. Your data is read-only until {grace_ends_at}."),
                "Choose a plan before then to keep your data and unlock every feature again.".to_owned(),
            ],
            Some((upgrade_url.clone(), "Choose a plan")),
        ),
        EmailTemplate::TenantSuspended { company_name, reason } => (
            format!("The {company_name} workspace is suspended"),
            vec![format!("The {company_name} workspace is suspended: {reason}.")],
            None,
        ),
        EmailTemplate::TrialExtensionDecided { company_name, approved, trial_ends_at } => {
            let ends = trial_ends_at.clone().unwrap_or_else(|| "the date set before".to_owned());
            if *approved {
                (
                    format!("Your {company_name} trial was extended"),
                    vec![format!("Your request for a longer trial was approved. The trial now ends on {ends}.")],
                    None,
                )
            } else {
                (
                    format!("Your {company_name} trial extension request"),
                    vec![format!("Your request for a longer trial was not approved. The trial still ends on {ends}.")],
                    None,
                )
            }
        }
        EmailTemplate::UsageThreshold { company_name, limit, percent, used, max, upgrade_url } => (
            format!("{company_name} reached {percent}% of its {limit} limit"),
            vec![format!(
                "The {company_name} workspace uses {used} of {max} ({limit}). {}",
                if *percent >= 100 {
                    "New use of this resource is blocked until you upgrade or reduce usage."
                } else {
                    "Upgrade before you reach the limit to avoid interruptions."
                }
            )],
            Some((upgrade_url.clone(), "Upgrade")),
        ),
        EmailTemplate::UpgradeConfirmed { company_name, plan, workspace_url } => (
            format!("{company_name} is now on the {plan} plan"),
            vec![format!("Thank you for your payment. The {company_name} workspace is on the {plan} plan, with every module of that plan enabled.")],
            Some((workspace_url.clone(), "Open the workspace")),
        ),
        EmailTemplate::PaymentFailed { company_name, billing_url } => (
            format!("Payment for {company_name} failed"),
            vec![
                format!("We could not collect the payment for the {company_name} workspace."),
                "Please update the payment method. If the invoice stays unpaid, the workspace will be suspended and its data kept read-only.".to_owned(),
            ],
            Some((billing_url.clone(), "Update payment method")),
        ),
        EmailTemplate::PlanDowngraded { company_name, plan, blocked_modules, read_only_until } => (
            format!("{company_name} moved to the {plan} plan"),
            vec![format!(
                "The {company_name} workspace is now on the {plan} plan. These modules are no longer included: {}. Their data stays readable until {read_only_until} and is archived after that.",
                blocked_modules.join(", ")
            )],
            None,
        ),
        EmailTemplate::PoolOverAllocated { company_name, reason } => (
            format!("{company_name}: more licenses allocated than owned"),
            vec![format!("For the {company_name} workspace: {reason}.")],
            None,
        ),
        EmailTemplate::ProviderNotice {
            company_name,
            provider_name,
            reason,
        } => (
            format!("A change at {provider_name} affects {company_name}"),
            vec![
                format!("{provider_name}, who provides the {company_name} workspace, reports: {reason}."),
                "Your workspace keeps its current licenses and access. New licenses cannot be added until your provider resolves this.".to_owned(),
            ],
            None,
        ),
        EmailTemplate::Verification { .. } | EmailTemplate::Welcome { .. } | EmailTemplate::ProvisioningFailed { .. } => {
            (String::new(), Vec::new(), None)
        }
    }
}

fn render_notice(template: &EmailTemplate) -> RenderedEmail {
    let (subject, paragraphs, link) = notice_parts(template);
    let mut text = String::from("Hello,\n\n");
    let mut html = String::from("<p>Hello,</p>\n");
    for paragraph in &paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>\n", escape_html(paragraph)));
    }
    if let Some((url, label)) = &link {
        text.push_str(&format!("{label}: {url}\n"));
        html.push_str(&html_link(url, label));
    }
    RenderedEmail {
        subject: single_line(&subject),
        text,
        html: html_document(&html),
    }
}

fn render_verification(company_name: &str, verify_url: &str, expires_hours: u32) -> RenderedEmail {
    let subject = single_line(&format!(
        "Confirm your email to create the {company_name} workspace"
    ));
    let text = format!(
        "Hello,\n\n\
         Confirm your email address to create the {company_name} workspace:\n\n\
         {verify_url}\n\n\
         The link expires in {expires_hours} hours. If you did not sign up, ignore this email.\n"
    );
    let company = escape_html(company_name);
    let html = html_document(&format!(
        "<p>Hello,</p>\n\
         <p>Confirm your email address to create the {company} workspace.</p>\n\
         {link}\
         <p>Or paste this link into your browser: {url}</p>\n\
         <p>The link expires in {expires_hours} hours. If you did not sign up, ignore this email.</p>\n",
        link = html_link(verify_url, "Confirm email"),
        url = escape_html(verify_url),
    ));
    RenderedEmail {
        subject,
        text,
        html,
    }
}

fn render_welcome(
    company_name: &str,
    workspace_url: &str,
    set_password_url: &str,
    checklist: &[String],
) -> RenderedEmail {
    let checklist = if checklist.is_empty() {
        default_setup_checklist()
    } else {
        checklist.to_vec()
    };
    let subject = single_line(&format!("Your {company_name} workspace is ready"));

    let text_items: String = checklist.iter().map(|item| format!("- {item}\n")).collect();
    let text = format!(
        "Hello,\n\n\
         The {company_name} workspace is ready at {workspace_url}\n\n\
         Set your password to sign in:\n\n\
         {set_password_url}\n\n\
         To get started:\n\
         {text_items}"
    );

    let html_items: String = checklist
        .iter()
        .map(|item| format!("<li>{}</li>\n", escape_html(item)))
        .collect();
    let html = html_document(&format!(
        "<p>Hello,</p>\n\
         <p>The {company} workspace is ready at <a href=\"{workspace}\">{workspace}</a>.</p>\n\
         <p>Set your password to sign in.</p>\n\
         {link}\
         <p>To get started:</p>\n<ul>\n{html_items}</ul>\n",
        company = escape_html(company_name),
        workspace = escape_html(workspace_url),
        link = html_link(set_password_url, "Set password"),
    ));
    RenderedEmail {
        subject,
        text,
        html,
    }
}

fn render_provisioning_failed(company_name: &str, reason: &str) -> RenderedEmail {
    let subject = single_line(&format!("We could not create the {company_name} workspace"));
    let text = format!(
        "Hello,\n\n\
         We could not create the {company_name} workspace: {reason}\n\n\
         Nothing was kept, and the subdomain is free again. You can sign up again, or reply to this email for help.\n"
    );
    let html = html_document(&format!(
        "<p>Hello,</p>\n\
         <p>We could not create the {company} workspace: {reason}</p>\n\
         <p>Nothing was kept, and the subdomain is free again. You can sign up again, or reply to this email for help.</p>\n",
        company = escape_html(company_name),
        reason = escape_html(reason),
    ));
    RenderedEmail {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod notice_tests {
    use super::*;

    #[test]
    fn usage_threshold_notice_escapes_the_company_name() {
        let rendered = render(&EmailTemplate::UsageThreshold {
            company_name: "<Acme>".into(),
            limit: "assets".into(),
            percent: 100,
            used: 510,
            max: 500,
            upgrade_url: "https://acme.example.com/settings/billing".into(),
        });
        assert!(rendered.subject.contains("100% of its assets limit"));
        assert!(rendered.html.contains("&lt;Acme&gt;"));
        assert!(!rendered.html.contains("<Acme>"));
        assert!(rendered
            .text
            .contains("https://acme.example.com/settings/billing"));
    }

    #[test]
    fn trial_reminder_subject_names_days_left() {
        let rendered = render(&EmailTemplate::TrialReminder {
            company_name: "Acme".into(),
            days_left: 3,
            trial_ends_at: "2027-03-16T13:00:00Z".into(),
            upgrade_url: "https://acme.example.com/settings/billing".into(),
        });
        assert_eq!(rendered.subject, "Your Acme trial ends in 3 day(s)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn welcome(checklist: Vec<String>) -> EmailTemplate {
        EmailTemplate::Welcome {
            company_name: "Acme".to_owned(),
            workspace_url: "https://acme.example.com".to_owned(),
            set_password_url: "https://api.example.com/v1/invite?token=abc".to_owned(),
            checklist,
        }
    }

    #[test]
    fn serializes_with_template_and_data_tags() {
        let template = EmailTemplate::Verification {
            company_name: "Acme".to_owned(),
            verify_url: "https://api.example.com/v1/verify?token=abc".to_owned(),
            expires_hours: 24,
        };
        let json = serde_json::to_value(&template).unwrap();
        assert_eq!(json["template"], "verification");
        assert_eq!(json["data"]["company_name"], "Acme");
        assert_eq!(json["data"]["expires_hours"], 24);
        let back: EmailTemplate = serde_json::from_value(json).unwrap();
        assert_eq!(back, template);
    }

    #[test]
    fn provisioning_failed_uses_a_snake_case_tag() {
        let template = EmailTemplate::ProvisioningFailed {
            company_name: "Acme".to_owned(),
            reason: "no capacity".to_owned(),
        };
        let json = serde_json::to_value(&template).unwrap();
        assert_eq!(json["template"], "provisioning_failed");
    }

    #[test]
    fn verification_email_contains_link_and_expiry() {
        let rendered = render(&EmailTemplate::Verification {
            company_name: "Acme".to_owned(),
            verify_url: "https://api.example.com/v1/verify?token=abc&x=1".to_owned(),
            expires_hours: 24,
        });
        assert_eq!(
            rendered.subject,
            "Confirm your email to create the Acme workspace"
        );
        assert!(rendered
            .text
            .contains("https://api.example.com/v1/verify?token=abc&x=1"));
        assert!(rendered.text.contains("24 hours"));
        assert!(rendered
            .html
            .contains("href=\"https://api.example.com/v1/verify?token=abc&amp;x=1\""));
    }

    #[test]
    fn html_part_escapes_every_interpolated_value() {
        let hostile = "<script>alert('x')</script> & \"co\"";
        let templates = [
            EmailTemplate::Verification {
                company_name: hostile.to_owned(),
                verify_url: format!("https://x.example.com/?q={hostile}"),
                expires_hours: 1,
            },
            EmailTemplate::Welcome {
                company_name: hostile.to_owned(),
                workspace_url: hostile.to_owned(),
                set_password_url: hostile.to_owned(),
                checklist: vec![hostile.to_owned()],
            },
            EmailTemplate::ProvisioningFailed {
                company_name: hostile.to_owned(),
                reason: hostile.to_owned(),
            },
        ];
        for template in templates {
            let html = render(&template).html;
            assert!(!html.contains("<script>"), "{html}");
            assert!(!html.contains("'x'"), "{html}");
            assert!(!html.contains("\"co\""), "{html}");
            assert!(html.contains("&lt;script&gt;"), "{html}");
        }
    }

    #[test]
    fn subject_has_no_line_breaks() {
        let rendered = render(&EmailTemplate::ProvisioningFailed {
            company_name: "Acme\r\nBcc: victim@example.com".to_owned(),
            reason: "x".to_owned(),
        });
        assert!(!rendered.subject.contains('\r'));
        assert!(!rendered.subject.contains('\n'));
    }

    #[test]
    fn welcome_email_lists_the_default_checklist() {
        let rendered = render(&welcome(Vec::new()));
        assert_eq!(rendered.subject, "Your Acme workspace is ready");
        for item in default_setup_checklist() {
            assert!(rendered.text.contains(&format!("- {item}")), "{item}");
            assert!(
                rendered.html.contains(&format!("<li>{item}</li>")),
                "{item}"
            );
        }
        assert!(rendered.text.contains("Invite your team"));
        assert!(rendered
            .text
            .contains("https://api.example.com/v1/invite?token=abc"));
    }

    #[test]
    fn welcome_email_uses_a_given_checklist() {
        let rendered = render(&welcome(vec!["Add your first client".to_owned()]));
        assert!(rendered.text.contains("- Add your first client"));
        assert!(!rendered.text.contains("Invite your team"));
    }

    #[test]
    fn failure_email_states_the_reason() {
        let rendered = render(&EmailTemplate::ProvisioningFailed {
            company_name: "Acme".to_owned(),
            reason: "no capacity in eu".to_owned(),
        });
        assert!(rendered.text.contains("no capacity in eu"));
        assert!(rendered.html.contains("no capacity in eu"));
    }
}
