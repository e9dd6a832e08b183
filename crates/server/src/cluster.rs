//! Nodes on one PostgreSQL: each records where other nodes reach it (`nodes` table, beaten every
//! [`BEAT_EVERY`]), and a device's media offer that reaches a node other than the one carrying
//! its meet is forwarded there, node to node, signed with a key every node reads from the
//! database. A carrying node that stopped beating, or that cannot be reached, is taken for
//! dead: the node the offer reached takes the meet's media over ([`meets::move_media`]), and
//! the devices' next offers connect to it.
//!
//! Clients never see any of this: they send every request to whichever node they talk to (a
//! load balancer may pick any) and get the carrying node's answer; the media itself flows
//! between the device and the carrying node's UDP address, which its SDP answer names.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use meetdesk_store::{meets, nodes};
use sha2::Sha256;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// How often a node records that it still runs.
pub const BEAT_EVERY: Duration = Duration::from_secs(2);
/// A node not seen for this long is taken for dead (five missed beats).
pub const DEAD_AFTER_MS: i64 = 10_000;
/// Nodes not seen for a day are forgotten.
const FORGET_AFTER_MS: i64 = 24 * 3_600_000;
/// A forwarded offer waits for the far node's answer (it gathers candidates first).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(15);
/// A signature older than this (or this far in the future) is refused.
const SIGNATURE_WINDOW_MS: i64 = 60_000;

/// Marks a request forwarded by another node: `FROM;TO;AT_MS;SIGNATURE`.
pub const NODE_HEADER: &str = "x-meetdesk-node";

/// This node's side of the cluster: its URL, the shared key, an HTTP client for other nodes.
pub struct Cluster {
    url: String,
    key: Vec<u8>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Cluster {
    pub fn new(url: String, key: &[u8]) -> anyhow::Result<Cluster> {
        let http = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            // A fresh connection per forward: offers are rare (one per join), and a pooled
            // connection could outlive the node it was opened to.
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Cluster { url: url.trim_end_matches('/').to_owned(), key: key.to_vec(), http })
    }

    /// The base URL other nodes reach this one at.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn mac(&self, from: &str, to: &str, at_ms: i64, target: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(format!("{from}\n{to}\n{at_ms}\n{target}").as_bytes());
        mac
    }

    /// The [`NODE_HEADER`] value for a request from `from` to `to` about `target` (a path).
    pub fn sign(&self, from: &str, to: &str, at_ms: i64, target: &str) -> String {
        let sig = B64.encode(self.mac(from, to, at_ms, target).finalize().into_bytes());
        format!("{from};{to};{at_ms};{sig}")
    }

    /// Checks a [`NODE_HEADER`] value meant for node `me`; returns the sending node.
    pub fn verify(&self, value: &str, me: &str, now_ms: i64, target: &str) -> AppResult<String> {
        let bad = || AppError::unauthorized("bad_node_signature", "The node-to-node signature is not valid.");
        let mut parts = value.splitn(4, ';');
        let (Some(from), Some(to), Some(at), Some(sig)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let at_ms: i64 = at.parse().map_err(|_| bad())?;
        if to != me || (now_ms - at_ms).abs() > SIGNATURE_WINDOW_MS {
            return Err(bad());
        }
        let given = B64.decode(sig).map_err(|_| bad())?;
        // Constant-time comparison: the MAC's own verify.
        self.mac(from, to, at_ms, target).verify_slice(&given).map_err(|_| bad())?;
        Ok(from.to_owned())
    }
}

/// The node that forwarded this request, when one did (its signature checked).
pub fn forwarded_by(state: &AppState, headers: &HeaderMap, target: &str) -> AppResult<Option<String>> {
    let Some(value) = headers.get(NODE_HEADER) else { return Ok(None) };
    let value = value.to_str().map_err(|_| {
        AppError::unauthorized("bad_node_signature", "The node-to-node signature is not valid.")
    })?;
    state.cluster.verify(value, &state.node_id, state.clock.now_ms(), target).map(Some)
}

