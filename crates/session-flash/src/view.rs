//! The serializable view templates render.

use serde::Serialize;

use crate::message::{Level, Message};

/// What a template sees as `Flash`: the seed's four fields plus the full lists.
///
/// `SuccessMsg`, `ErrorMsg`, `InfoMsg` and `WarningMsg` hold the **most recent** message of
/// their level (empty when there is none): in Macaron each call overwrote that field, so the
/// last message set is the one the seed's template showed. Every message is also available, in
/// order: per level as `SuccessMsgs`, `ErrorMsgs`, `InfoMsgs`, `WarningMsgs`, and all levels
/// interleaved as `Messages` (`{level, text}` items).
///
/// All texts are plain strings, never marked safe: a template engine with autoescaping (for
/// example minijinja on `.html` templates) escapes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlashView {
    /// The latest success message, or `""`.
    #[serde(rename = "SuccessMsg")]
    pub success_msg: String,
    /// The latest error message, or `""`.
    #[serde(rename = "ErrorMsg")]
    pub error_msg: String,
    /// The latest info message, or `""`.
    #[serde(rename = "InfoMsg")]
    pub info_msg: String,
    /// The latest warning message, or `""`.
    #[serde(rename = "WarningMsg")]
    pub warning_msg: String,
    /// Every success message, oldest first.
    #[serde(rename = "SuccessMsgs")]
    pub success: Vec<String>,
    /// Every error message, oldest first.
    #[serde(rename = "ErrorMsgs")]
    pub error: Vec<String>,
    /// Every info message, oldest first.
    #[serde(rename = "InfoMsgs")]
    pub info: Vec<String>,
    /// Every warning message, oldest first.
    #[serde(rename = "WarningMsgs")]
    pub warning: Vec<String>,
    /// Every message of every level, oldest first.
    #[serde(rename = "Messages")]
    pub messages: Vec<Message>,
}

impl FlashView {
    /// Builds the view of `messages` (oldest first).
    pub fn from_messages(messages: Vec<Message>) -> Self {
        let mut view = FlashView::default();
        for message in &messages {
            let (latest, all) = match message.level {
                Level::Success => (&mut view.success_msg, &mut view.success),
                Level::Error => (&mut view.error_msg, &mut view.error),
                Level::Info => (&mut view.info_msg, &mut view.info),
                Level::Warning => (&mut view.warning_msg, &mut view.warning),
            };
            latest.clone_from(&message.text);
            all.push(message.text.clone());
        }
        view.messages = messages;
        view
    }

    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The messages of `level`, oldest first.
    pub fn of(&self, level: Level) -> &[String] {
        match level {
            Level::Success => &self.success,
            Level::Error => &self.error,
            Level::Info => &self.info,
            Level::Warning => &self.warning,
        }
    }
}
