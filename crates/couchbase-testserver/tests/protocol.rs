//! The test server at the protocol level, for what the SDK cannot be made to do: SCRAM-SHA256
//! and SHA1, requests before authentication, unknown opcodes, pipelining, bad framing.

use couchbase_testserver::{Mechanism, TestConfig, TestServer, scram_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Reply {
    opcode: u8,
    status: u16,
    opaque: u32,
    cas: u64,
    extras: Vec<u8>,
    value: Vec<u8>,
}

fn request(opcode: u8, opaque: u32, extras: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80, opcode];
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.push(extras.len() as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
    out.extend_from_slice(&opaque.to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(extras);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

async fn read_reply(stream: &mut TcpStream) -> Option<Reply> {
    let mut header = [0u8; 24];
    stream.read_exact(&mut header).await.ok()?;
    assert_eq!(header[0], 0x81, "response magic");
    let key_len = u16::from_be_bytes([header[2], header[3]]) as usize;
    let extras_len = header[4] as usize;
    let body_len = u32::from_be_bytes(header[8..12].try_into().ok()?) as usize;
    let mut body = vec![0u8; body_len];
    stream.read_exact(&mut body).await.ok()?;
    Some(Reply {
        opcode: header[1],
        status: u16::from_be_bytes([header[6], header[7]]),
        opaque: u32::from_be_bytes(header[12..16].try_into().ok()?),
        cas: u64::from_be_bytes(header[16..24].try_into().ok()?),
        extras: body[..extras_len].to_vec(),
        value: body[extras_len + key_len..].to_vec(),
    })
}

async fn call(stream: &mut TcpStream, opcode: u8, key: &[u8], value: &[u8]) -> Reply {
    stream
        .write_all(&request(opcode, 1, &[], key, value))
        .await
        .expect("write");
    read_reply(stream).await.expect("a reply")
}

/// Runs SCRAM with `mechanism` by hand; returns the final status.
async fn scram(stream: &mut TcpStream, mechanism: Mechanism, user: &str, password: &str) -> u16 {
    let bare = format!("n={user},r=clientnonce123");
    let first = call(
        stream,
        0x21,
        mechanism.name().as_bytes(),
        format!("n,,{bare}").as_bytes(),
    )
    .await;
    if first.status != 0x21 {
        return first.status;
    }
    let server_first = String::from_utf8(first.value).expect("utf-8");
    assert!(
        server_first.starts_with("r=clientnonce123"),
        "{server_first}"
    );
    let last =
        scram_client::client_final(mechanism, password, &bare, &server_first).expect("final");
    call(stream, 0x22, mechanism.name().as_bytes(), last.as_bytes())
        .await
        .status
}

async fn server(mechanisms: Vec<Mechanism>) -> TestServer {
    TestServer::start(TestConfig {
        bucket: "b".into(),
        username: "u".into(),
        password: "pw".into(),
        mechanisms,
        ..TestConfig::default()
    })
    .await
    .expect("starts")
}

#[tokio::test]
async fn every_scram_mechanism_authenticates_over_the_wire() {
    let server = server(Mechanism::ALL.to_vec()).await;
    for mechanism in Mechanism::ALL {
        let mut s = TcpStream::connect(server.addr()).await.expect("connect");
        let mechs = call(&mut s, 0x20, b"", b"").await;
        assert_eq!(mechs.value, b"SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1");
        assert_eq!(
            scram(&mut s, mechanism, "u", "wrong").await,
            0x20,
            "{mechanism:?} wrong password"
        );
        assert_eq!(
            scram(&mut s, mechanism, "u", "pw").await,
            0x00,
            "{mechanism:?}"
        );
        assert_eq!(
            call(&mut s, 0x89, b"b", b"").await.status,
            0x00,
            "select bucket"
        );
    }
    // A mechanism the server does not offer is refused.
    let only = server_with_sha1().await;
    let mut s = TcpStream::connect(only.addr()).await.expect("connect");
    assert_eq!(scram(&mut s, Mechanism::ScramSha512, "u", "pw").await, 0x20);
    assert_eq!(scram(&mut s, Mechanism::ScramSha1, "u", "pw").await, 0x00);
}

async fn server_with_sha1() -> TestServer {
    server(vec![Mechanism::ScramSha1]).await
}

#[tokio::test]
async fn nothing_but_the_handshake_before_authentication() {
    let server = server(Mechanism::ALL.to_vec()).await;
    let mut s = TcpStream::connect(server.addr()).await.expect("connect");
    // HELLO grants only implemented features, in the order asked.
    let asked: Vec<u8> = [0x12u16, 0x0a, 0x01, 0x04, 0x10, 0x0b]
        .iter()
        .flat_map(|f| f.to_be_bytes())
        .collect();
    let hello = call(&mut s, 0x1f, b"test", &asked).await;
    assert_eq!(hello.value, [0x00, 0x12, 0x00, 0x01, 0x00, 0x0b]);
    for opcode in [0x00u8, 0x01, 0x89, 0xb5, 0xbb] {
        assert_eq!(
            call(&mut s, opcode, b"k", b"").await.status,
            0x24,
            "opcode {opcode:#x}"
        );
    }
    assert_eq!(scram(&mut s, Mechanism::ScramSha512, "u", "pw").await, 0x00);
    // Authenticated but no bucket: data operations are refused, the global config is served.
    assert_eq!(call(&mut s, 0x00, b"\x00k", b"").await.status, 0x08);
    let config = call(&mut s, 0xb5, b"", b"").await;
    assert_eq!(config.status, 0);
    let config: serde_json::Value = serde_json::from_slice(&config.value).expect("json");
    assert!(
        config.get("vBucketServerMap").is_none(),
        "global config has a bucket map"
    );
    assert_eq!(
        call(&mut s, 0x89, b"other", b"").await.status,
        0x24,
        "unknown bucket"
    );
    assert_eq!(call(&mut s, 0x89, b"b", b"").await.status, 0x00);
    let config = call(&mut s, 0xb5, b"", b"").await;
    let config: serde_json::Value = serde_json::from_slice(&config.value).expect("json");
    assert_eq!(config["name"], "b");
    assert_eq!(
        config["nodesExt"][0]["services"]["kv"],
        server.addr().port()
    );
    // Unknown opcodes.
    for opcode in [0x83u8, 0xa0, 0xd0, 0x05] {
        assert_eq!(
            call(&mut s, opcode, b"\x00k", b"").await.status,
            0x81,
            "opcode {opcode:#x}"
        );
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = server(Mechanism::ALL.to_vec()).await;
    let mut s = TcpStream::connect(server.addr()).await.expect("connect");
    assert_eq!(scram(&mut s, Mechanism::ScramSha512, "u", "pw").await, 0);
    assert_eq!(call(&mut s, 0x89, b"b", b"").await.status, 0);
    // Without the Collections feature, keys carry no collection prefix.
    let mut batch = Vec::new();
    let extras = [0u8, 0, 0, 9, 0, 0, 0, 0];
    for i in 0..50u32 {
        batch.extend(request(
            0x01,
            1000 + i,
            &extras,
            format!("k{i}").as_bytes(),
            &i.to_be_bytes(),
        ));
        batch.extend(request(
            0x00,
            2000 + i,
            &[],
            format!("k{i}").as_bytes(),
            b"",
        ));
    }
    batch.extend(request(0x02, 3000, &extras, b"k0", b"again"));
    s.write_all(&batch).await.expect("write");
    let mut last_cas = 0;
    for i in 0..50u32 {
        let set = read_reply(&mut s).await.expect("set reply");
        assert_eq!((set.opcode, set.opaque, set.status), (0x01, 1000 + i, 0));
        assert!(set.cas > last_cas, "CAS values increase");
        last_cas = set.cas;
        let get = read_reply(&mut s).await.expect("get reply");
        assert_eq!((get.opcode, get.opaque, get.status), (0x00, 2000 + i, 0));
        assert_eq!(get.extras, [0, 0, 0, 9], "flags come back as extras");
        assert_eq!(get.value, i.to_be_bytes());
        assert_eq!(get.cas, set.cas);
    }
    let add = read_reply(&mut s).await.expect("add reply");
    assert_eq!(
        (add.opaque, add.status),
        (3000, 0x02),
        "ADD over an existing key"
    );
    assert_eq!(server.document_count(), 50);
}

#[tokio::test]
async fn bad_framing_closes_only_that_connection() {
    let server = server(Mechanism::ALL.to_vec()).await;
    let mut bad = TcpStream::connect(server.addr()).await.expect("connect");
    let mut garbage = request(0x00, 1, &[], b"k", b"");
    garbage[0] = 0x42;
    bad.write_all(&garbage).await.expect("write");
    assert!(
        read_reply(&mut bad).await.is_none(),
        "a bad magic got a reply"
    );
    // A body length over the limit is refused before anything is allocated.
    let mut huge = TcpStream::connect(server.addr()).await.expect("connect");
    let mut header = request(0x01, 1, &[], b"", b"");
    header[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    huge.write_all(&header).await.expect("write");
    assert!(
        read_reply(&mut huge).await.is_none(),
        "a 4 GiB body was accepted"
    );
    // The server still serves others.
    let mut good = TcpStream::connect(server.addr()).await.expect("connect");
    assert_eq!(call(&mut good, 0x0a, b"", b"").await.status, 0, "noop");
}

#[tokio::test]
async fn dropping_the_server_closes_its_connections_and_port() {
    let server = server(Mechanism::ALL.to_vec()).await;
    let addr = server.addr();
    let mut open = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(call(&mut open, 0x0a, b"", b"").await.status, 0, "noop");
    drop(server);
    assert!(
        read_reply(&mut open).await.is_none(),
        "a connection outlived the server"
    );
    // The listener goes away with its task; wait for that, bounded.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still listening after drop"
    );
}
