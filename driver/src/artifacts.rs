//! The artifact store: component bytes, named by their blake3 hash, kept in memory
//! for executors to pull.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use spindle_sandbox::ArtifactHash;

/// Stored components.
#[derive(Debug, Default)]
pub struct ArtifactStore {
    artifacts: Mutex<HashMap<ArtifactHash, Bytes>>,
}

impl ArtifactStore {
    /// Stores bytes under their hash (idempotent) and returns the hash.
    pub fn put(&self, bytes: Bytes) -> ArtifactHash {
        let hash = ArtifactHash::of(&bytes);
        self.artifacts.lock().expect("artifact store lock").entry(hash).or_insert(bytes);
        hash
    }

    /// The bytes named `hash`.
    pub fn get(&self, hash: &ArtifactHash) -> Option<Bytes> {
        self.artifacts.lock().expect("artifact store lock").get(hash).cloned()
    }
}
