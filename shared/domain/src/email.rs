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
