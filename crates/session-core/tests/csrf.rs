//! CSRF tokens tied to the session: created once, verified in constant time, rotated by
//! `regenerate`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
use std::sync::Arc;

use session_core::csrf::CSRF_KEY;
use session_core::{Manager, Options, SystemClock};
use session_memory::MemoryStore;

fn manager() -> Manager {
    Manager::with_store(
        Options::default(),
        Arc::new(MemoryStore::default()),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn cookie(set_cookie: Option<String>) -> String {
    set_cookie.unwrap().split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_is_created_once_stored_and_verified() {
    let manager = manager();
    let session = manager.load([]);
    assert!(!session.verify_csrf("").await.unwrap());
    assert!(
        session.id().await.unwrap().is_none(),
        "verifying creates nothing"
    );
    let token = session.csrf_token().await.unwrap();
    assert_eq!(token.len(), 43);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let set = cookie(session.commit().await.unwrap().set_cookie);

    // The next request of the same client sees the same token.
    let session = manager.load([set.as_str()]);
    assert_eq!(session.csrf_token().await.unwrap(), token);
    assert!(session.verify_csrf(&token).await.unwrap());
    let mut wrong = token.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(wrong).unwrap(),
        token[..42].to_owned(),
        format!("{token}A"),
        String::new(),
    ] {
        assert!(!session.verify_csrf(&bad).await.unwrap(), "{bad:?}");
    }

    // Another client's session has a token of its own.
    let other = manager.load([]);
    assert_ne!(other.csrf_token().await.unwrap(), token);
    assert!(!other.verify_csrf(&token).await.unwrap());
}

#[tokio::test]
async fn regenerate_rotates_the_token_and_only_when_there_is_one() {
    let manager = manager();
    let session = manager.load([]);
    let before = session.csrf_token().await.unwrap();
    let set = cookie(session.commit().await.unwrap().set_cookie);

    let session = manager.load([set.as_str()]);
    session.regenerate().await.unwrap();
    assert!(!session.verify_csrf(&before).await.unwrap());
    let after = session.csrf_token().await.unwrap();
    assert_ne!(after, before);
    let set = cookie(session.commit().await.unwrap().set_cookie);

    // The rotated token is the one stored under the new ID.
    let session = manager.load([set.as_str()]);
    assert!(session.verify_csrf(&after).await.unwrap());
    assert!(!session.verify_csrf(&before).await.unwrap());

    // A session without a token does not get one from a regenerate.
    let session = manager.load([]);
    session.set("user", "gopher").await.unwrap();
    session.regenerate().await.unwrap();
    assert!(!session.contains(CSRF_KEY).await.unwrap());
}

#[test]
fn guards_check_unsafe_methods_and_url_encoded_forms_only() {
    use session_core::csrf::{form_token, is_unsafe, reads_form};
    for method in ["POST", "PUT", "PATCH", "DELETE", "PROPFIND"] {
        assert!(is_unsafe(method), "{method}");
    }
    for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
        assert!(!is_unsafe(method), "{method}");
    }
    let form = Some(&b"application/x-www-form-urlencoded; charset=UTF-8"[..]);
    assert!(reads_form(None, form));
    assert!(!reads_form(Some(b"t"), form), "the header wins");
    assert!(!reads_form(None, Some(b"multipart/form-data; boundary=x")));
    assert!(!reads_form(None, None));
    assert_eq!(
        form_token(b"user=a&csrf_token=ab%2Bc_-&x=1").as_deref(),
        Some("ab+c_-")
    );
    assert_eq!(form_token(b"user=a"), None);
    assert_eq!(form_token(b"csrf_token=a&csrf_token=a"), None);
}

#[tokio::test]
async fn a_request_passes_with_the_token_in_the_header_or_the_form() {
    use session_core::csrf::verify_request;
    let manager = manager();
    let session = manager.load([]);
    let token = session.csrf_token().await.unwrap();
    let form = format!("csrf_token={token}");
    assert!(
        verify_request(&session, Some(token.as_bytes()), None)
            .await
            .unwrap()
    );
    assert!(
        verify_request(&session, None, Some(form.as_bytes()))
            .await
            .unwrap()
    );
    assert!(
        !verify_request(&session, Some(b"wrong"), Some(form.as_bytes()))
            .await
            .unwrap(),
        "a wrong header is not rescued by the form"
    );
    assert!(!verify_request(&session, None, None).await.unwrap());
    assert!(!verify_request(&session, Some(b""), None).await.unwrap());
}
