//! Reading one reduce partition: local buckets straight from the block store (memory
//! or disk), remote ones streamed from peers over gRPC in large chunks.
//!
//! Fetches are bounded in flight, as Spark's `maxSizeInFlight`: a reduce task reads
//! one peer's stream at a time, and a peer serving it reads its buckets (from
//! memory or disk) only [`SERVE_AHEAD`] messages of about 1 MiB ahead of what the
//! stream has sent, so neither side holds a whole block.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spindle_proto::auth::{AuthChannel, Credentials};
use spindle_proto::executor_client::ExecutorClient;
use spindle_proto::ids::{AppId, ShuffleId};
use spindle_proto::tls::Tls;
use spindle_proto::{FetchShuffleRequest, MapLocation, ShuffleChunk};
use tonic::transport::Channel;

use crate::blocks::{BucketReader, MapKey};
use crate::{Executor, ExecutorError};

/// Cached gRPC channels to peer executors, carrying the cluster secret.
#[derive(Debug, Default)]
pub struct PeerClients {
    channels: Mutex<HashMap<String, Channel>>,
    credentials: Credentials,
    tls: Tls,
}

impl PeerClients {
    /// Peers reached with `credentials`, over `tls`.
    pub fn new(credentials: Credentials, tls: Tls) -> Self {
        PeerClients { channels: Mutex::default(), credentials, tls }
    }

    /// A client for the executor at `address` (`host:port`), reusing its channel.
    pub fn client(&self, executor: &str, address: &str) -> Result<ExecutorClient<AuthChannel>, ExecutorError> {
        let mut channels = self.channels.lock().expect("peer channel lock");
        let channel = match channels.get(address) {
            Some(c) => c.clone(),
            None => {
                let c = self
                    .tls
                    .endpoint(&self.tls.url(address))
                    .map_err(|e| ExecutorError::Fetch {
                        executor: executor.into(),
                        address: address.into(),
                        reason: e.to_string(),
                        unreachable: true,
                    })?
                    .connect_lazy();
                channels.insert(address.to_string(), c.clone());
                c
            }
        };
        Ok(ExecutorClient::new(self.credentials.clone().channel(channel))
            .max_decoding_message_size(spindle_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES))
    }
}

/// One peer's share of a reduce partition.
struct Remote {
    executor: String,
    address: String,
    map_ids: Vec<u32>,
}

/// A fetch error from a peer: a `NotFound` answer means the peer is alive but
/// lacks the block; anything else, that it could not be reached.
fn fetch_error(executor: &str, address: &str, status: &tonic::Status) -> ExecutorError {
    ExecutorError::Fetch {
        executor: executor.to_string(),
        address: address.to_string(),
        reason: status.message().to_string(),
        unreachable: status.code() != tonic::Code::NotFound,
    }
}

/// Streams the chunks of one reduce partition: local ones first, then each peer's.
pub struct ShuffleReader {
    exec: Arc<Executor>,
    app: AppId,
    shuffle: ShuffleId,
    reduce: u32,
    local: VecDeque<u32>,
    remotes: VecDeque<Remote>,
    /// The local bucket being read.
    bucket: Option<BucketReader>,
    /// The peer being read: (executor id, address, its chunk stream).
    stream: Option<(String, String, tonic::Streaming<ShuffleChunk>)>,
}

impl ShuffleReader {
    /// A reader of reduce partition `reduce` of `shuffle`, from the map outputs
    /// at `maps` (its own executor's read locally, the others' over gRPC).
    pub fn new(exec: Arc<Executor>, app: AppId, shuffle: ShuffleId, reduce: u32, maps: &[MapLocation]) -> Self {
        let me = exec.id();
        let mut local = VecDeque::new();
        let mut by_peer: HashMap<(&str, &str), Vec<u32>> = HashMap::new();
        for m in maps {
            if m.executor_id == me {
                local.push_back(m.map_id);
            } else {
                by_peer.entry((&m.executor_id, &m.address)).or_default().push(m.map_id);
            }
        }
        let remotes = by_peer
            .into_iter()
            .map(|((executor, address), map_ids)| Remote {
                executor: executor.to_string(),
                address: address.to_string(),
                map_ids,
            })
            .collect();
        ShuffleReader { exec, app, shuffle, reduce, local, remotes, bucket: None, stream: None }
    }

