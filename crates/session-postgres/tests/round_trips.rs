//! Each session operation, regenerate included, is one round trip to the server: one `Sync`
//! message, answered by one `ReadyForQuery`. A pool that pinged connections on their way back
//! (as sqlx's own does) would add a second one; this counts the client's `Sync` messages on
//! the wire, through a proxy, so that ping would show.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use session_postgres::{PostgresConfig, PostgresStore};
use session_sqlx::testing;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts a proxy to the machine's PostgreSQL; returns its port and the number of `Sync`
/// messages clients have sent through it so far.
async fn sync_counting_proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let syncs = Arc::new(AtomicUsize::new(0));
    let counter = syncs.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect("127.0.0.1:5432").await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
            });
            let counter = counter.clone();
            tokio::spawn(async move {
                let _ = forward_counting(&mut client_read, &mut server_write, &counter).await;
            });
        }
    });
    (port, syncs)
}

/// Forwards the client's messages, counting `Sync`s. A message is counted before it is
/// forwarded, so by the time the client has the reply, its `Sync` is in the count.
async fn forward_counting(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    syncs: &AtomicUsize,
) -> std::io::Result<()> {
    // The startup message has no type byte, only its length (itself included). The test
    // connects with sslmode=disable, so no SSLRequest comes before it.
    let len = from.read_i32().await?;
    let mut body = vec![0; usize::try_from(len - 4).unwrap()];
    from.read_exact(&mut body).await?;
    to.write_i32(len).await?;
    to.write_all(&body).await?;
    loop {
        let tag = from.read_u8().await?;
        let len = from.read_i32().await?;
        let mut body = vec![0; usize::try_from(len - 4).unwrap()];
        from.read_exact(&mut body).await?;
        if tag == b'S' {
            syncs.fetch_add(1, Ordering::SeqCst);
        }
        to.write_u8(tag).await?;
        to.write_i32(len).await?;
        to.write_all(&body).await?;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_one_round_trip() {
    let tables = common::Tables::default();
    let (port, syncs) = sync_counting_proxy().await;
    let config: PostgresConfig = format!(
        "postgres://postgres@127.0.0.1:{port}/test?sslmode=disable&table={}&pool_size=1",
        tables.add()
    )
    .parse()
    .unwrap();
    let store = PostgresStore::open(config, &common::context(1 << 20))
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is not reachable: {e}", common::URL));

    // sqlx prepares a statement on its first use on a connection, a round trip of its own:
    // count only once every statement is prepared on the pool's one connection.
    testing::every_operation(&store).await;
    let before = syncs.load(Ordering::SeqCst);
    // Regenerate included: its conditional move is one statement too.
    let operations =
        testing::every_operation(&store).await + testing::every_operation(&store).await;
    let round_trips = syncs.load(Ordering::SeqCst) - before;
    assert_eq!(
        round_trips, operations,
        "{operations} operations took {round_trips} round trips"
    );

    drop(store);
    tables.drop_all().await;
}
