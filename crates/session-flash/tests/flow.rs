//! Flash behaviour across "requests" driven by hand through `Manager::load` and
//! `Session::commit`, on the memory provider.

// Tests fail loudly on any unexpected error; unwrap is the clearest way to say so.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use session_core::conformance::Instrumented;
use session_core::{Manager, Options, Session, SystemClock};
use session_flash::{Flash, FlashView, Level, MAX_MESSAGE_BYTES, MAX_MESSAGES, Message, Show};
use session_memory::MemoryStore;

/// A client that keeps the session cookie between requests.
struct Browser {
    manager: Manager,
    cookie: Option<String>,
}

impl Browser {
    fn new(manager: Manager) -> Self {
        Browser {
            manager,
            cookie: None,
        }
    }

    fn begin(&self) -> (Session, Flash) {
        let session = self.manager.load(self.cookie.as_deref());
        let flash = Flash::new(session.clone());
        (session, flash)
    }

    async fn end(&mut self, session: Session) -> session_core::Result<()> {
        if let Some(set_cookie) = session.commit().await?.set_cookie {
            let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
            self.cookie = if set_cookie.contains("Max-Age=0") {
                None
            } else {
                Some(pair)
            };
        }
        Ok(())
    }

    /// One request that only reads flashes.
    async fn show(&mut self) -> FlashView {
        let (session, flash) = self.begin();
        let view = flash.view().await.expect("flashes readable");
        self.end(session).await.expect("commit");
        view
    }
}

fn memory_manager() -> (Manager, Arc<Instrumented>) {
    let store = Arc::new(Instrumented::new(Arc::new(MemoryStore::default())));
    let manager = Manager::with_store(Options::default(), store.clone(), Arc::new(SystemClock))
        .expect("valid options");
    (manager, store)
}

#[tokio::test]
async fn queued_messages_are_shown_once_on_the_next_read() {
    let (manager, _) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    flash.success("yes!!!").await.unwrap();
    flash.error("opps...").await.unwrap();
    flash.info("aha?!").await.unwrap();
    flash.warning("Just be careful.").await.unwrap();
    // Queued for the next request: not shown by this one, even though it reads.
    assert!(flash.view().await.unwrap().is_empty());
    browser.end(session).await.unwrap();

    let view = browser.show().await;
    assert_eq!(view.success_msg, "yes!!!");
    assert_eq!(view.error_msg, "opps...");
    assert_eq!(view.info_msg, "aha?!");
    assert_eq!(view.warning_msg, "Just be careful.");

    assert!(browser.show().await.is_empty());
}

#[tokio::test]
async fn a_request_that_does_not_read_keeps_the_messages() {
    let (manager, _) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    flash.info("kept").await.unwrap();
    browser.end(session).await.unwrap();

    for _ in 0..3 {
        let (session, _flash) = browser.begin();
        session.set("other", "value").await.unwrap();
        browser.end(session).await.unwrap();
    }
    assert_eq!(browser.show().await.info, vec!["kept"]);
    assert!(browser.show().await.is_empty());
}

#[tokio::test]
async fn show_now_is_for_this_response_only() {
    let (manager, _) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    flash.success_now("done");
    flash
        .add(Level::Warning, "careful", Show::Now)
        .await
        .unwrap();
    let view = flash.view().await.unwrap();
    assert_eq!(view.success_msg, "done");
    assert_eq!(view.warning_msg, "careful");
    browser.end(session).await.unwrap();
    // Nothing was stored: no session, no cookie.
    assert_eq!(browser.cookie, None);

    assert!(browser.show().await.is_empty());
}

#[tokio::test]
async fn carried_and_current_messages_are_both_shown_in_order() {
    let (manager, _) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    flash.info("from before").await.unwrap();
    browser.end(session).await.unwrap();

    let (session, flash) = browser.begin();
    flash.error_now("now");
    flash.success("for later").await.unwrap();
    let messages = flash.messages().await.unwrap();
    assert_eq!(
        messages,
        vec![
            Message::new(Level::Info, "from before"),
            Message::new(Level::Error, "now"),
        ]
    );
    // A second render in the same request sees the same messages.
    assert_eq!(flash.messages().await.unwrap(), messages);
    browser.end(session).await.unwrap();

    let view = browser.show().await;
    assert_eq!(view.success, vec!["for later"]);
    assert_eq!(view.messages.len(), 1);
}

#[tokio::test]
async fn several_messages_per_level_keep_their_order() {
    let (manager, _) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    flash.error("first").await.unwrap();
    flash.success("between").await.unwrap();
    flash.error("second").await.unwrap();
    flash.error("third").await.unwrap();
    browser.end(session).await.unwrap();

    let view = browser.show().await;
    assert_eq!(view.error, vec!["first", "second", "third"]);
    // The single field shows the latest message of its level.
    assert_eq!(view.error_msg, "third");
    let levels: Vec<Level> = view.messages.iter().map(|m| m.level).collect();
    assert_eq!(
        levels,
        vec![Level::Error, Level::Success, Level::Error, Level::Error]
    );
}

