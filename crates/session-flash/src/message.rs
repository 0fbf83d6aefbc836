//! Levels, messages and the bounds that keep a flash queue small.

use serde::{Deserialize, Serialize};

/// Most messages kept in one queue (the messages carried to the next request, or the "show
/// now" messages of one request). When full, the oldest message is dropped first: the newest
/// message is the one most likely to describe what the user just did.
pub const MAX_MESSAGES: usize = 32;

/// Longest message text, in bytes. Longer text is cut at the last character boundary within
/// the limit rather than rejected, so a too-long message still tells the user something.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// The four flash levels of Macaron.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Something worked (`SuccessMsg`).
    Success,
    /// Something failed (`ErrorMsg`).
    Error,
    /// Neutral information (`InfoMsg`).
    Info,
    /// Something needs attention (`WarningMsg`).
    Warning,
}

impl Level {
    /// Every level, in the order of the seed's template.
    pub const ALL: [Level; 4] = [Level::Success, Level::Error, Level::Info, Level::Warning];

    /// The lowercase name (`"success"`, `"error"`, `"info"`, `"warning"`), as Macaron stored it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Success => "success",
            Level::Error => "error",
            Level::Info => "info",
            Level::Warning => "warning",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the lowercase names [`Level::as_str`] gives, so a form field or a query parameter
/// can name a level. Matching is exact: `"Info"` is not a level, as in the stored form.
impl std::str::FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|level| level.as_str() == s)
            .ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

/// A name that is none of the four levels; holds the name as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLevel(pub String);

impl std::fmt::Display for UnknownLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown flash level {:?} (expected success, error, info or warning)",
            self.0
        )
    }
}

impl std::error::Error for UnknownLevel {}

/// When a message is shown: Macaron's optional `current` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Show {
    /// On the next request that reads flashes, then never again (the default: the
    /// post/redirect/get pattern).
    #[default]
    Next,
    /// In the current response only; never stored in the session.
    Now,
}

/// One flash message. The text is plain data: templates must escape it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its level.
    pub level: Level,
    /// Its text, at most [`MAX_MESSAGE_BYTES`] bytes.
    pub text: String,
}

impl Message {
    /// A message of `level`, its text cut to [`MAX_MESSAGE_BYTES`].
    pub fn new(level: Level, text: impl Into<String>) -> Self {
        Message {
            level,
            text: clip(text.into()),
        }
    }
}

/// Cuts `text` to at most [`MAX_MESSAGE_BYTES`] bytes on a character boundary.
fn clip(mut text: String) -> String {
    if text.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Appends `message`, dropping the oldest messages beyond [`MAX_MESSAGES`].
pub(crate) fn push_bounded(list: &mut Vec<Message>, message: Message) {
    list.push(message);
    bound(list);
}

/// Enforces both bounds on a list that may come from elsewhere (an older stored record).
pub(crate) fn bound(list: &mut Vec<Message>) {
    if list.len() > MAX_MESSAGES {
        let excess = list.len() - MAX_MESSAGES;
        list.drain(..excess);
    }
    for message in list.iter_mut() {
        if message.text.len() > MAX_MESSAGE_BYTES {
            message.text = clip(std::mem::take(&mut message.text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_whole_characters() {
        let text = "é".repeat(MAX_MESSAGE_BYTES); // two bytes each
        let message = Message::new(Level::Info, text);
        assert!(message.text.len() <= MAX_MESSAGE_BYTES);
        assert!(message.text.chars().all(|c| c == 'é'));
        assert_eq!(message.text.len(), MAX_MESSAGE_BYTES);
    }

    #[test]
    fn odd_limit_on_multibyte_text() {
        let text = format!("a{}", "€".repeat(MAX_MESSAGE_BYTES));
        let message = Message::new(Level::Info, text);
        assert!(message.text.len() <= MAX_MESSAGE_BYTES);
        assert!(message.text.starts_with('a'));
    }

    #[test]
    fn levels_parse_from_their_names_only() {
        for level in Level::ALL {
            assert_eq!(level.as_str().parse::<Level>(), Ok(level));
            assert_eq!(level.to_string().parse::<Level>(), Ok(level));
        }
        for bad in ["", "Info", "INFO", " info", "debug", "warn"] {
            assert_eq!(bad.parse::<Level>(), Err(UnknownLevel(bad.to_owned())));
        }
        let message = "nope".parse::<Level>().unwrap_err().to_string();
        assert!(message.contains("\"nope\""), "{message}");
    }

    #[test]
    fn oldest_dropped_first() {
        let mut list = Vec::new();
        for i in 0..MAX_MESSAGES + 5 {
            push_bounded(&mut list, Message::new(Level::Info, i.to_string()));
        }
        assert_eq!(list.len(), MAX_MESSAGES);
        assert_eq!(list[0].text, "5");
        assert_eq!(list[MAX_MESSAGES - 1].text, (MAX_MESSAGES + 4).to_string());
    }
}