/// What became of a request sent on to the node carrying a meet.
pub enum Forward {
    /// That node answered (any status): its answer, to hand back as is.
    Answered(Response),
    /// That node is dead or unreachable.
    NodeDown,
}

/// Sends `body` as a POST to `path` on node `node_id`, with the caller's `Authorization`
/// header (the far node authorises the caller itself) and this node's signature.
pub async fn forward_post(
    state: &AppState,
    node_id: &str,
    path: &str,
    authorization: Option<&HeaderValue>,
    body: &serde_json::Value,
) -> AppResult<Forward> {
    let now = state.clock.now_ms();
    let node = {
        let mut db = state.store.read_conn().await?;
        nodes::get(&mut db, node_id).await?
    };
    let Some(node) = node.filter(|n| n.last_seen >= now - DEAD_AFTER_MS) else {
        tracing::info!(node_id, "the meet's media node stopped beating");
        return Ok(Forward::NodeDown);
    };
    let mut req = state
        .cluster
        .http
        .post(format!("{}{path}", node.url))
        .header(NODE_HEADER, state.cluster.sign(&state.node_id, node_id, now, path))
        .json(body);
    if let Some(auth) = authorization {
        req = req.header(axum::http::header::AUTHORIZATION, auth.clone());
    }
    let answer = match req.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(node_id, url = %node.url, error = %e, "the meet's media node cannot be reached");
            return Ok(Forward::NodeDown);
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(node_id, error = %e, "the meet's media node broke off its answer");
            return Ok(Forward::NodeDown);
        }
    };
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(Forward::Answered(response))
}

/// Takes the media of `meet_id` over from the dead node `from`. Returns false when another
/// node moved it first (the caller reads the meet again).
pub async fn take_over(state: &AppState, meet_id: &str, from: &str) -> AppResult<bool> {
    let mut db = state.store.conn().await?;
    let moved = meets::move_media(&mut db, meet_id, from, &state.node_id).await?;
    if moved {
        tracing::warn!(meet_id, from, to = %state.node_id, "took a meet's media over from a dead node");
    }
    Ok(moved)
}

/// Records this node as running every [`BEAT_EVERY`]; forgets nodes gone for a day.
pub async fn beat(state: AppState) {
    let mut tick = tokio::time::interval(BEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = state.clock.now_ms();
        match state.store.conn().await {
            Ok(mut db) => {
                if let Err(e) = nodes::beat(&mut db, &state.node_id, state.cluster.url(), now).await {
                    tracing::warn!(error = %e, "could not record this node as running");
                }
                let _ = nodes::sweep(&mut db, now - FORGET_AFTER_MS).await;
            }
            Err(e) => tracing::warn!(error = %e, "could not record this node as running"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cluster(key: &[u8]) -> Cluster {
        Cluster::new("http://127.0.0.1:1/".into(), key).unwrap()
    }

    #[test]
    fn a_signature_holds_for_its_nodes_target_and_minute_only() {
        let c = cluster(b"k");
        let path = "/api/meets/m1/media";
        let v = c.sign("node_a", "node_b", 1_000_000, path);
        assert_eq!(c.verify(&v, "node_b", 1_000_500, path).unwrap(), "node_a");
        assert!(c.verify(&v, "node_c", 1_000_500, path).is_err(), "meant for another node");
        assert!(c.verify(&v, "node_b", 1_000_500, "/api/meets/m2/media").is_err(), "another meet");
        assert!(c.verify(&v, "node_b", 1_000_000 + SIGNATURE_WINDOW_MS + 1, path).is_err(), "too old");
        assert!(cluster(b"other").verify(&v, "node_b", 1_000_500, path).is_err(), "another key");
        let forged = v.replacen("node_a", "node_x", 1);
        assert!(c.verify(&forged, "node_b", 1_000_500, path).is_err(), "sender changed");
        for junk in ["", ";;;", "a;b;c;d", "node_a;node_b;1000000;!!"] {
            assert!(c.verify(junk, "node_b", 1_000_500, path).is_err(), "{junk}");
        }
        assert_eq!(c.url(), "http://127.0.0.1:1");
    }
}
