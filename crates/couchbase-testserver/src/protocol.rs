//! The memcached binary protocol framing, opcodes and status codes the server speaks.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Length of every request and response header.
pub(crate) const HEADER_LEN: usize = 24;

/// A request body larger than this closes the connection: Couchbase's own document limit is
/// 20 MiB, and a test server must not allocate whatever a corrupt length field asks for.
pub(crate) const MAX_BODY: usize = 21 * 1024 * 1024;

/// Request magic, and the "alt request" magic that carries framing extras.
const MAGIC_REQUEST: u8 = 0x80;
const MAGIC_ALT_REQUEST: u8 = 0x08;
const MAGIC_RESPONSE: u8 = 0x81;

/// Opcodes this server implements; every other one is answered with `UNKNOWN_COMMAND`.
pub(crate) mod opcode {
    pub(crate) const GET: u8 = 0x00;
    pub(crate) const SET: u8 = 0x01;
    pub(crate) const ADD: u8 = 0x02;
    pub(crate) const REPLACE: u8 = 0x03;
    pub(crate) const DELETE: u8 = 0x04;
    pub(crate) const NOOP: u8 = 0x0a;
    pub(crate) const TOUCH: u8 = 0x1c;
    pub(crate) const GAT: u8 = 0x1d;
    pub(crate) const HELLO: u8 = 0x1f;
    pub(crate) const SASL_LIST_MECHS: u8 = 0x20;
    pub(crate) const SASL_AUTH: u8 = 0x21;
    pub(crate) const SASL_STEP: u8 = 0x22;
    pub(crate) const SELECT_BUCKET: u8 = 0x89;
    pub(crate) const GET_CLUSTER_CONFIG: u8 = 0xb5;
    pub(crate) const GET_COLLECTION_ID: u8 = 0xbb;
    pub(crate) const GET_ERROR_MAP: u8 = 0xfe;
}

/// Response status codes.
pub(crate) mod status {
    pub(crate) const SUCCESS: u16 = 0x00;
    pub(crate) const KEY_ENOENT: u16 = 0x01;
    pub(crate) const KEY_EEXISTS: u16 = 0x02;
    pub(crate) const EINVAL: u16 = 0x04;
    pub(crate) const NO_BUCKET: u16 = 0x08;
    pub(crate) const AUTH_ERROR: u16 = 0x20;
    pub(crate) const AUTH_CONTINUE: u16 = 0x21;
    pub(crate) const EACCESS: u16 = 0x24;
    pub(crate) const UNKNOWN_COMMAND: u16 = 0x81;
    pub(crate) const TMPFAIL: u16 = 0x86;
    pub(crate) const UNKNOWN_COLLECTION: u16 = 0x88;
    pub(crate) const UNKNOWN_SCOPE: u16 = 0x8c;
}

/// HELLO feature codes this server can grant.
pub(crate) mod feature {
    pub(crate) const DATATYPE: u16 = 0x01;
    pub(crate) const XERROR: u16 = 0x07;
    pub(crate) const SELECT_BUCKET: u16 = 0x08;
    pub(crate) const JSON: u16 = 0x0b;
    pub(crate) const COLLECTIONS: u16 = 0x12;

    /// Granted when asked for. Not granted, because not implemented: Snappy (the client
    /// would compress), SeqNo (mutation tokens in replies), AltRequests/Durations (other
    /// framing), Duplex and cluster-map notifications (server pushes).
    pub(crate) const SUPPORTED: [u16; 5] = [DATATYPE, XERROR, SELECT_BUCKET, JSON, COLLECTIONS];
}

/// The JSON datatype bit; the only one this server stores (Snappy is never granted).
pub(crate) const DATATYPE_JSON: u8 = 0x01;

/// One decoded request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub(crate) opcode: u8,
    pub(crate) datatype: u8,
    pub(crate) opaque: u32,
    pub(crate) cas: u64,
    pub(crate) extras: Vec<u8>,
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// One response to encode.
#[derive(Debug, Clone, Default)]
pub(crate) struct Response {
    pub(crate) opcode: u8,
    pub(crate) status: u16,
    pub(crate) datatype: u8,
    pub(crate) opaque: u32,
    pub(crate) cas: u64,
    pub(crate) extras: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

impl Response {
    /// An empty reply with `status` to `request`.
    pub(crate) fn status(request: &Request, status: u16) -> Self {
        Response {
            opcode: request.opcode,
            status,
            opaque: request.opaque,
            ..Response::default()
        }
    }

