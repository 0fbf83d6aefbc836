//! One client connection: the bootstrap handshake, then data operations, answered in order.

use std::sync::Arc;

use rand::RngCore as _;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::Shared;
use crate::cluster_config;
use crate::protocol::{DATATYPE_JSON, Request, Response, feature, opcode, read_request, status};
use crate::scram::{Exchange, Mechanism};
use crate::store::{Mode, Mutation, Refusal};

/// What one connection has negotiated so far.
#[derive(Debug, Default)]
struct State {
    features: Vec<u16>,
    authenticated: bool,
    bucket_selected: bool,
    scram: Option<Exchange>,
}

impl State {
    fn has(&self, f: u16) -> bool {
        self.features.contains(&f)
    }
}

/// Serves one connection until the client hangs up, a protocol error occurs, or the server
/// drops its connections (the epoch moves on).
pub(crate) async fn serve(stream: TcpStream, shared: Arc<Shared>, mut epoch: watch::Receiver<u64>) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut state = State::default();
    let mut out = Vec::new();
    loop {
        let request = tokio::select! {
            r = read_request(&mut reader) => match r {
                Ok(Some(request)) => request,
                _ => return,
            },
            _ = epoch.changed() => return,
        };
        let response = handle(&shared, &mut state, &request);
        out.clear();
        response.encode(&mut out);
        if write.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn handle(shared: &Shared, state: &mut State, request: &Request) -> Response {
    match request.opcode {
        opcode::HELLO => hello(state, request),
        opcode::GET_ERROR_MAP => json(state, request, &cluster_config::error_map()),
        opcode::NOOP => Response::ok(request),
        opcode::SASL_LIST_MECHS => {
            let names: Vec<&str> = shared
                .settings
                .mechanisms
                .iter()
                .map(|m| m.name())
                .collect();
            Response::ok(request).with_value(names.join(" "))
        }
        opcode::SASL_AUTH => sasl_auth(shared, state, request),
        opcode::SASL_STEP => sasl_step(state, request),
        _ if !state.authenticated => Response::status(request, status::EACCESS),
        opcode::SELECT_BUCKET => {
            if request.key == shared.settings.bucket.as_bytes() {
                state.bucket_selected = true;
                Response::ok(request)
            } else {
                Response::status(request, status::EACCESS)
            }
        }
        opcode::GET_CLUSTER_CONFIG => {
            let rev = shared.config_rev();
            let config = if state.bucket_selected {
                cluster_config::bucket(
                    &shared.settings.bucket,
                    &shared.settings.uuid,
                    shared.port,
                    rev,
                )
            } else {
                cluster_config::global(shared.port, rev)
            };
            json(state, request, &config)
        }
        opcode::GET_COLLECTION_ID if !state.bucket_selected => {
            Response::status(request, status::NO_BUCKET)
        }
        opcode::GET_COLLECTION_ID => collection_id(shared, request),
        opcode::GET
        | opcode::SET
        | opcode::ADD
        | opcode::REPLACE
        | opcode::DELETE
        | opcode::TOUCH
        | opcode::GAT => {
            if !state.bucket_selected {
                Response::status(request, status::NO_BUCKET)
            } else if shared.faults.tmpfail() {
                Response::status(request, status::TMPFAIL)
            } else {
                data(shared, state, request)
            }
        }
        _ => Response::status(request, status::UNKNOWN_COMMAND),
    }
}

fn json(state: &State, request: &Request, value: &serde_json::Value) -> Response {
    let mut response = Response::ok(request).with_value(value.to_string());
    if state.has(feature::DATATYPE) && state.has(feature::JSON) {
        response.datatype = DATATYPE_JSON;
    }
    response
}

fn hello(state: &mut State, request: &Request) -> Response {
    state.features.clear();
    for f in request
        .value
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
    {
        if feature::SUPPORTED.contains(&f) && !state.features.contains(&f) {
            state.features.push(f);
        }
    }
    let value: Vec<u8> = state
        .features
        .iter()
        .flat_map(|f| f.to_be_bytes())
        .collect();
    Response::ok(request).with_value(value)
}

fn sasl_auth(shared: &Shared, state: &mut State, request: &Request) -> Response {
    state.scram = None;
    let refused = Response::status(request, status::AUTH_ERROR).with_value("Auth failure");
    if shared.faults.refuse_auth() {
        return refused;
    }
    let Some(mechanism) = Mechanism::from_name(&request.key) else {
        return refused;
    };
    let Some(secret) = shared.settings.secrets.get(&mechanism) else {
        return refused;
    };
    let mut nonce = [0u8; 18];
    rand::rng().fill_bytes(&mut nonce);
    match Exchange::start(
        secret,
        &shared.settings.username,
        &request.value,
        &B64.encode(nonce),
    ) {
        Ok((exchange, server_first)) => {
            state.scram = Some(exchange);
            Response::status(request, status::AUTH_CONTINUE).with_value(server_first)
        }
        Err(_) => refused,
    }
}

fn sasl_step(state: &mut State, request: &Request) -> Response {
    match state.scram.take().map(|ex| ex.finish(&request.value)) {
        Some(Ok(server_final)) => {
            state.authenticated = true;
            Response::ok(request).with_value(server_final)
        }
        _ => Response::status(request, status::AUTH_ERROR).with_value("Auth failure"),
    }
}

fn collection_id(shared: &Shared, request: &Request) -> Response {
    // The SDK sends "scope.collection" as the value; older clients sent it as the key.
    let path = if request.value.is_empty() {
        &request.key
    } else {
        &request.value
    };
    let path = String::from_utf8_lossy(path);
    let Some((scope, collection)) = path.split_once('.') else {
        return Response::status(request, status::EINVAL);
    };
    match shared.settings.collection_id(scope, collection) {
        Ok(id) => {
            let mut response = Response::ok(request);
            response
                .extras
                .extend_from_slice(&crate::MANIFEST_UID.to_be_bytes());
            response.extras.extend_from_slice(&id.to_be_bytes());
            response
        }
        Err(CollectionLookup::UnknownScope) => Response::status(request, status::UNKNOWN_SCOPE),
        Err(CollectionLookup::UnknownCollection) => {
            Response::status(request, status::UNKNOWN_COLLECTION)
        }
    }
}

/// Why a collection lookup failed.
pub(crate) enum CollectionLookup {
    UnknownScope,
    UnknownCollection,
}

fn data(shared: &Shared, state: &State, request: &Request) -> Response {
    let (collection, key) = if state.has(feature::COLLECTIONS) {
        match crate::protocol::split_collection_key(&request.key) {
            Some(split) => split,
            None => return Response::status(request, status::EINVAL),
        }
    } else {
        (0, &request.key[..])
    };
    if !shared.settings.has_collection_id(collection) {
        return Response::status(request, status::UNKNOWN_COLLECTION);
    }
    if key.is_empty() || key.len() > 250 {
        return Response::status(request, status::EINVAL);
    }
    let now = shared.clock.now_ms();
    let mut store = shared.lock_store();
    let refusal = |r: Refusal| match r {
        Refusal::NotFound => Response::status(request, status::KEY_ENOENT),
        Refusal::Exists => Response::status(request, status::KEY_EEXISTS),
    };
    let expiry_at = |offset: usize| -> Option<u32> {
        let bytes = request.extras.get(offset..offset + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    match request.opcode {
        opcode::GET => match store.get(collection, key, now) {
            Some(doc) => Response {
                datatype: doc.datatype,
                cas: doc.cas,
                extras: doc.flags.to_be_bytes().to_vec(),
                value: doc.value,
                ..Response::ok(request)
            },
            None => refusal(Refusal::NotFound),
        },
        opcode::SET | opcode::ADD | opcode::REPLACE => {
            let (Some(flags), Some(expiry), 8) = (expiry_at(0), expiry_at(4), request.extras.len())
            else {
                return Response::status(request, status::EINVAL);
            };
            if request.datatype & !DATATYPE_JSON != 0 {
                // Snappy and xattrs are never granted, so the client may not use them.
                return Response::status(request, status::EINVAL);
            }
            let mode = match request.opcode {
                opcode::SET => Mode::Set,
                opcode::ADD => Mode::Add,
                _ => Mode::Replace,
            };
            let mutation = Mutation {
                value: &request.value,
                flags,
                datatype: request.datatype,
                expiry,
                cas: request.cas,
            };
            match store.mutate(collection, key, mode, mutation, now) {
                Ok(cas) => Response {
                    cas,
                    ..Response::ok(request)
                },
                Err(r) => refusal(r),
            }
        }
        opcode::DELETE => match store.delete(collection, key, request.cas, now) {
            Ok(cas) => Response {
                cas,
                ..Response::ok(request)
            },
            Err(r) => refusal(r),
        },
        _ => {
            let (Some(expiry), 4) = (expiry_at(0), request.extras.len()) else {
                return Response::status(request, status::EINVAL);
            };
            match store.touch(collection, key, expiry, now) {
                Ok(doc) if request.opcode == opcode::GAT => Response {
                    datatype: doc.datatype,
                    cas: doc.cas,
                    extras: doc.flags.to_be_bytes().to_vec(),
                    value: doc.value,
                    ..Response::ok(request)
                },
                Ok(doc) => Response {
                    cas: doc.cas,
                    ..Response::ok(request)
                },
                Err(r) => refusal(r),
            }
        }
    }
}
