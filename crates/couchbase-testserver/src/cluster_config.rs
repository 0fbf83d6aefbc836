//! The terse cluster configs served by `GET_CLUSTER_CONFIG` (CCCP).

use serde_json::{Value, json};

/// The management port advertised in `nodesExt`. The SDK insists on a `mgmt` entry even when
/// it never makes an HTTP request; nothing is served there.
const MGMT_PORT: u16 = 8091;

/// Number of vBuckets. Any length works for routing; the ID in requests is ignored.
const VBUCKETS: usize = 64;

fn node_ext(port: u16) -> Value {
    // No "hostname": it means "the host the client dialled", which is what a test wants.
    json!({"services": {"kv": port, "mgmt": MGMT_PORT}, "thisNode": true})
}

/// The cluster-level config (before `SELECT_BUCKET`).
pub(crate) fn global(port: u16, rev: i64) -> Value {
    json!({
        "rev": rev,
        "revEpoch": 1,
        "nodesExt": [node_ext(port)],
        "clusterCapabilitiesVer": [1, 0],
        "clusterCapabilities": {"n1ql": ["enhancedPreparedStatements"]},
    })
}

/// The config of `bucket`, a single-node bucket without replicas.
pub(crate) fn bucket(bucket: &str, uuid: &str, port: u16, rev: i64) -> Value {
    let vbucket_map: Vec<[u8; 1]> = vec![[0]; VBUCKETS];
    json!({
        "rev": rev,
        "revEpoch": 1,
        "name": bucket,
        "uuid": uuid,
        "nodeLocator": "vbucket",
        "bucketCapabilitiesVer": "",
        "bucketCapabilities": ["collections", "cccp", "xattr", "cbhello", "touch", "nodesExt"],
        "collectionsManifestUid": "1",
        "vBucketServerMap": {
            "hashAlgorithm": "CRC",
            "numReplicas": 0,
            "serverList": [format!("$HOST:{port}")],
            "vBucketMap": vbucket_map,
        },
        // One entry per data node: the SDK decides which nodes hold data by this list.
        "nodes": [{"hostname": format!("$HOST:{MGMT_PORT}"), "ports": {"direct": port}}],
        "nodesExt": [node_ext(port)],
        "clusterCapabilitiesVer": [1, 0],
        "clusterCapabilities": {"n1ql": ["enhancedPreparedStatements"]},
    })
}

/// The error map served by `GET_ERROR_MAP`: valid, and empty, so the SDK falls back to its
/// built-in handling of every status.
pub(crate) fn error_map() -> Value {
    json!({"version": 2, "revision": 1, "errors": {}})
}
