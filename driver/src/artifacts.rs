//! The artifact store: component bytes, named by their blake3 hash, kept in memory
//! for executors to pull. A component is pinned while an application runs it;
//! past the byte budget, unpinned components are dropped, least recently
//! submitted first (a later submission of the same bytes stores them again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spindle_sandbox::ArtifactHash;

/// Stored components.
#[derive(Debug)]
pub struct ArtifactStore {
    budget: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<ArtifactHash, Entry>,
    bytes: u64,
    /// Ticks at every store or pin: orders entries by last use.
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    bytes: Bytes,
    /// Running applications using it.
    users: u32,
    last_used: u64,
}

/// An application's hold on its component: the component stays stored until
/// every hold on it is dropped.
#[derive(Debug)]
pub struct ArtifactPin {
    store: Arc<ArtifactStore>,
    hash: ArtifactHash,
}

impl Drop for ArtifactPin {
    fn drop(&mut self) {
        let mut inner = self.store.inner.lock().expect("artifact store lock");
        if let Some(e) = inner.entries.get_mut(&self.hash) {
            e.users = e.users.saturating_sub(1);
        }
        let evicted = inner.evict(self.store.budget);
        drop(inner);
        log_evicted(&evicted);
    }
}

impl ArtifactPin {
    /// The pinned component's hash.
    pub fn hash(&self) -> ArtifactHash {
        self.hash
    }
}

impl Inner {
    /// Drops unpinned entries, least recently used first, until within `budget`;
    /// returns the hashes dropped.
    fn evict(&mut self, budget: u64) -> Vec<ArtifactHash> {
        let mut dropped = Vec::new();
        while self.bytes > budget {
            let victim =
                self.entries.iter().filter(|(_, e)| e.users == 0).min_by_key(|(_, e)| e.last_used).map(|(h, _)| *h);
            let Some(hash) = victim else { break };
            let e = self.entries.remove(&hash).expect("the victim is stored");
            self.bytes -= e.bytes.len() as u64;
            dropped.push(hash);
        }
        dropped
    }
}

fn log_evicted(hashes: &[ArtifactHash]) {
    for h in hashes {
        tracing::info!(artifact = %h, "stored component dropped: over the component budget and no application runs it");
    }
}

impl ArtifactStore {
    /// An empty store keeping up to `budget` bytes of components no application runs.
    pub fn new(budget: u64) -> Arc<Self> {
        Arc::new(ArtifactStore { budget, inner: Mutex::default() })
    }

    /// Stores bytes under `hash`, their hash (`ArtifactHash::of(&bytes)`, which
    /// the caller has already computed), idempotently, and pins them for one
    /// application. Returns the pin and the hashes dropped to stay within budget.
    pub fn put_pinned(self: &Arc<Self>, hash: ArtifactHash, bytes: Bytes) -> (ArtifactPin, Vec<ArtifactHash>) {
        let mut inner = self.inner.lock().expect("artifact store lock");
        inner.clock += 1;
        let now = inner.clock;
        let len = bytes.len() as u64;
        let added = !inner.entries.contains_key(&hash);
        let e = inner.entries.entry(hash).or_insert(Entry { bytes, users: 0, last_used: now });
        e.users += 1;
        e.last_used = now;
        if added {
            inner.bytes += len;
        }
        let evicted = inner.evict(self.budget);
        drop(inner);
        log_evicted(&evicted);
        (ArtifactPin { store: self.clone(), hash }, evicted)
    }

    /// Pins a stored component for one more application, if it is still stored.
    pub fn pin(self: &Arc<Self>, hash: &ArtifactHash) -> Option<ArtifactPin> {
        let mut inner = self.inner.lock().expect("artifact store lock");
        inner.clock += 1;
        let now = inner.clock;
        let e = inner.entries.get_mut(hash)?;
        e.users += 1;
        e.last_used = now;
        Some(ArtifactPin { store: self.clone(), hash: *hash })
    }

    /// The bytes named `hash`.
    pub fn get(&self, hash: &ArtifactHash) -> Option<Bytes> {
        self.inner.lock().expect("artifact store lock").entries.get(hash).map(|e| e.bytes.clone())
    }

    /// (components, bytes) stored.
    pub fn usage(&self) -> (usize, u64) {
        let inner = self.inner.lock().expect("artifact store lock");
        (inner.entries.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpinned_components_are_dropped_oldest_first_past_the_budget() {
        let store = ArtifactStore::new(10);
        let put = |c: u8| {
            let bytes = Bytes::from(vec![c; 4]);
            store.put_pinned(ArtifactHash::of(&bytes), bytes)
        };
        let (a, _) = put(1);
        let (b, _) = put(2);
        let (c, evicted) = put(3);
        assert!(evicted.is_empty(), "all three are in use: kept over the budget");
        assert_eq!(store.usage(), (3, 12));
        let (a_hash, b_hash, c_hash) = (a.hash(), b.hash(), c.hash());
        drop(b);
        assert!(store.get(&b_hash).is_none(), "an unused component past the budget is dropped");
        drop(a);
        assert!(store.get(&a_hash).is_some(), "within the budget again: kept");
        // The same bytes again: stored once, pinned twice.
        let (c2, _) = put(3);
        assert_eq!(store.usage(), (2, 8));
        let (d, evicted) = put(4);
        assert_eq!(evicted, vec![a_hash], "the least recently used unpinned component goes");
        drop((c, c2, d));
        assert!(store.get(&c_hash).is_some() && store.pin(&c_hash).is_some());
    }
}