#[tokio::test]
async fn the_queue_is_bounded_and_drops_the_oldest() {
    let (manager, _) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    for i in 0..10_000 {
        flash.info(format!("message {i}")).await.unwrap();
    }
    flash
        .warning("x".repeat(MAX_MESSAGE_BYTES * 3))
        .await
        .unwrap();
    browser.end(session).await.unwrap();

    let view = browser.show().await;
    assert_eq!(view.messages.len(), MAX_MESSAGES);
    assert_eq!(view.info.len(), MAX_MESSAGES - 1);
    assert_eq!(
        view.info.first().map(String::as_str),
        Some(format!("message {}", 10_000 - (MAX_MESSAGES - 1)).as_str())
    );
    assert_eq!(view.info.last().map(String::as_str), Some("message 9999"));
    assert_eq!(view.warning_msg.len(), MAX_MESSAGE_BYTES);
}

#[tokio::test]
async fn reading_consumes_only_when_there_is_something_to_consume() {
    let (manager, store) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    session.set("user", "gopher").await.unwrap();
    flash.info("hello").await.unwrap();
    browser.end(session).await.unwrap();

    let writes = store.writes();
    assert_eq!(browser.show().await.info, vec!["hello"]);
    assert_eq!(store.writes(), writes + 1, "reading consumed: one write");

    let writes = store.writes();
    assert!(browser.show().await.is_empty());
    assert_eq!(store.writes(), writes, "nothing to consume: no write");

    // The rest of the session is untouched.
    let (session, _) = browser.begin();
    assert_eq!(
        session.get::<String>("user").await.unwrap().as_deref(),
        Some("gopher")
    );
}

#[tokio::test]
async fn provider_outage_is_a_typed_error_and_loses_nothing() {
    let (manager, store) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    flash.success("survives").await.unwrap();
    browser.end(session).await.unwrap();

    store.set_down(true);
    let (session, flash) = browser.begin();
    let err = flash.view().await.expect_err("the provider is down");
    assert!(err.is_backend(), "{err}");
    let err = flash.info("more").await.expect_err("the provider is down");
    assert!(err.is_backend(), "{err}");
    assert!(
        session
            .commit()
            .await
            .expect_err("commit reports it")
            .is_backend()
    );

    store.set_down(false);
    assert_eq!(browser.show().await.success, vec!["survives"]);
}

#[tokio::test]
async fn an_undecodable_queue_reads_as_empty_and_is_replaced() {
    let (manager, _) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, _) = browser.begin();
    session
        .set(session_flash::SESSION_KEY, &42u32)
        .await
        .unwrap();
    session.set("user", "gopher").await.unwrap();
    browser.end(session).await.unwrap();

    assert!(browser.show().await.is_empty());

    let (session, flash) = browser.begin();
    flash.success("fresh").await.unwrap();
    browser.end(session).await.unwrap();
    assert_eq!(browser.show().await.success, vec!["fresh"]);
}

#[tokio::test]
async fn flash_is_shared_across_tasks_of_one_request() {
    let (manager, _) = memory_manager();
    let mut browser = Browser::new(manager);

    let (session, flash) = browser.begin();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let flash = flash.clone();
        tasks.push(tokio::spawn(async move {
            flash.info(format!("task {i}")).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    browser.end(session).await.unwrap();
    assert_eq!(browser.show().await.info.len(), 8);
}

#[test]
fn seed_template_renders_and_escapes() {
    let mut env = minijinja::Environment::new();
    env.add_template(
        "signup.html",
        "<h2>{{ Flash.SuccessMsg }}</h2>\n<h2>{{ Flash.ErrorMsg }}</h2>\n\
         <h2>{{ Flash.InfoMsg }}</h2>\n<h2>{{ Flash.WarningMsg }}</h2>",
    )
    .unwrap();
    let view = FlashView::from_messages(vec![
        Message::new(Level::Success, "yes!!!"),
        Message::new(Level::Error, "<script>alert(1)</script>"),
        Message::new(Level::Info, "aha?!"),
    ]);
    let html = env
        .get_template("signup.html")
        .unwrap()
        .render(minijinja::context! { Flash => view })
        .unwrap();
    assert_eq!(
        html,
        "<h2>yes!!!</h2>\n<h2>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</h2>\n\
         <h2>aha?!</h2>\n<h2></h2>"
    );
}

#[test]
fn view_serializes_with_the_seed_field_names() {
    let view = FlashView::from_messages(vec![Message::new(Level::Warning, "w")]);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["WarningMsg"], "w");
    assert_eq!(json["SuccessMsg"], "");
    assert_eq!(json["WarningMsgs"], serde_json::json!(["w"]));
    assert_eq!(
        json["Messages"],
        serde_json::json!([{"level": "warning", "text": "w"}])
    );
}
