//! Any page a link leads to, and any message text: the preview's reader finds what it finds
//! without a panic, and the links found are http(s) URLs of the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let page = natter::integrations::previews::read_page(input);
    if let Some(title) = page.title {
        assert!(title.chars().count() <= 300);
    }
    for url in natter::integrations::previews::links(input) {
        assert!(url.starts_with("http://") || url.starts_with("https://"), "{url}");
        assert!(input.contains(&url));
    }
});
