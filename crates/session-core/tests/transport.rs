//! Header tokens: what a request under `header` or `both` transport reads, and what its
//! commit asks the response to carry.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::Arc;
use std::time::Duration;

use session_core::{Commit, Manager, Options, Session, SigningKeys, SystemClock, Transport};
use session_memory::MemoryStore;

fn manager(options: Options) -> Manager {
    Manager::with_store(
        options,
        Arc::new(MemoryStore::default()),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn header(transport: Transport) -> Options {
    Options {
        transport,
        ..Options::default()
    }
}

/// A request with `cookie` (a `name=value` pair) and an `Authorization` line.
fn request(manager: &Manager, cookie: Option<&str>, authorization: Option<&str>) -> Session {
    manager.load_with_token(cookie.map(str::as_bytes), authorization.map(str::as_bytes))
}

fn returned_token(commit: &Commit) -> Option<&str> {
    commit.token.as_ref().and_then(|t| t.token.as_deref())
}

/// A session holding `user`, created under `manager`'s transport; its token (or cookie pair).
async fn login(manager: &Manager, authorization: Option<&str>) -> Commit {
    let session = request(manager, None, authorization);
    session.set("user", "gopher").await.unwrap();
    session.commit().await.unwrap()
}

async fn user(session: &Session) -> Option<String> {
    session.get::<String>("user").await.unwrap()
}

#[tokio::test]
async fn header_transport_returns_the_token_in_a_header_and_reads_it_back() {
    let manager = manager(header(Transport::Header));
    let commit = login(&manager, None).await;
    assert_eq!(
        commit.set_cookie, None,
        "no cookie under the header transport"
    );
    let headers = commit.token.clone().unwrap();
    assert_eq!(&*headers.response_header, "Session-Token");
    assert_eq!(&*headers.request_header, "Authorization");
    assert!(!headers.vary_cookie);
    let token = headers.token.unwrap();
    assert_eq!(token.len(), 32);

    let bearer = format!("Bearer {token}");
    let session = request(&manager, None, Some(&bearer));
    assert_eq!(user(&session).await.as_deref(), Some("gopher"));
    let commit = session.commit().await.unwrap();
    // Read only: no token again, but the answer depends on the header.
    assert_eq!(returned_token(&commit), None);
    assert!(commit.token.is_some() && !commit.sends_token());

    // A request that never touches its session gets nothing at all.
    let untouched = request(&manager, None, Some(&bearer));
    assert_eq!(untouched.commit().await.unwrap(), Commit::default());
}

#[tokio::test]
async fn header_transport_never_falls_back_to_the_cookie() {
    let manager = manager(header(Transport::Header));
    let token = returned_token(&login(&manager, None).await)
        .unwrap()
        .to_owned();
    // The same ID in a cookie is not a session here.
    let pair = format!("MacaronSession={token}");
    let session = request(&manager, Some(&pair), None);
    assert_eq!(user(&session).await, None);
    // Nor when the header is there but unusable.
    let session = request(&manager, Some(&pair), Some("Basic Zm9vOmJhcg=="));
    assert_eq!(user(&session).await, None);
    let commit = session.commit().await.unwrap();
    assert_eq!(commit.set_cookie, None);
    assert_eq!(returned_token(&commit), None);
}

#[tokio::test]
async fn destroy_signals_removal_and_regenerate_returns_a_new_token() {
    let manager = manager(header(Transport::Header));
    let token = returned_token(&login(&manager, None).await)
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {token}");

    let session = request(&manager, None, Some(&bearer));
    session.regenerate().await.unwrap();
    let rotated = returned_token(&session.commit().await.unwrap())
        .unwrap()
        .to_owned();
    assert_ne!(rotated, token);
    assert_eq!(
        user(&request(&manager, None, Some(&bearer))).await,
        None,
        "the old token is dead"
    );

    let bearer = format!("Bearer {rotated}");
    let session = request(&manager, None, Some(&bearer));
    assert_eq!(user(&session).await.as_deref(), Some("gopher"));
    session.destroy().await.unwrap();
    let commit = session.commit().await.unwrap();
    assert_eq!(
        returned_token(&commit),
        Some(""),
        "removal is an empty token"
    );
    assert!(commit.sends_token() && commit.set_cookie.is_none());
    assert_eq!(user(&request(&manager, None, Some(&bearer))).await, None);
}

#[tokio::test]
async fn signed_tokens_verify_and_a_forged_one_is_no_session() {
    let manager = manager(Options {
        signing_keys: SigningKeys::new(vec![vec![9; 32]]),
        token_header: "X-Session-Token".into(),
        ..header(Transport::Header)
    });
    let session = manager.load_with_token([], []);
    session.set("user", "gopher").await.unwrap();
    let token = returned_token(&session.commit().await.unwrap())
        .unwrap()
        .to_owned();
    assert!(token.contains('.'), "{token}");

    let read = |value: String| {
        let manager = manager.clone();
        async move {
            let session = manager.load_with_token([], [value.as_bytes()]);
            user(&session).await
        }
    };
    assert_eq!(read(token.clone()).await.as_deref(), Some("gopher"));
    let (id, _) = token.split_once('.').unwrap();
    assert_eq!(read(id.to_owned()).await, None, "the bare ID is not enough");
    assert_eq!(read(format!("{token}x")).await, None);
}

#[tokio::test]
async fn both_prefers_the_header_and_answers_in_the_transport_used() {
    let manager = manager(header(Transport::Both));
    // A cookie client: no header, so the answer is a cookie (and varies on both).
    let commit = login(&manager, None).await;
    let set_cookie = commit.set_cookie.clone().unwrap();
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    let headers = commit.token.unwrap();
    assert!(headers.token.is_none() && headers.vary_cookie);

    // An API client asks for a header token with an empty header.
    let session = request(&manager, None, Some("Bearer"));
    session.set("user", "api").await.unwrap();
    let commit = session.commit().await.unwrap();
    assert_eq!(commit.set_cookie, None);
    let token = returned_token(&commit).unwrap().to_owned();
    let bearer = format!("Bearer {token}");

    // Both credentials: the header wins.
    let session = request(&manager, Some(&pair), Some(&bearer));
    assert_eq!(user(&session).await.as_deref(), Some("api"));
    // Only the cookie: the cookie is used.
    let session = request(&manager, Some(&pair), None);
    assert_eq!(user(&session).await.as_deref(), Some("gopher"));
    // A header that holds no live token hides the cookie: no silent fallback.
    let session = request(&manager, Some(&pair), Some("Bearer 0123"));
    assert_eq!(user(&session).await, None);
}

#[tokio::test]
async fn a_route_overrides_the_managers_transport_before_first_use() {
    let manager = manager(Options::default());
    let session = request(&manager, None, None);
    session.set_transport(Transport::Header);
    assert_eq!(session.transport(), Transport::Header);
    session.set("user", "gopher").await.unwrap();
    let commit = session.commit().await.unwrap();
    assert_eq!(commit.set_cookie, None);
    let token = returned_token(&commit).unwrap().to_owned();

    // The same manager's cookie routes still read cookies only.
    let bearer = format!("Bearer {token}");
    let session = request(&manager, None, Some(&bearer));
    assert_eq!(session.transport(), Transport::Cookie);
    assert_eq!(user(&session).await, None);
    let pair = format!("MacaronSession={token}");
    let session = request(&manager, Some(&pair), None);
    assert_eq!(user(&session).await.as_deref(), Some("gopher"));
    assert_eq!(session.commit().await.unwrap().token, None);
}

#[tokio::test]
async fn a_persistent_session_does_not_resend_the_token_it_was_given() {
    let manager = manager(Options {
        cookie_lifetime: Duration::from_secs(3600),
        ..header(Transport::Header)
    });
    let token = returned_token(&login(&manager, None).await)
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {token}");
    let session = request(&manager, None, Some(&bearer));
    session.set("user", "changed").await.unwrap();
    let commit = session.commit().await.unwrap();
    assert_eq!(returned_token(&commit), None);
    assert_eq!(commit.set_cookie, None);
}