    /// A successful empty reply to `request`.
    pub(crate) fn ok(request: &Request) -> Self {
        Response::status(request, status::SUCCESS)
    }

    /// Sets the value.
    pub(crate) fn with_value(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.value = value.into();
        self
    }

    /// Encodes the response into `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        // Extras are at most a few bytes and values are capped by MAX_BODY, so the casts hold.
        let body_len = self.extras.len() + self.value.len();
        out.reserve(HEADER_LEN + body_len);
        out.push(MAGIC_RESPONSE);
        out.push(self.opcode);
        out.extend_from_slice(&0u16.to_be_bytes());
        out.push(u8::try_from(self.extras.len()).unwrap_or(u8::MAX));
        out.push(self.datatype);
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&self.opaque.to_be_bytes());
        out.extend_from_slice(&self.cas.to_be_bytes());
        out.extend_from_slice(&self.extras);
        out.extend_from_slice(&self.value);
    }
}

/// Reads one request. `Ok(None)` is a clean end of stream between requests.
pub(crate) async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> io::Result<Option<Request>> {
    let mut header = [0u8; HEADER_LEN];
    match reader.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (framing_len, key_len) = match header[0] {
        MAGIC_REQUEST => (
            0usize,
            usize::from(u16::from_be_bytes([header[2], header[3]])),
        ),
        MAGIC_ALT_REQUEST => (usize::from(header[2]), usize::from(header[3])),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad request magic 0x{other:02x}"),
            ));
        }
    };
    let extras_len = usize::from(header[4]);
    let body_len = u32::from_be_bytes([header[8], header[9], header[10], header[11]]) as usize;
    if body_len > MAX_BODY || framing_len + extras_len + key_len > body_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad request lengths (body {body_len})"),
        ));
    }
    let mut body = vec![0u8; body_len];
    reader.read_exact(&mut body).await?;
    let extras_end = framing_len + extras_len;
    let key_end = extras_end + key_len;
    Ok(Some(Request {
        opcode: header[1],
        datatype: header[5],
        opaque: u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
        cas: u64::from_be_bytes([
            header[16], header[17], header[18], header[19], header[20], header[21], header[22],
            header[23],
        ]),
        extras: body[framing_len..extras_end].to_vec(),
        key: body[extras_end..key_end].to_vec(),
        value: body[key_end..].to_vec(),
    }))
}

/// Splits a collection-prefixed key (ULEB128 collection ID, then the document key).
pub(crate) fn split_collection_key(key: &[u8]) -> Option<(u32, &[u8])> {
    let mut id: u32 = 0;
    for (i, byte) in key.iter().enumerate().take(5) {
        id |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((id, &key[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uleb128_collection_ids() {
        assert_eq!(split_collection_key(&[0x00, b'k']), Some((0, &b"k"[..])));
        assert_eq!(split_collection_key(&[0x08, b'k']), Some((8, &b"k"[..])));
        assert_eq!(
            split_collection_key(&[0x80, 0x01, b'k']),
            Some((128, &b"k"[..]))
        );
        assert_eq!(split_collection_key(&[0x80]), None);
        assert_eq!(split_collection_key(&[]), None);
    }

    #[tokio::test]
    async fn request_round_trip_and_length_checks() {
        let mut raw = vec![0x80, opcode::GET, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7];
        raw.extend_from_slice(&9u64.to_be_bytes());
        raw.push(b'k');
        let request = read_request(&mut &raw[..]).await.ok().flatten();
        let request = request.unwrap_or_default();
        assert_eq!(request.key, b"k");
        assert_eq!(request.opaque, 7);
        assert_eq!(request.cas, 9);

        // Key longer than the body: refused, not a panic.
        let mut bad = raw.clone();
        bad[3] = 2;
        assert!(read_request(&mut &bad[..]).await.is_err());
        // Clean EOF between requests.
        assert!(matches!(read_request(&mut &[][..]).await, Ok(None)));
    }
}