    /// The executor reading.
    pub fn executor(&self) -> &Arc<Executor> {
        &self.exec
    }

    /// The shuffle being read.
    pub fn shuffle(&self) -> ShuffleId {
        self.shuffle
    }

    /// The next non-empty chunk of framed records, `None` when all are read.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ExecutorError> {
        loop {
            if let Some(bucket) = &mut self.bucket {
                match bucket.next_chunk() {
                    Ok(Some(c)) => return Ok(Some(c)),
                    Ok(None) => self.bucket = None,
                    Err(source) => {
                        return Err(ExecutorError::Spill {
                            path: format!("shuffle {} on local disk", self.shuffle),
                            source,
                        });
                    }
                }
                continue;
            }
            if let Some(map) = self.local.pop_front() {
                let key = MapKey { app: self.app.clone(), shuffle: self.shuffle, map };
                let bucket = self.exec.blocks.bucket(&key, self.reduce).ok_or_else(|| ExecutorError::MissingBlock {
                    executor: self.exec.id(),
                    block: format!("{key}_{}", self.reduce),
                })?;
                self.bucket = Some(bucket);
                continue;
            }
            if let Some((executor, address, stream)) = &mut self.stream {
                match stream.message().await {
                    Ok(Some(chunk)) => {
                        if !chunk.data.is_empty() {
                            crate::metrics::shuffle_fetched(chunk.data.len());
                            return Ok(Some(chunk.data.into()));
                        }
                        continue;
                    }
                    Ok(None) => self.stream = None,
                    Err(status) => return Err(fetch_error(executor, address, &status)),
                }
                continue;
            }
            let Some(remote) = self.remotes.pop_front() else { return Ok(None) };
            let mut client = self.exec.peers.client(&remote.executor, &remote.address)?;
            let req = FetchShuffleRequest {
                app_id: self.app.0.clone(),
                shuffle_id: self.shuffle.0,
                reduce_partition: self.reduce,
                map_ids: remote.map_ids,
            };
            let stream = client
                .fetch_shuffle(req)
                .await
                .map_err(|s| fetch_error(&remote.executor, &remote.address, &s))?
                .into_inner();
            self.stream = Some((remote.executor, remote.address, stream));
        }
    }
}

/// Messages a peer's fetch reads ahead of what its stream has sent.
pub const SERVE_AHEAD: usize = 2;

/// Serves a peer's fetch: the chunks of the named buckets, coalesced into messages
/// of about 1 MiB, read from memory or disk as the stream is sent. Every bucket
/// is checked first, so a missing one is an error before anything is sent.
pub fn serve_fetch(
    exec: &Arc<Executor>,
    req: FetchShuffleRequest,
) -> Result<tokio::sync::mpsc::Receiver<Result<ShuffleChunk, tonic::Status>>, ExecutorError> {
    const MESSAGE: usize = 1 << 20;
    let app = AppId(req.app_id.clone());
    let shuffle = ShuffleId(req.shuffle_id);
    let mut buckets = Vec::with_capacity(req.map_ids.len());
    for &map in &req.map_ids {
        let key = MapKey { app: app.clone(), shuffle, map };
        let bucket = exec.blocks.bucket(&key, req.reduce_partition).ok_or_else(|| ExecutorError::MissingBlock {
            executor: exec.id(),
            block: format!("{key}_{}", req.reduce_partition),
        })?;
        buckets.push((map, bucket));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(SERVE_AHEAD);
    // Disk reads block: on the blocking pool, each message sent when the stream
    // has room for it.
    tokio::task::spawn_blocking(move || {
        for (map, mut bucket) in buckets {
            let mut data = Vec::new();
            loop {
                let chunk = match bucket.next_chunk() {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(tonic::Status::internal(format!(
                            "reading shuffle {shuffle} map {map} from local disk: {e}"
                        ))));
                        return;
                    }
                };
                if !data.is_empty() && data.len() + chunk.len() > MESSAGE {
                    let msg = ShuffleChunk { map_id: map, data: std::mem::take(&mut data) };
                    if tx.blocking_send(Ok(msg)).is_err() {
                        return; // The reader went away.
                    }
                }
                data.extend_from_slice(&chunk);
            }
            if !data.is_empty() && tx.blocking_send(Ok(ShuffleChunk { map_id: map, data })).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}
