//! Any bytes a client sends on /ws are a frame or a refusal; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter::realtime::frames::ClientFrame;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = serde_json::from_slice::<ClientFrame>(data) {
        let _ = format!("{frame:?}");
    }
});
