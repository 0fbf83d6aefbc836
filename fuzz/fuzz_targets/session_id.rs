//! `SessionId::parse`: accepts exactly lowercase hex of the asked length, nothing else.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::SessionId;

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let valid = (32..=128).contains(&len)
        && text.len() == len
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match SessionId::parse(text, len) {
        Ok(id) => {
            assert!(valid);
            assert_eq!(id.as_str(), text);
            assert!(!format!("{id:?}{id}").contains(text));
        }
        Err(_) => assert!(!valid),
    }
});
