//! Any message body renders without panicking, to HTML that is inert.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &str| {
    let rendered = natter::markdown::render(body);
    if let Err(why) = natter::markdown::check_inert(&rendered.html) {
        panic!("{body:?} rendered {:?}: {why}", rendered.html);
    }
    // Mentions are found the same way with or without rendering.
    assert_eq!(natter::markdown::mentions(body), rendered.mentions);
});
