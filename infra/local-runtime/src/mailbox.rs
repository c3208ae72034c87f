//! The local mailbox: every email moto's SES accepted, read from `GET /moto-api/data.json`.
//!
//! moto 5.2.5 keeps one body per simple email: the HTML part when there is one, else the text
//! part. It keeps no send time. The mailbox therefore classifies the body by its content and
//! records `sent_at` as the time the runtime first saw the message.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::moto::{MotoClient, MotoError};

#[derive(Default)]
pub struct Mailbox {
    first_seen: Mutex<HashMap<String, String>>,
}

impl Mailbox {
    /// Lists every sent email as `{id, to, cc, bcc, from, subject, text, html, sent_at}`, oldest first.
    pub async fn list(&self, moto: &MotoClient) -> Result<Vec<Value>, MotoError> {
        let data = moto.data().await?;
        let ses = data.get("ses").cloned().unwrap_or(Value::Null);
        let mut emails = Vec::new();
        for message in ses
            .get("Message")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let body = text_field(message, "body");
            let (text, html) = if looks_like_html(&body) {
                (Some(strip_tags(&body)), Some(body))
            } else {
                (Some(body), None)
            };
            let destinations = message.get("destinations").cloned().unwrap_or(Value::Null);
            emails.push(self.email(
                message,
                addresses(&destinations, "ToAddresses"),
                addresses(&destinations, "CcAddresses"),
                addresses(&destinations, "BccAddresses"),
                text_field(message, "subject"),
                text,
                html,
            ));
        }
        for message in ses
            .get("RawMessage")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let raw = text_field(message, "raw_data");
            let parsed = parse_mime(&raw);
            let to = message
                .get("destinations")
                .and_then(Value::as_array)
                .map(|d| {
                    d.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            emails.push(self.email(
                message,
                to,
                Vec::new(),
                Vec::new(),
                parsed.subject,
                parsed.text,
                parsed.html,
            ));
        }
        Ok(emails)
    }

    #[allow(clippy::too_many_arguments)]
    fn email(
        &self,
        message: &Value,
        to: Vec<String>,
        cc: Vec<String>,
        bcc: Vec<String>,
        subject: String,
        text: Option<String>,
        html: Option<String>,
    ) -> Value {
        let id = text_field(message, "id");
        let sent_at = {
            let mut seen = self
                .first_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.entry(id.clone())
                .or_insert_with(|| {
                    OffsetDateTime::now_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                })
                .clone()
        };
        json!({
            "id": id,
            "to": to,
            "cc": cc,
            "bcc": bcc,
            "from": text_field(message, "source"),
            "subject": subject,
            "text": text,
            "html": html,
            "sent_at": sent_at,
        })
    }
}

fn text_field(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn addresses(destinations: &Value, field: &str) -> Vec<String> {
    destinations
        .get(field)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn looks_like_html(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    [
        "<html", "<body", "<p>", "<p ", "<div", "<br", "<a ", "<table", "</",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}

/// Turns HTML into plain text by dropping tags and decoding the common entities.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .trim()
        .to_string()
}

#[derive(Debug, Default, PartialEq)]
struct MimeMessage {
    subject: String,
    text: Option<String>,
    html: Option<String>,
}

fn split_head(part: &str) -> (&str, &str) {
    part.split_once("\r\n\r\n")
        .or_else(|| part.split_once("\n\n"))
        .unwrap_or((part, ""))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn decode_body(head: &str, body: &str) -> String {
    match header(head, "Content-Transfer-Encoding")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("base64") => {
            let compact: String = body.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| body.to_string())
        }
        Some("quoted-printable") => decode_quoted_printable(body),
        _ => body.to_string(),
    }
}

fn decode_quoted_printable(body: &str) -> String {
    // Soft line breaks (`=` at the end of a line) join lines before escapes are decoded.
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    crate::escapes::decode_hex_escapes(&joined, b'=')
}

/// Reads the subject and the text and HTML parts of a raw MIME message (one level of multipart nesting per call).
fn parse_mime(raw: &str) -> MimeMessage {
    let (head, body) = split_head(raw);
    let mut message = MimeMessage {
        subject: header(head, "Subject").unwrap_or_default().to_string(),
        ..MimeMessage::default()
    };
    collect_parts(head, body, &mut message);
    message
}

fn collect_parts(head: &str, body: &str, message: &mut MimeMessage) {
    let content_type = header(head, "Content-Type")
        .unwrap_or("text/plain")
        .to_string();
    let lower = content_type.to_ascii_lowercase();
    if lower.starts_with("multipart/") {
        let Some(boundary) = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_string())
        else {
            return;
        };
        let delimiter = format!("--{boundary}");
        for part in body.split(&delimiter).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part.trim_start_matches(['\r', '\n']);
            let (part_head, part_body) = split_head(part);
            collect_parts(part_head, part_body, message);
        }
    } else if lower.starts_with("text/html") {
        message
            .html
            .get_or_insert_with(|| decode_body(head, body).trim_end().to_string());
    } else if lower.starts_with("text/") {
        message
            .text
            .get_or_insert_with(|| decode_body(head, body).trim_end().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_message_yields_text_and_html() {
        let raw = "Subject: Welcome\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b1\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+SGVsbG88L3A+\r\n--b1--\r\n";
        let parsed = parse_mime(raw);
        assert_eq!(parsed.subject, "Welcome");
        assert_eq!(parsed.text.as_deref(), Some("Hello"));
        assert_eq!(parsed.html.as_deref(), Some("<p>Hello</p>"));
    }

    #[test]
    fn html_body_is_stripped_into_text() {
        assert!(looks_like_html("<p>Verify &amp; go</p>"));
        assert_eq!(strip_tags("<p>Verify &amp; go</p>"), "Verify & go");
        assert!(!looks_like_html("Visit https://x.example/verify?token=a<b"));
    }
}
