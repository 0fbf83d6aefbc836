//! The record decoder on untrusted bytes: no panic, no allocation beyond the input's bounds
//! (libFuzzer's -rss_limit_mb and -malloc_limit_mb catch that), and a decoded record
//! re-encodes to something that decodes to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::Bytes;
use session_core::record::{Record, decode_value};

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = Record::decode(&Bytes::copy_from_slice(data), 1 << 16) {
        for (key, value) in &record.values {
            let _ = decode_value::<String>(key, value);
            let _ = decode_value::<std::collections::BTreeMap<String, i64>>(key, value);
        }
        if let Ok(again) = record.encode(1 << 20) {
            assert_eq!(Record::decode(&Bytes::from(again), 1 << 20).ok(), Some(record));
        }
    }
});
