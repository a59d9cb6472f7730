//! Any uploaded bytes, cut into any chunks: the EXIF scrubber keeps the length and never
//! panics, the type is decided, and an image's header is judged, without a panic; any name is
//! kept or refused with a message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &[u8], &str)| {
    let (chunk, bytes, name) = input;
    let mut scrubber = natter::images::JpegScrubber::default();
    let mut out = Vec::with_capacity(bytes.len());
    for part in bytes.chunks(usize::from(chunk).max(1)) {
        out.extend(scrubber.feed(part));
    }
    out.extend(scrubber.finish());
    assert_eq!(out.len(), bytes.len(), "the scrubber changed the length");
    let mut tiff = bytes.to_vec();
    natter::images::scrub_gps(&mut tiff);
    let _ = natter::files::types::decide(bytes, name);
    let _ = natter::images::check_size(bytes);
    if let Err(e) = natter::files::check_name(name) {
        assert!(!e.to_string().is_empty());
    }
});
