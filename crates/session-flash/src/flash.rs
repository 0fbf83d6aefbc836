//! The per-request [`Flash`] handle.

use std::sync::{Arc, PoisonError};

use session_core::{Result, Session};

use crate::message::{Level, Message, Show, bound, push_bounded};
use crate::view::FlashView;

/// The session key under which queued messages live. It is reserved: handlers should not
/// write it themselves.
pub const SESSION_KEY: &str = "_flash";

/// One request's flash messages: a cheap, cloneable handle (`Clone + Send + Sync`) over the
/// request's [`Session`].
///
/// Adapters create one per request and share it, so "show now" messages added by the handler
/// are seen by whatever renders the response. Messages for the next request are written into
/// the session at once (in memory; the adapter's commit persists them), so a provider outage
/// surfaces here as an [`Error`](session_core::Error), never as lost messages.
#[derive(Clone)]
pub struct Flash {
    session: Session,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Flash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flash").finish_non_exhaustive()
    }
}

struct Inner {
    /// An async lock: loading the queue awaits the provider, and two tasks of one request
    /// must not both load and then overwrite each other's additions.
    queue: tokio::sync::Mutex<Queue>,
    /// "Show now" messages never touch the session, so they need no async lock.
    now: std::sync::Mutex<Vec<Message>>,
}

#[derive(Default)]
struct Queue {
    /// What earlier requests queued for this one; `None` until first needed.
    incoming: Option<Vec<Message>>,
    /// Whether this request has read (and so consumed) `incoming`. They stay in memory so a
    /// second render in the same request shows them again.
    consumed: bool,
    /// Queued by this request for the next one.
    outgoing: Vec<Message>,
}

impl Flash {
    /// The flash messages of the request that owns `session`.
    pub fn new(session: Session) -> Self {
        Flash {
            session,
            inner: Arc::new(Inner {
                queue: tokio::sync::Mutex::new(Queue::default()),
                now: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// The session the messages are stored in.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Adds a message of `level`, shown on the next request that reads flashes
    /// ([`Show::Next`]) or in this response only ([`Show::Now`]).
    pub async fn add(&self, level: Level, text: impl Into<String>, show: Show) -> Result<()> {
        let message = Message::new(level, text);
        match show {
            Show::Now => {
                self.push_now(message);
                Ok(())
            }
            Show::Next => {
                let mut queue = self.inner.queue.lock().await;
                self.ensure_loaded(&mut queue).await?;
                let before = queue.outgoing.clone();
                push_bounded(&mut queue.outgoing, message);
                let result = self.persist(&queue).await;
                if result.is_err() {
                    // Keep memory and session in step: the message was not queued.
                    queue.outgoing = before;
                }
                result
            }
        }
    }

    /// Queues a success message for the next request (Macaron's `f.Success(msg)`).
    pub async fn success(&self, text: impl Into<String>) -> Result<()> {
        self.add(Level::Success, text, Show::Next).await
    }

    /// Queues an error message for the next request.
    pub async fn error(&self, text: impl Into<String>) -> Result<()> {
        self.add(Level::Error, text, Show::Next).await
    }

    /// Queues an info message for the next request.
    pub async fn info(&self, text: impl Into<String>) -> Result<()> {
        self.add(Level::Info, text, Show::Next).await
    }

    /// Queues a warning message for the next request.
    pub async fn warning(&self, text: impl Into<String>) -> Result<()> {
        self.add(Level::Warning, text, Show::Next).await
    }

    /// Shows a success message in this response only (Macaron's `f.Success(msg, true)`).
    pub fn success_now(&self, text: impl Into<String>) {
        self.push_now(Message::new(Level::Success, text));
    }

    /// Shows an error message in this response only.
    pub fn error_now(&self, text: impl Into<String>) {
        self.push_now(Message::new(Level::Error, text));
    }

    /// Shows an info message in this response only.
    pub fn info_now(&self, text: impl Into<String>) {
        self.push_now(Message::new(Level::Info, text));
    }

    /// Shows a warning message in this response only.
    pub fn warning_now(&self, text: impl Into<String>) {
        self.push_now(Message::new(Level::Warning, text));
    }

    /// The messages to show in this response, oldest first: those queued by earlier requests,
    /// then this request's "show now" messages.
    ///
    /// Reading consumes: the queued messages are removed from the session (a session write),
    /// so they are shown once. Reading again in the same request returns them again. Messages
    /// this request queues for the next one are not included, whether added before or after.
    pub async fn messages(&self) -> Result<Vec<Message>> {
        let mut shown = {
            let mut queue = self.inner.queue.lock().await;
            self.ensure_loaded(&mut queue).await?;
            if !queue.consumed {
                queue.consumed = true;
                if let Err(e) = self.persist(&queue).await {
                    // Not removed from the session, so not consumed: a later write must not
                    // drop them.
                    queue.consumed = false;
                    return Err(e);
                }
            }
            queue.incoming.clone().unwrap_or_default()
        };
        shown.extend(self.lock_now().iter().cloned());
        Ok(shown)
    }

    /// [`Flash::messages`] as the template view (`Flash.SuccessMsg`, ...); consumes likewise.
    pub async fn view(&self) -> Result<FlashView> {
        Ok(FlashView::from_messages(self.messages().await?))
    }

    fn push_now(&self, message: Message) {
        push_bounded(&mut self.lock_now(), message);
    }

    fn lock_now(&self) -> std::sync::MutexGuard<'_, Vec<Message>> {
        // A panic elsewhere while holding this lock cannot leave the list half-written (each
        // operation is one push), so a poisoned lock is still usable.
        self.inner
            .now
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn ensure_loaded(&self, queue: &mut Queue) -> Result<()> {
        if queue.incoming.is_none() {
            let mut stored = match self.session.get::<Vec<Message>>(SESSION_KEY).await {
                Ok(stored) => stored.unwrap_or_default(),
                // A value of another shape (an older format, or a handler misusing the
                // reserved key) must not break every page that shows flashes: read it as
                // empty; the next read or addition overwrites it.
                Err(session_core::Error::Decode { message, .. }) => {
                    tracing::warn!(key = SESSION_KEY, error = %message, "undecodable flash queue dropped");
                    Vec::new()
                }
                Err(e) => return Err(e),
            };
            bound(&mut stored);
            queue.incoming = Some(stored);
        }
        Ok(())
    }

    /// Writes what the next request should see: the unread incoming messages, then this
    /// request's additions, oldest dropped beyond the bound.
    async fn persist(&self, queue: &Queue) -> Result<()> {
        let mut stored = match (&queue.incoming, queue.consumed) {
            (Some(incoming), false) => incoming.clone(),
            _ => Vec::new(),
        };
        stored.extend(queue.outgoing.iter().cloned());
        bound(&mut stored);
        if stored.is_empty() {
            self.session.delete(SESSION_KEY).await?;
        } else {
            self.session.set(SESSION_KEY, &stored).await?;
        }
        Ok(())
    }
}
