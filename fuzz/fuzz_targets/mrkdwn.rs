//! Slack's mrkdwn, blocks and attachments (as a webhook or chat.postMessage sends them)
//! translate without panicking, and what they become renders inert.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use natter::integrations::{mrkdwn, render};
use serde_json::Value;

fn assert_inert(source: &str, text: &str) {
    let html = natter::markdown::render(text).html;
    if let Err(why) = natter::markdown::check_inert(&html) {
        panic!("{source:?} became {text:?}, rendered {html:?}: {why}");
    }
}

fuzz_target!(|data: &[u8]| {
    let names = HashMap::from([(1, "ada".to_owned()), (2, "bob".to_owned())]);
    let text = String::from_utf8_lossy(data);
    let _ = mrkdwn::mentioned_ids(&text);
    assert_inert(&text, &mrkdwn::to_markdown(&text, &names));
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let list = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for part in render::blocks(&list, &names)
            .into_iter()
            .chain(render::attachments(&list, &names))
        {
            assert_inert(&text, &part);
        }
    }
});
