//! The `Cookie` header parser and the manager's candidate selection: no panic on any header,
//! and never more than the bounded number of candidates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::cookies::{MAX_COOKIE_CANDIDATES, cookie_values};

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data) {
        let values = cookie_values([header, header], "MacaronSession");
        assert!(values.len() <= MAX_COOKIE_CANDIDATES);
        for v in &values {
            assert!(header.contains(v.as_str()));
        }
    }
});
