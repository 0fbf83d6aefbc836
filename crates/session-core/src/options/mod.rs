//! Session options: Macaron's `session.Options`, secure defaults, config-file loading and
//! config-time validation.

use std::time::Duration;

use crate::config_string::{boolean, number, seconds};
use crate::devices::OwnerLimitPolicy;
use crate::encryption::EncryptionKeys;
use crate::error::{Error, Result};
use crate::id::{DEFAULT_ID_LENGTH, MAX_ID_LENGTH, MIN_ID_LENGTH};
use crate::outage::OutagePolicy;
use crate::transport::{self, DEFAULT_TOKEN_HEADER, DEFAULT_TOKEN_RESPONSE_HEADER, Transport};

mod files;

/// The cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (the default).
    #[default]
    Lax,
    /// `SameSite=None` (requires `Secure`).
    None,
}

impl SameSite {
    /// The attribute value as it appears in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// Cookie signing keys, newest first. `Debug` never prints them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SigningKeys(Vec<Vec<u8>>);

impl SigningKeys {
    /// Keys newest first: the first signs, every one verifies.
    pub fn new(keys: Vec<Vec<u8>>) -> Self {
        SigningKeys(keys)
    }
}

impl std::ops::Deref for SigningKeys {
    type Target = [Vec<u8>];
    fn deref(&self) -> &[Vec<u8>] {
        &self.0
    }
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeys({} redacted)", self.0.len())
    }
}

