//! A request whose save conflicts with another request's replays its own changes, in order,
//! onto the newer record: the result is as if the two requests had run one after the other.

use std::sync::Arc;

use session_core::{Manager, Options, SystemClock};
use session_memory::MemoryStore;

#[tokio::test]
async fn conflicting_changes_replay_in_order() -> session_core::Result<()> {
    let store = Arc::new(MemoryStore::default());
    let manager = Manager::with_store(Options::default(), store, Arc::new(SystemClock))?;
    let first = manager.load([]);
    first.set("seed", "x").await?;
    let cookie = first.commit().await?.set_cookie.unwrap_or_default();

    // Both requests load the same version.
    let slow = manager.load([cookie.as_str()]);
    let fast = manager.load([cookie.as_str()]);
    assert_eq!(slow.get::<String>("seed").await?.as_deref(), Some("x"));
    assert_eq!(fast.get::<String>("seed").await?.as_deref(), Some("x"));

    slow.set("a", &1).await?;
    slow.flush().await?;
    slow.set("a", &2).await?;
    slow.set("b", &3).await?;
    slow.delete("b").await?;
    slow.set_owner(Some("alice")).await?;

    fast.set("c", &4).await?;
    fast.commit().await?;
    // The slow request's save conflicts and is replayed onto {seed, c}.
    slow.commit().await?;

    let after = manager.load([cookie.as_str()]);
    let mut keys = after.keys().await?;
    keys.sort();
    assert_eq!(keys, ["a"], "flush removed seed and c; b was deleted");
    assert_eq!(after.get::<i32>("a").await?, Some(2));
    assert_eq!(after.owner().await?.as_deref(), Some("alice"));

    // Without a flush, both requests' keys survive and the later value of a key wins.
    let slow = manager.load([cookie.as_str()]);
    let fast = manager.load([cookie.as_str()]);
    slow.get::<i32>("a").await?;
    fast.get::<i32>("a").await?;
    slow.set("a", &5).await?;
    slow.set("d", &6).await?;
    fast.set("a", &7).await?;
    fast.set("e", &8).await?;
    fast.commit().await?;
    slow.commit().await?;
    let after = manager.load([cookie.as_str()]);
    assert_eq!(after.get::<i32>("a").await?, Some(5));
    assert_eq!(after.get::<i32>("d").await?, Some(6));
    assert_eq!(after.get::<i32>("e").await?, Some(8));
    Ok(())
}
