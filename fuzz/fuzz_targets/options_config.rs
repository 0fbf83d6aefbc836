//! Config parsing: `Options::set` for every key, then `validate`, and the memory provider's
//! config string: no panic, and a validated cookie name/path/domain can never break out of
//! its `Set-Cookie` attribute.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::{Options, Provider, ProviderContext};

const KEYS: &[&str] = &[
    "PROVIDER",
    "PROVIDER_CONFIG",
    "COOKIE_NAME",
    "COOKIE_PATH",
    "GC_INTERVAL_TIME",
    "MAX_LIFE_TIME",
    "SECURE",
    "COOKIE_LIFE_TIME",
    "DOMAIN",
    "ID_LENGTH",
    "SAME_SITE",
    "COOKIE_SAME_SITE",
    "HTTP_ONLY",
    "ABSOLUTE_LIFETIME",
    "MAX_RECORD_SIZE",
    "TOUCH_INTERVAL",
    "HASH_IDS",
    "SIGNING_KEYS",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut options = Options::default();
    for (i, line) in text.lines().enumerate() {
        let key = KEYS[i % KEYS.len()];
        let _ = options.set(key, line);
        let _ = options.set(line, line);
    }
    if options.validate().is_ok() {
        let cookie =
            session_core::cookies::session_cookie(&options, "0123456789abcdef0123456789abcdef");
        assert!(!cookie.contains('\r') && !cookie.contains('\n'));
        assert_eq!(cookie.matches("Path=").count(), 1);
    }
    let ctx = ProviderContext {
        clock: std::sync::Arc::new(session_core::SystemClock),
        max_record_size: 1 << 20,
        max_lifetime_ms: 3_600_000,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    if let Ok(runtime) = runtime {
        let _ = runtime.block_on(session_memory::MemoryProvider.open(text, &ctx));
    }
});