/// Everything a [`crate::Manager`] can be told.
///
/// The fields and defaults follow Macaron's `session.Options`, except where secure defaults
/// differ (see the README): cookies are `Secure` by default, IDs are 32 hex characters
/// (128 bits) and may not be shorter, and `SameSite`/`HttpOnly` are explicit options.
/// Build one with struct-update syntax or load it with [`Options::from_file`].
#[derive(Clone, PartialEq)]
pub struct Options {
    /// Registry name of the provider (`PROVIDER`), default `"memory"`.
    pub provider: String,
    /// Provider config string (`PROVIDER_CONFIG`), default empty (each provider documents
    /// its own default; the file provider uses `data/sessions`).
    pub provider_config: String,
    /// Cookie name (`COOKIE_NAME`), default `"MacaronSession"`.
    pub cookie_name: String,
    /// Cookie path (`COOKIE_PATH`), default `"/"`.
    pub cookie_path: String,
    /// GC period, Macaron's `Gclifetime` (`GC_INTERVAL_TIME`, seconds), default 3600 s.
    pub gc_interval: Duration,
    /// Idle lifetime, Macaron's `Maxlifetime` (`MAX_LIFE_TIME`, seconds); `None` means
    /// "same as `gc_interval`", as in Macaron.
    pub max_lifetime: Option<Duration>,
    /// `Secure` cookie attribute (`SECURE`), default **true**.
    pub secure: bool,
    /// Cookie `Max-Age` (`COOKIE_LIFE_TIME`, seconds); zero (default) = browser-session cookie.
    pub cookie_lifetime: Duration,
    /// Cookie `Domain` (`DOMAIN`), default none (host-only).
    pub domain: Option<String>,
    /// ID length in hex characters (`ID_LENGTH`), default 32; below 32 (128 bits) is an error.
    pub id_length: usize,
    /// Config-file section to read (default `"session"`).
    pub section: String,
    /// `SameSite` attribute (`SAME_SITE`: lax, strict, none), default Lax.
    pub same_site: SameSite,
    /// `HttpOnly` attribute (`HTTP_ONLY`), default true.
    pub http_only: bool,
    /// Absolute lifetime (`ABSOLUTE_LIFETIME`, seconds): a session older than this expires
    /// however active it is. Default none.
    pub absolute_lifetime: Option<Duration>,
    /// Largest encoded record in bytes (`MAX_RECORD_SIZE`), default 1 MiB; enforced on save
    /// and on load.
    pub max_record_size: usize,
    /// Least time between two expiry refreshes of an unchanged session (`TOUCH_INTERVAL`,
    /// seconds), default 60 s (capped at a tenth of the idle lifetime).
    pub touch_interval: Duration,
    /// Store only a hash of each ID in the backend (`HASH_IDS`), so a dump of the store holds
    /// no usable cookie value. Default false. Turning it on logs every user out unless
    /// `hash_ids_migrate` is on too.
    pub hash_ids: bool,
    /// With `hash_ids`, also find sessions stored under their raw ID, written before
    /// `hash_ids` was turned on, and move each to its hashed key on first use
    /// (`HASH_IDS_MIGRATE`), so turning `hash_ids` on logs nobody out. Default false. Costs
    /// one more read for an unknown ID; turn it off once the sessions from before have moved
    /// or expired. Requires `hash_ids`.
    pub hash_ids_migrate: bool,
    /// Sign the cookie with these keys (`SIGNING_KEYS`: comma-separated hex, at least 32 bytes
    /// each), newest first: the first key signs, every key verifies. Empty (default) = the
    /// cookie carries the bare ID.
    pub signing_keys: SigningKeys,
    /// What a request does when its session cannot be read because the store is down
    /// (`OUTAGE_POLICY`: `fail` or `anonymous`), default `fail` (503). Adapters override it
    /// per route; see [`crate::outage`].
    pub outage_policy: OutagePolicy,
    /// Encrypt every record body at rest with these keys (`ENCRYPTION_KEYS`: `ID:HEX`
    /// entries, current first, see [`EncryptionKeys`]; or `ENCRYPTION_KEYS_FILE`: a file of
    /// them): the first key encrypts, every key decrypts. Empty (default) = records are
    /// stored unencrypted. See [`crate::encryption`].
    pub encryption_keys: EncryptionKeys,
    /// With `encryption_keys`, read unencrypted records as they are and encrypt each on its
    /// next write (`ENCRYPTION_ACCEPT_PLAINTEXT`), the way to turn encryption on for live
    /// sessions. Default false: an unencrypted record reads as corrupt (a new session).
    pub encryption_accept_plaintext: bool,
    /// The longest lifetime a session can be given of its own (remember-me, see
    /// [`crate::Session::set_lifetime`]) (`MAX_PERSISTENT_LIFETIME`, seconds), default 30
    /// days: a longer idle or absolute lifetime asked for is cut to this.
    pub max_persistent_lifetime: Duration,
    /// Give an active session a new ID once its ID is this old (`ROTATION_INTERVAL`,
    /// seconds; 0 = off), on its next request; default off. See [`crate::rotation`].
    pub rotation_interval: Option<Duration>,
    /// How long the ID a rotation replaced still finds the session (`ROTATION_GRACE`,
    /// seconds), so requests already in flight with the old cookie are not logged out;
    /// default 5 s. Must be shorter than `rotation_interval`.
    pub rotation_grace: Duration,
    /// Where the session ID travels (`TRANSPORT`: `cookie`, `header` or `both`), default
    /// `cookie`. Adapters override it per route; see [`crate::transport`].
    pub transport: Transport,
    /// The request header that carries the token under `header` or `both` transport
    /// (`TOKEN_HEADER`), default `Authorization` (with the `Bearer` scheme); any other name
    /// carries the bare token.
    pub token_header: String,
    /// The response header that returns a new token, or signals its removal with an empty
    /// value (`TOKEN_RESPONSE_HEADER`), default `Session-Token`.
    pub token_response_header: String,
    /// Record the client's user agent and network with a session when it is bound to an
    /// owner, for the devices page (`DEVICE_METADATA`), default **false**: both are personal
    /// data. See [`crate::devices`].
    pub device_metadata: bool,
    /// The most sessions one owner may hold (`MAX_SESSIONS_PER_OWNER`; unset or 0 = no cap),
    /// default none. Needs a provider with an owner index. See [`crate::devices`].
    pub max_sessions_per_owner: Option<usize>,
    /// What a login over `max_sessions_per_owner` does (`OWNER_LIMIT_POLICY`: `evict` or
    /// `refuse`), default `evict`.
    pub owner_limit_policy: OwnerLimitPolicy,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The provider config is a DSN that may hold a password; it stays out of logs.
        f.debug_struct("Options")
            .field("provider", &self.provider)
            .field("provider_config", &"<redacted>")
            .field("cookie_name", &self.cookie_name)
            .field("cookie_path", &self.cookie_path)
            .field("gc_interval", &self.gc_interval)
            .field("max_lifetime", &self.max_lifetime)
            .field("secure", &self.secure)
            .field("cookie_lifetime", &self.cookie_lifetime)
            .field("domain", &self.domain)
            .field("id_length", &self.id_length)
            .field("section", &self.section)
            .field("same_site", &self.same_site)
            .field("http_only", &self.http_only)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("max_record_size", &self.max_record_size)
            .field("touch_interval", &self.touch_interval)
            .field("hash_ids", &self.hash_ids)
            .field("hash_ids_migrate", &self.hash_ids_migrate)
            .field("signing_keys", &self.signing_keys)
            .field("outage_policy", &self.outage_policy)
            .field("encryption_keys", &self.encryption_keys)
            .field(
                "encryption_accept_plaintext",
                &self.encryption_accept_plaintext,
            )
            .field("max_persistent_lifetime", &self.max_persistent_lifetime)
            .field("rotation_interval", &self.rotation_interval)
            .field("rotation_grace", &self.rotation_grace)
            .field("transport", &self.transport)
            .field("token_header", &self.token_header)
            .field("token_response_header", &self.token_response_header)
            .field("device_metadata", &self.device_metadata)
            .field("max_sessions_per_owner", &self.max_sessions_per_owner)
            .field("owner_limit_policy", &self.owner_limit_policy)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            provider: "memory".into(),
            provider_config: String::new(),
            cookie_name: "MacaronSession".into(),
            cookie_path: "/".into(),
            gc_interval: Duration::from_secs(3600),
            max_lifetime: None,
            secure: true,
            cookie_lifetime: Duration::ZERO,
            domain: None,
            id_length: DEFAULT_ID_LENGTH,
            section: "session".into(),
            same_site: SameSite::Lax,
            http_only: true,
            absolute_lifetime: None,
            max_record_size: 1 << 20,
            touch_interval: Duration::from_secs(60),
            hash_ids: false,
            hash_ids_migrate: false,
            signing_keys: SigningKeys::default(),
            outage_policy: OutagePolicy::Fail,
            encryption_keys: EncryptionKeys::default(),
            encryption_accept_plaintext: false,
            max_persistent_lifetime: DEFAULT_MAX_PERSISTENT_LIFETIME,
            rotation_interval: None,
            rotation_grace: DEFAULT_ROTATION_GRACE,
            transport: Transport::Cookie,
            token_header: DEFAULT_TOKEN_HEADER.into(),
            token_response_header: DEFAULT_TOKEN_RESPONSE_HEADER.into(),
            device_metadata: false,
            max_sessions_per_owner: None,
            owner_limit_policy: OwnerLimitPolicy::Evict,
        }
    }
}

