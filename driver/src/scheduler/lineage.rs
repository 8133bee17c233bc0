//! The lineage graph: every dataset an application's `main` created, by index,
//! and which of them are persisted.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use spindle_proto::ids::ShuffleId;
use spindle_proto::{StorageLevel, TextSplit};

/// A dataset's index in its application's lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// What the reduce side of a shuffle does with the records it fetched.
#[derive(Debug, Clone)]
pub enum ShuffleKind {
    /// Merge values per key with the op, map-side and reduce-side.
    Combine(Bytes),
    /// One record per key with all its values.
    Group,
    /// Range-partitioned by these bounds and sorted by key bytes.
    Sort {
        /// The upper bounds of every partition but the last.
        bounds: Arc<Vec<Bytes>>,
        /// The order.
        ascending: bool,
    },
    /// Round-robin, records unchanged.
    Repartition,
    /// To the partition each key's first 4 bytes name, records unchanged.
    Prefix,
    /// One record per key over every parent.
    CoGroup,
}

/// How a dataset is computed.
#[derive(Debug, Clone)]
pub enum Node {
    /// Lines of text files, one partition per split.
    Text {
        /// The splits.
        splits: Arc<Vec<TextSplit>>,
    },
    /// Records from `main`, one batch per partition.
    Records {
        /// One batch per partition.
        partitions: Arc<Vec<Bytes>>,
    },
    /// Integers `[start, end)` by `step`, in contiguous runs over `partitions`.
    Range {
        /// The first integer.
        start: i64,
        /// The end, excluded.
        end: i64,
        /// The step.
        step: i64,
        /// The partitions.
        partitions: u32,
    },
    /// A narrow op over the parent, partition by partition.
    Narrow {
        /// The dataset it transforms.
        parent: NodeId,
        /// The guest op, as the SDK encoded it.
        op: Bytes,
    },
    /// The parents' records moved through a shuffle (one per parent).
    Shuffle {
        /// The datasets shuffled (several for a cogroup).
        parents: Vec<NodeId>,
        /// Their shuffles, one per parent.
        shuffles: Vec<ShuffleId>,
        /// What the shuffle does to the records.
        kind: ShuffleKind,
        /// Its reduce partitions.
        partitions: u32,
    },
    /// The partitions of every parent, in order.
    Union {
        /// The datasets, in order.
        parents: Vec<NodeId>,
    },
    /// Runs of neighbouring parent partitions merged, without a shuffle.
    Coalesce {
        /// The dataset coalesced.
        parent: NodeId,
        /// Its partitions after.
        partitions: u32,
    },
}

/// How large a dataset's plan is: the longest chain of datasets it is made
/// from, and the most pipelines one of its partitions' tasks plans (a coalesce
/// of unions multiplies them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The longest chain of datasets.
    pub depth: u32,
    /// The most pipelines one task plans.
    pub pipelines: u64,
}

/// All datasets of one application.
#[derive(Debug, Default)]
pub struct Lineage {
    nodes: Vec<Node>,
    shapes: Vec<Shape>,
    next_shuffle: u64,
    persisted: HashMap<NodeId, StorageLevel>,
}

impl Lineage {
    /// Adds a node; returns its id.
    pub fn push(&mut self, node: Node) -> NodeId {
        let shape = self.shape_of(&node);
        self.nodes.push(node);
        self.shapes.push(shape);
        NodeId(self.nodes.len() as u32 - 1)
    }

    /// The shape a node would have (its parents are in the lineage).
    pub fn shape_of(&self, node: &Node) -> Shape {
        let of = |id: &NodeId| self.shapes[id.0 as usize];
        let deepest = |ids: &[NodeId]| ids.iter().map(|p| of(p).depth).max().unwrap_or(0);
        match node {
            Node::Text { .. } | Node::Records { .. } | Node::Range { .. } => Shape { depth: 1, pipelines: 1 },
            Node::Narrow { parent, .. } => Shape { depth: of(parent).depth + 1, pipelines: of(parent).pipelines },
            Node::Shuffle { parents, .. } => Shape { depth: deepest(parents) + 1, pipelines: 1 },
            Node::Union { parents } => Shape {
                depth: deepest(parents) + 1,
                pipelines: parents.iter().map(|p| of(p).pipelines).max().unwrap_or(1),
            },
            Node::Coalesce { parent, partitions } => {
                let merged = u64::from(self.num_partitions(*parent)).div_ceil(u64::from((*partitions).max(1)));
                Shape { depth: of(parent).depth + 1, pipelines: of(parent).pipelines.saturating_mul(merged.max(1)) }
            }
        }
    }

    /// A fresh shuffle id.
    pub fn new_shuffle(&mut self) -> ShuffleId {
        self.next_shuffle += 1;
        ShuffleId(self.next_shuffle)
    }

    /// The node, if it exists.
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0 as usize)
    }

    /// Marks `id` persisted at `level`.
    pub fn persist(&mut self, id: NodeId, level: StorageLevel) {
        self.persisted.insert(id, level);
    }

    /// Unmarks `id`; whether it was persisted.
    pub fn unpersist(&mut self, id: NodeId) -> bool {
        self.persisted.remove(&id).is_some()
    }

    /// The level `id` is persisted at, if it is.
    pub fn level(&self, id: NodeId) -> Option<StorageLevel> {
        self.persisted.get(&id).copied()
    }

    /// How many partitions the dataset has.
    pub fn num_partitions(&self, id: NodeId) -> u32 {
        match &self.nodes[id.0 as usize] {
            Node::Text { splits } => splits.len() as u32,
            Node::Records { partitions } => partitions.len() as u32,
            Node::Range { partitions, .. } | Node::Shuffle { partitions, .. } | Node::Coalesce { partitions, .. } => {
                *partitions
            }
            Node::Narrow { parent, .. } => self.num_partitions(*parent),
            Node::Union { parents } => parents.iter().map(|p| self.num_partitions(*p)).sum(),
        }
    }
}
