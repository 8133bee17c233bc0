//! The lineage graph: every dataset an application's `main` created, by index.

use std::sync::Arc;

use bytes::Bytes;
use spindle_proto::TextSplit;
use spindle_proto::ids::ShuffleId;

/// A dataset's index in its application's lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub u32);

/// How a dataset is computed.
#[derive(Debug, Clone)]
pub enum Node {
    /// Lines of text files, one partition per split.
    Text { splits: Arc<Vec<TextSplit>> },
    /// Records from `main`, one batch per partition.
    Records { partitions: Arc<Vec<Bytes>> },
    /// A narrow op over the parent, partition by partition.
    Narrow { parent: NodeId, op: Bytes },
    /// Values merged per key across the whole parent, through a shuffle.
    ReduceByKey { parent: NodeId, op: Bytes, partitions: u32, shuffle: ShuffleId },
}

/// All datasets of one application.
#[derive(Debug, Default)]
pub struct Lineage {
    nodes: Vec<Node>,
    next_shuffle: u64,
}

impl Lineage {
    /// Adds a node; returns its id.
    pub fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        NodeId(self.nodes.len() as u32 - 1)
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

    /// How many partitions the dataset has.
    pub fn num_partitions(&self, mut id: NodeId) -> u32 {
        loop {
            match &self.nodes[id.0 as usize] {
                Node::Text { splits } => return splits.len() as u32,
                Node::Records { partitions } => return partitions.len() as u32,
                Node::Narrow { parent, .. } => id = *parent,
                Node::ReduceByKey { partitions, .. } => return *partitions,
            }
        }
    }
}