/// [`Options::max_persistent_lifetime`]'s default: 30 days.
pub const DEFAULT_MAX_PERSISTENT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// [`Options::rotation_grace`]'s default: long enough for requests in flight to land, short
/// enough that a stolen old cookie is of little use.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(5);

impl Options {
    /// The idle lifetime in effect (`max_lifetime`, or `gc_interval` when unset).
    pub fn idle_lifetime(&self) -> Duration {
        self.max_lifetime.unwrap_or(self.gc_interval)
    }

    /// The touch interval in effect: `touch_interval`, at most a tenth of the idle lifetime.
    pub fn effective_touch_interval(&self) -> Duration {
        self.touch_interval.min(self.idle_lifetime() / 10)
    }

    /// Sets one option from its config-file key and textual value (the INI/TOML/environment
    /// path). Keys are matched case-insensitively, `-` and `_` alike.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let name = key.trim().to_ascii_uppercase().replace('-', "_");
        let value = value.trim();
        match name.as_str() {
            "PROVIDER" => self.provider = value.to_owned(),
            "PROVIDER_CONFIG" => self.provider_config = value.to_owned(),
            "COOKIE_NAME" => self.cookie_name = value.to_owned(),
            "COOKIE_PATH" => self.cookie_path = value.to_owned(),
            "GC_INTERVAL_TIME" => self.gc_interval = seconds(key, value)?,
            "MAX_LIFE_TIME" => self.max_lifetime = Some(seconds(key, value)?),
            "SECURE" => self.secure = boolean(key, value)?,
            "COOKIE_LIFE_TIME" => self.cookie_lifetime = seconds(key, value)?,
            "DOMAIN" => self.domain = (!value.is_empty()).then(|| value.to_owned()),
            "ID_LENGTH" => self.id_length = number(key, value)?,
            "SAME_SITE" => self.same_site = same_site(key, value)?,
            // Macaron's boolean: true meant Strict, false Lax.
            "COOKIE_SAME_SITE" => {
                self.same_site = if boolean(key, value)? {
                    SameSite::Strict
                } else {
                    SameSite::Lax
                }
            }
            "HTTP_ONLY" => self.http_only = boolean(key, value)?,
            "ABSOLUTE_LIFETIME" | "ABSOLUTE_LIFE_TIME" => {
                let d = seconds(key, value)?;
                self.absolute_lifetime = (!d.is_zero()).then_some(d);
            }
            "MAX_RECORD_SIZE" => self.max_record_size = number(key, value)?,
            "TOUCH_INTERVAL" => self.touch_interval = seconds(key, value)?,
            "HASH_IDS" => self.hash_ids = boolean(key, value)?,
            "HASH_IDS_MIGRATE" => self.hash_ids_migrate = boolean(key, value)?,
            "SIGNING_KEYS" => self.signing_keys = signing_keys(key, value)?,
            "OUTAGE_POLICY" => {
                self.outage_policy = value
                    .parse()
                    .map_err(|_| Error::config(key, "expected fail or anonymous"))?
            }
            "ENCRYPTION_KEYS" => self.encryption_keys = EncryptionKeys::parse_for(key, value)?,
            "ENCRYPTION_KEYS_FILE" => {
                self.encryption_keys =
                    EncryptionKeys::from_file_for(key, std::path::Path::new(value))?;
            }
            "ENCRYPTION_ACCEPT_PLAINTEXT" => {
                self.encryption_accept_plaintext = boolean(key, value)?
            }
            "MAX_PERSISTENT_LIFETIME" | "MAX_PERSISTENT_LIFE_TIME" => {
                self.max_persistent_lifetime = seconds(key, value)?
            }
            "ROTATION_INTERVAL" => {
                let d = seconds(key, value)?;
                self.rotation_interval = (!d.is_zero()).then_some(d);
            }
            "ROTATION_GRACE" => self.rotation_grace = seconds(key, value)?,
            "TRANSPORT" => {
                self.transport = value
                    .parse()
                    .map_err(|_| Error::config(key, "expected cookie, header or both"))?
            }
            "TOKEN_HEADER" => self.token_header = value.to_owned(),
            "TOKEN_RESPONSE_HEADER" => self.token_response_header = value.to_owned(),
            "DEVICE_METADATA" => self.device_metadata = boolean(key, value)?,
            "MAX_SESSIONS_PER_OWNER" => {
                let n: usize = number(key, value)?;
                self.max_sessions_per_owner = (n != 0).then_some(n);
            }
            "OWNER_LIMIT_POLICY" => {
                self.owner_limit_policy = value
                    .parse()
                    .map_err(|_| Error::config(key, "expected evict or refuse"))?
            }
            _ => return Err(Error::config(key, "unknown session option")),
        }
        Ok(())
    }

    /// Checks every option; the first problem is an [`Error::Config`] naming the field.
    ///
    /// Cookie name, path and domain are checked here so that no configuration can inject
    /// attributes or header lines into `Set-Cookie`.
    pub fn validate(&self) -> Result<()> {
        if self.provider.is_empty() {
            return Err(Error::config("provider", "must not be empty"));
        }
        validate_cookie_name(&self.cookie_name)?;
        validate_cookie_path(&self.cookie_path)?;
        transport::validate_header_name("token_header", &self.token_header)?;
        transport::validate_header_name("token_response_header", &self.token_response_header)?;
        if self
            .token_header
            .eq_ignore_ascii_case(&self.token_response_header)
        {
            return Err(Error::config(
                "token_response_header",
                "must differ from token_header",
            ));
        }
        if let Some(domain) = &self.domain {
            validate_domain(domain)?;
        }
        if !(MIN_ID_LENGTH..=MAX_ID_LENGTH).contains(&self.id_length) {
            return Err(Error::config(
                "id_length",
                format!(
                    "must be between {MIN_ID_LENGTH} (128 bits) and {MAX_ID_LENGTH}, got {}",
                    self.id_length
                ),
            ));
        }
        if self.gc_interval.is_zero() {
            return Err(Error::config("gc_interval", "must be greater than zero"));
        }
        if self.idle_lifetime() < Duration::from_secs(1) {
            return Err(Error::config("max_lifetime", "must be at least one second"));
        }
        if self
            .absolute_lifetime
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            return Err(Error::config(
                "absolute_lifetime",
                "must be at least one second",
            ));
        }
        if self.max_persistent_lifetime < Duration::from_secs(1) {
            return Err(Error::config(
                "max_persistent_lifetime",
                "must be at least one second",
            ));
        }
        if let Some(interval) = self.rotation_interval {
            if interval < Duration::from_secs(1) {
                return Err(Error::config(
                    "rotation_interval",
                    "must be at least one second",
                ));
            }
            // A grace as long as the interval would let an old ID forward to one that is
            // itself being rotated: chains instead of one hop.
            if self.rotation_grace >= interval {
                return Err(Error::config(
                    "rotation_grace",
                    "must be shorter than rotation_interval",
                ));
            }
        }
        if self.max_sessions_per_owner == Some(0) {
            return Err(Error::config(
                "max_sessions_per_owner",
                "must be at least 1 (leave it unset for no cap)",
            ));
        }
        if self.max_record_size < 64 {
            return Err(Error::config(
                "max_record_size",
                "must be at least 64 bytes",
            ));
        }
        if self.hash_ids_migrate && !self.hash_ids {
            return Err(Error::config(
                "hash_ids_migrate",
                "moves sessions to hashed keys, so it requires hash_ids = true",
            ));
        }
        if self.signing_keys.iter().any(|k| k.len() < 32) {
            return Err(Error::config(
                "signing_keys",
                "every key must be at least 32 bytes",
            ));
        }
        if self.encryption_accept_plaintext && self.encryption_keys.is_empty() {
            return Err(Error::config(
                "encryption_accept_plaintext",
                "has no effect without encryption_keys",
            ));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(Error::config(
                "same_site",
                "SameSite=None requires secure = true",
            ));
        }
        if self.cookie_name.starts_with("__Secure-") && !self.secure {
            return Err(Error::config(
                "cookie_name",
                "a __Secure- cookie requires secure = true",
            ));
        }
        if self.cookie_name.starts_with("__Host-") {
            if !self.secure {
                return Err(Error::config(
                    "cookie_name",
                    "a __Host- cookie requires secure = true",
                ));
            }
            if self.cookie_path != "/" {
                return Err(Error::config(
                    "cookie_path",
                    "a __Host- cookie requires path \"/\"",
                ));
            }
            if self.domain.is_some() {
                return Err(Error::config(
                    "domain",
                    "a __Host- cookie must not set a domain",
                ));
            }
        }
        Ok(())
    }
}

