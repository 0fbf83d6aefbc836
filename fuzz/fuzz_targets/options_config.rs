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
        // Whatever the options, the Set-Cookie line parses back to exactly what was configured:
        // no attribute can be smuggled in through a name, path or domain.
        let id = "0123456789abcdef0123456789abcdef";
        let line = session_core::cookies::session_cookie(&options, id);
        assert!(!line.contains('\r') && !line.contains('\n'));
        let parsed = cookie::Cookie::parse(line.as_str()).expect("our own Set-Cookie parses");
        assert_eq!(parsed.name(), options.cookie_name);
        assert_eq!(parsed.value(), id);
        assert_eq!(parsed.path(), Some(options.cookie_path.as_str()));
        assert_eq!(
            parsed.domain(),
            options.domain.as_deref().map(|d| d.trim_start_matches('.'))
        );
        assert_eq!(parsed.secure().unwrap_or(false), options.secure);
        assert_eq!(parsed.http_only().unwrap_or(false), options.http_only);
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
