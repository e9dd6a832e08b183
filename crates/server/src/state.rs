//! Shared server state.

use std::sync::Arc;

use meetdesk_store::Store;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::hub::Hub;
use crate::links::Signer;

#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub hub: std::sync::Arc<Hub>,
    pub clock: Clock,
    pub signer: Signer,
    /// This process; meets started here have their media pinned to it.
    pub node_id: String,
    /// Where other nodes reach this one, and the key node-to-node requests are signed with.
    pub cluster: crate::cluster::Cluster,
    /// Base URL for links (meet links, resume links), e.g. `http://127.0.0.1:8780`.
    pub public_url: String,
    pub demo: bool,
    /// Wakes the deadline sweeper when a meet changed.
    pub deadlines_changed: Notify,
    /// Wakes the follow-up notifier when the outbox got an item.
    pub outbox_changed: Notify,
    /// Wakes the call-record retention sweeper (tests, after moving the clock).
    pub history_sweep: Notify,
    /// The meets' audio routed through this node (SFU).
    pub media: crate::media::MediaRouter,
    /// The built customer widget, served at `/widget/*`.
    pub widget_dir: std::path::PathBuf,
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}