fn validate_cookie_name(name: &str) -> Result<()> {
    // RFC 6265 / RFC 9110 token characters only.
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "cookie_name",
            "must be a non-empty token (letters, digits and !#$%&'*+-.^_`|~)",
        ))
    }
}

fn validate_cookie_path(path: &str) -> Result<()> {
    let ok = path.starts_with('/')
        && path.len() <= 1024
        && path
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b',');
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "cookie_path",
            "must start with '/' and hold only visible ASCII without ';' or ','",
        ))
    }
}

fn validate_domain(domain: &str) -> Result<()> {
    let host = domain.strip_prefix('.').unwrap_or(domain);
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "domain",
            "must be a host name (letters, digits, '-' and '.')",
        ))
    }
}

fn signing_keys(key: &str, value: &str) -> Result<SigningKeys> {
    value
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            hex::decode(k).map_err(|_| Error::config(key, "expected comma-separated hex keys"))
        })
        .collect::<Result<Vec<_>>>()
        .map(SigningKeys::new)
}

fn same_site(key: &str, value: &str) -> Result<SameSite> {
    match value.to_ascii_lowercase().as_str() {
        "lax" => Ok(SameSite::Lax),
        "strict" => Ok(SameSite::Strict),
        "none" => Ok(SameSite::None),
        _ => Err(Error::config(
            key,
            format!("expected lax, strict or none, got {value:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn file(ext: &str, text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn debug_hides_the_provider_config() {
        let o = Options {
            provider_config: "user=a password=hunter2 dbname=c".into(),
            ..Options::default()
        };
        assert!(!format!("{o:?}").contains("hunter2"));
    }

    #[test]
    fn defaults_are_secure_and_macaron_shaped() {
        let o = Options::default();
        assert_eq!(o.provider, "memory");
        assert_eq!(o.cookie_path, "/");
        assert_eq!(o.gc_interval, Duration::from_secs(3600));
        assert_eq!(o.idle_lifetime(), o.gc_interval);
        assert!(o.secure && o.http_only);
        assert_eq!(o.same_site, SameSite::Lax);
        assert_eq!(o.cookie_lifetime, Duration::ZERO);
        assert_eq!(o.domain, None);
        assert_eq!(o.id_length, 32);
        assert_eq!(o.section, "session");
        o.validate().unwrap();
    }

    #[test]
    fn reads_macaron_keys_from_ini() {
        let f = file(
            ".ini",
            "[other]\nPROVIDER = redis\n[session]\nPROVIDER = file\nPROVIDER_CONFIG = data/s\n\
             COOKIE_NAME = sid\nCOOKIE_PATH = /app\nGC_INTERVAL_TIME = 60\nMAX_LIFE_TIME = 120\n\
             SECURE = false\nCOOKIE_LIFE_TIME = 30\nDOMAIN = example.com\nID_LENGTH = 64\n",
        );
        let o = Options::from_file(f.path()).unwrap();
        assert_eq!(o.provider, "file");
        assert_eq!(o.provider_config, "data/s");
        assert_eq!(o.cookie_name, "sid");
        assert_eq!(o.cookie_path, "/app");
        assert_eq!(o.gc_interval, Duration::from_secs(60));
        assert_eq!(o.idle_lifetime(), Duration::from_secs(120));
        assert!(!o.secure);
        assert_eq!(o.cookie_lifetime, Duration::from_secs(30));
        assert_eq!(o.domain.as_deref(), Some("example.com"));
        assert_eq!(o.id_length, 64);
    }

    #[test]
    fn reads_toml_and_other_sections() {
        let f = file(
            ".toml",
            "[web]\nprovider = \"file\"\nid_length = 40\nsecure = true\nsame_site = \"strict\"\n",
        );
        let o = Options::from_file_section(f.path(), "web").unwrap();
        assert_eq!(o.provider, "file");
        assert_eq!(o.id_length, 40);
        assert_eq!(o.same_site, SameSite::Strict);
        assert_eq!(o.section, "web");
    }

    #[test]
    fn outage_policy_is_fail_unless_set() {
        let mut o = Options::default();
        assert_eq!(o.outage_policy, OutagePolicy::Fail);
        o.set("outage-policy", " Anonymous ").unwrap();
        assert_eq!(o.outage_policy, OutagePolicy::Anonymous);
        o.set("OUTAGE_POLICY", "fail").unwrap();
        assert_eq!(o.outage_policy, OutagePolicy::Fail);
    }

    #[test]
    fn transport_and_token_headers_are_set_and_checked() {
        let mut o = Options::default();
        assert_eq!(o.transport, Transport::Cookie);
        assert_eq!(o.token_header, "Authorization");
        assert_eq!(o.token_response_header, "Session-Token");
        o.set("transport", "Header").unwrap();
        o.set("TOKEN_HEADER", "X-Session-Token").unwrap();
        o.set("token-response-header", "X-New-Token").unwrap();
        assert_eq!(o.transport, Transport::Header);
        assert_eq!(o.token_header, "X-Session-Token");
        assert!(o.validate().is_ok());
        assert!(o.set("transport", "bearer").is_err());
        o.token_response_header = "x-session-token".into();
        assert!(
            matches!(o.validate(), Err(Error::Config { field, .. }) if field == "token_response_header")
        );
        o.token_header = "Set-Cookie".into();
        assert!(
            matches!(o.validate(), Err(Error::Config { field, .. }) if field == "token_header")
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        for (text, field) in [
            ("[session]\nGC_INTERVAL_TIME = soon\n", "GC_INTERVAL_TIME"),
            ("[session]\nPROVIDR = redis\n", "PROVIDR"),
            ("[session]\nID_LENGTH = 16\n", "id_length"),
            ("[session]\nSECURE = maybe\n", "SECURE"),
            ("[session]\nCOOKIE_NAME = id;Domain=evil\n", "cookie_name"),
            ("[session]\nDOMAIN = a.com;x\n", "domain"),
            ("[session]\nSIGNING_KEYS = zz\n", "SIGNING_KEYS"),
            ("[session]\nSIGNING_KEYS = 0011\n", "signing_keys"),
            ("[session]\nOUTAGE_POLICY = open\n", "OUTAGE_POLICY"),
        ] {
            let f = file(".ini", text);
            match Options::from_file(f.path()) {
                Err(Error::Config { field: got, .. }) => assert_eq!(got, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn cookie_attributes_cannot_inject_headers() {
        for (o, field) in [
            (
                Options {
                    cookie_path: "/\r\nSet-Cookie:x=1".into(),
                    ..Default::default()
                },
                "cookie_path",
            ),
            (
                Options {
                    cookie_name: "a b".into(),
                    ..Default::default()
                },
                "cookie_name",
            ),
            (
                Options {
                    cookie_name: "__Host-id".into(),
                    cookie_path: "/x".into(),
                    ..Default::default()
                },
                "cookie_path",
            ),
            (
                Options {
                    cookie_name: "__Host-id".into(),
                    domain: Some("a.com".into()),
                    ..Default::default()
                },
                "domain",
            ),
            (
                Options {
                    cookie_name: "__Host-id".into(),
                    secure: false,
                    ..Default::default()
                },
                "cookie_name",
            ),
            (
                Options {
                    cookie_name: "__Secure-id".into(),
                    secure: false,
                    ..Default::default()
                },
                "cookie_name",
            ),
            (
                Options {
                    same_site: SameSite::None,
                    secure: false,
                    ..Default::default()
                },
                "same_site",
            ),
        ] {
            match o.validate() {
                Err(Error::Config { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{o:?}: {other:?}"),
            }
        }
        Options {
            cookie_name: "__Host-id".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn lifetime_and_rotation_keys_parse_and_validate() {
        let mut o = Options::default();
        assert_eq!(o.rotation_interval, None);
        assert_eq!(o.rotation_grace, Duration::from_secs(5));
        assert_eq!(
            o.max_persistent_lifetime,
            Duration::from_secs(30 * 24 * 3600)
        );
        o.set("MAX_PERSISTENT_LIFETIME", "86400").unwrap();
        o.set("rotation-interval", "900").unwrap();
        o.set("ROTATION_GRACE", "10").unwrap();
        assert_eq!(o.max_persistent_lifetime, Duration::from_secs(86_400));
        assert_eq!(o.rotation_interval, Some(Duration::from_secs(900)));
        assert_eq!(o.rotation_grace, Duration::from_secs(10));
        o.validate().unwrap();

        o.set("ROTATION_GRACE", "900").unwrap();
        assert!(matches!(
            o.validate(),
            Err(Error::Config { field, .. }) if field == "rotation_grace"
        ));
        // Off again: the grace no longer matters.
        o.set("ROTATION_INTERVAL", "0").unwrap();
        assert_eq!(o.rotation_interval, None);
        o.validate().unwrap();
        o.set("MAX_PERSISTENT_LIFETIME", "0").unwrap();
        assert!(matches!(
            o.validate(),
            Err(Error::Config { field, .. }) if field == "max_persistent_lifetime"
        ));
        assert!(o.set("ROTATION_INTERVAL", "soon").is_err());
    }

    #[test]
    fn device_and_cap_keys_parse_and_validate() {
        let mut o = Options::default();
        assert!(!o.device_metadata);
        assert_eq!(o.max_sessions_per_owner, None);
        assert_eq!(o.owner_limit_policy, OwnerLimitPolicy::Evict);
        o.set("DEVICE_METADATA", "true").unwrap();
        o.set("max-sessions-per-owner", "3").unwrap();
        o.set("OWNER_LIMIT_POLICY", "Refuse").unwrap();
        assert!(o.device_metadata);
        assert_eq!(o.max_sessions_per_owner, Some(3));
        assert_eq!(o.owner_limit_policy, OwnerLimitPolicy::Refuse);
        o.validate().unwrap();
        o.set("MAX_SESSIONS_PER_OWNER", "0").unwrap();
        assert_eq!(o.max_sessions_per_owner, None);
        for (k, v) in [
            ("OWNER_LIMIT_POLICY", "drop"),
            ("MAX_SESSIONS_PER_OWNER", "-1"),
            ("DEVICE_METADATA", "perhaps"),
        ] {
            assert!(
                matches!(o.set(k, v), Err(Error::Config { field, .. }) if field == k),
                "{k}={v}"
            );
        }
        o.max_sessions_per_owner = Some(0);
        assert!(matches!(
            o.validate(),
            Err(Error::Config { field, .. }) if field == "max_sessions_per_owner"
        ));
    }
}
