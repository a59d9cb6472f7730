//! Any search box input parses or is refused with a message; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    match natter::search::query::parse(input) {
        Ok(query) => {
            let _ = query.text();
            let _ = query.is_empty();
        }
        Err(message) => assert!(!message.is_empty(), "{input:?} refused without a word"),
    }
});
