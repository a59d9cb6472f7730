//! Slack's `attachments` and `blocks` as readable markdown: a message keeps one body, and the
//! usual renderer and sanitiser draw it.

use std::collections::HashMap;

use serde_json::Value;

use super::mrkdwn::to_markdown;

fn text_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get("text").and_then(Value::as_str),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty())
}

/// `section`, `header`, `context` and `divider` blocks; other kinds are skipped.
pub fn blocks(blocks: &[Value], names: &HashMap<i64, String>) -> Vec<String> {
    let mut parts = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("header") => {
                if let Some(text) = block.get("text").and_then(text_of) {
                    parts.push(format!("**{}**", to_markdown(text, names).trim()));
                }
            }
            Some("section") => {
                if let Some(text) = block.get("text").and_then(text_of) {
                    parts.push(to_markdown(text, names));
                }
                if let Some(fields) = block.get("fields").and_then(Value::as_array) {
                    let lines: Vec<String> = fields
                        .iter()
                        .filter_map(text_of)
                        .map(|t| to_markdown(t, names))
                        .collect();
                    if !lines.is_empty() {
                        parts.push(lines.join("  \n"));
                    }
                }
            }
            Some("context") => {
                let texts: Vec<String> = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .map(|els| {
                        els.iter()
                            .filter_map(text_of)
                            .map(|t| to_markdown(t, names))
                            .collect()
                    })
                    .unwrap_or_default();
                if !texts.is_empty() {
                    parts.push(format!("_{}_", texts.join(" · ")));
                }
            }
            Some("divider") => parts.push("---".to_owned()),
            _ => {}
        }
    }
    parts
}

/// Legacy attachments: pretext above, then the rest as a quote.
pub fn attachments(attachments: &[Value], names: &HashMap<i64, String>) -> Vec<String> {
    let mut parts = Vec::new();
    for attachment in attachments {
        let field = |name: &str| {
            attachment
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        };
        if let Some(pretext) = field("pretext") {
            parts.push(to_markdown(pretext, names));
        }
        let mut quoted = Vec::new();
        if let Some(author) = field("author_name") {
            quoted.push(format!("_{}_", to_markdown(author, names)));
        }
        match (field("title"), field("title_link")) {
            (Some(title), Some(link)) if link.starts_with("http") => quoted.push(format!(
                "**[{}]({})**",
                title.replace(['[', ']'], ""),
                link.replace(')', "%29")
            )),
            (Some(title), _) => quoted.push(format!("**{}**", to_markdown(title, names))),
            _ => {}
        }
        if let Some(text) = field("text") {
            quoted.push(to_markdown(text, names));
        }
        if let Some(fields) = attachment.get("fields").and_then(Value::as_array) {
            for f in fields {
                let title = f.get("title").and_then(Value::as_str).unwrap_or_default();
                let value = f.get("value").and_then(Value::as_str).unwrap_or_default();
                if !title.is_empty() || !value.is_empty() {
                    quoted.push(format!(
                        "**{}**: {}",
                        to_markdown(title, names),
                        to_markdown(value, names)
                    ));
                }
            }
        }
        if let Some(footer) = field("footer") {
            quoted.push(format!("_{}_", to_markdown(footer, names)));
        }
        if quoted.is_empty()
            && let Some(fallback) = field("fallback")
        {
            quoted.push(to_markdown(fallback, names));
        }
        if !quoted.is_empty() {
            let body = quoted.join("\n\n");
            parts.push(
                body.lines()
                    .map(|l| format!("> {l}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::{check_inert, render, xss_corpus};
    use serde_json::json;

    #[test]
    fn every_payload_of_the_xss_corpus_stays_inert_through_webhooks() {
        let names = HashMap::from([(1, "ada".to_owned())]);
        for payload in xss_corpus() {
            let mut texts = vec![super::super::mrkdwn::to_markdown(&payload, &names)];
            texts.extend(blocks(
                &[
                    json!({"type": "section", "text": {"type": "mrkdwn", "text": payload}, "fields": [{"type": "plain_text", "text": payload}]}),
                    json!({"type": "header", "text": {"type": "plain_text", "text": payload}}),
                    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": payload}]}),
                ],
                &names,
            ));
            texts.extend(attachments(
                &[json!({
                    "fallback": payload, "pretext": payload, "author_name": payload,
                    "title": payload, "title_link": payload, "text": payload,
                    "fields": [{"title": payload, "value": payload}], "footer": payload,
                })],
                &names,
            ));
            for text in texts {
                let html = render(&text).html;
                if let Err(why) = check_inert(&html) {
                    panic!("{payload:?} became {text:?}, rendered {html:?}: {why}");
                }
            }
        }
    }

    #[test]
    fn attachments_and_blocks_read_as_markdown() {
        let names = HashMap::new();
        let parts = attachments(
            &[
                json!({"pretext": "Deploy", "title": "Build #42", "title_link": "https://ci.example/42", "text": "*passed*", "fields": [{"title": "Branch", "value": "main"}], "footer": "CI"}),
            ],
            &names,
        );
        assert_eq!(parts[0], "Deploy");
        assert!(
            parts[1].contains("> **[Build #42](https://ci.example/42)**"),
            "{}",
            parts[1]
        );
        assert!(parts[1].contains("> **passed**") && parts[1].contains("> **Branch**: main"));
        let parts = blocks(
            &[
                json!({"type": "header", "text": {"type": "plain_text", "text": "Alert"}}),
                json!({"type": "divider"}),
                json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "from prod"}]}),
            ],
            &names,
        );
        assert_eq!(parts, vec!["**Alert**", "---", "_from prod_"]);
    }
}
