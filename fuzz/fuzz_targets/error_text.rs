//! The `explain` decoder for pasted Envoy/BoringSSL/curl error text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = checks::error_text::decode(&text);
});
