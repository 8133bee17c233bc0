//! The DAG scheduler: an action on a dataset becomes a job, cut into stages at
//! shuffle boundaries; narrow ops between boundaries are pipelined into one stage.

use std::sync::Arc;

use bytes::Bytes;
use spindle_proto::ids::ShuffleId;
use spindle_proto::{Step, TextSplit, step};

use super::lineage::{Lineage, Node, NodeId};

/// What an action does with the final stage's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Bring every record back to `main`.
    Collect,
    /// Count the records.
    Count,
    /// Write text files into this (absolute) directory.
    SaveText { dir: String },
}

impl Action {
    /// The action's name, for progress and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Collect => "collect",
            Action::Count => "count",
            Action::SaveText { .. } => "save-as-text-file",
        }
    }
}

/// Where a stage's tasks read from.
#[derive(Debug, Clone)]
pub enum StageInput {
    /// One text split per task.
    Text(Arc<Vec<TextSplit>>),
    /// One inline batch per task.
    Records(Arc<Vec<Bytes>>),
    /// One reduce partition of a shuffle per task.
    Shuffle(ShuffleId),
}

/// Where a stage's tasks write to.
#[derive(Debug, Clone)]
pub enum StageOutput {
    /// Hash-partitioned buckets of a shuffle.
    Shuffle { shuffle: ShuffleId, partitions: u32 },
    /// The job's action.
    Action(Action),
}

/// One stage: the same steps over every partition of its input.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// The stage's input.
    pub input: StageInput,
    /// Its op chain, in order.
    pub steps: Vec<Step>,
    /// How many tasks.
    pub partitions: u32,
    /// Its output.
    pub output: StageOutput,
}

/// A job: map stages in an order where every stage follows the stages it reads
/// from, then the result stage.
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// Stages producing shuffles, parents first.
    pub map_stages: Vec<StagePlan>,
    /// The stage that performs the action.
    pub result: StagePlan,
}

fn narrow(op: &Bytes) -> Step {
    Step { kind: Some(step::Kind::Narrow(op.to_vec())) }
}

fn combine(op: &Bytes) -> Step {
    Step { kind: Some(step::Kind::Combine(op.to_vec())) }
}

/// A shuffle a stage reads, and what its map side must compute.
struct ShuffleDep {
    shuffle: ShuffleId,
    /// The dataset whose records are shuffled.
    parent: NodeId,
    /// The combine op applied map-side.
    op: Bytes,
    /// Reduce partitions.
    partitions: u32,
}

/// Walks back from `node` over narrow ops to the stage's input. Returns the input,
/// the steps in record order, the partition count, and the shuffle the input
/// depends on.
fn pipeline(lineage: &Lineage, mut node: NodeId) -> (StageInput, Vec<Step>, u32, Option<ShuffleDep>) {
    let mut ops = Vec::new();
    loop {
        match lineage.get(node).expect("lineage node ids are valid") {
            Node::Narrow { parent, op } => {
                ops.push(narrow(op));
                node = *parent;
            }
            Node::Text { splits } => {
                ops.reverse();
                return (StageInput::Text(splits.clone()), ops, splits.len() as u32, None);
            }
            Node::Records { partitions } => {
                ops.reverse();
                return (StageInput::Records(partitions.clone()), ops, partitions.len() as u32, None);
            }
            Node::ReduceByKey { parent, op, partitions, shuffle } => {
                // The reduce side merges the fetched values with the same op.
                ops.push(combine(op));
                ops.reverse();
                let dep = ShuffleDep { shuffle: *shuffle, parent: *parent, op: op.clone(), partitions: *partitions };
                return (StageInput::Shuffle(*shuffle), ops, *partitions, Some(dep));
            }
        }
    }
}

/// Plans the job for `action` on `node`.
pub fn plan_job(lineage: &Lineage, node: NodeId, action: Action) -> JobPlan {
    let (input, steps, partitions, dep) = pipeline(lineage, node);
    let result = StagePlan { input, steps, partitions, output: StageOutput::Action(action) };
    let mut map_stages = Vec::new();
    let mut seen = Vec::new();
    if let Some(dep) = dep {
        add_map_stage(lineage, dep, &mut map_stages, &mut seen);
    }
    JobPlan { map_stages, result }
}

fn add_map_stage(lineage: &Lineage, dep: ShuffleDep, out: &mut Vec<StagePlan>, seen: &mut Vec<ShuffleId>) {
    if seen.contains(&dep.shuffle) {
        return;
    }
    seen.push(dep.shuffle);
    let (input, mut steps, partitions, parent_dep) = pipeline(lineage, dep.parent);
    if let Some(parent_dep) = parent_dep {
        add_map_stage(lineage, parent_dep, out, seen);
    }
    // Map-side combine before the shuffle write.
    steps.push(combine(&dep.op));
    let output = StageOutput::Shuffle { shuffle: dep.shuffle, partitions: dep.partitions };
    out.push(StagePlan { input, steps, partitions, output });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn kinds(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s.kind.as_ref().unwrap() {
                step::Kind::Narrow(o) => format!("n:{}", String::from_utf8_lossy(o)),
                step::Kind::Combine(o) => format!("c:{}", String::from_utf8_lossy(o)),
            })
            .collect()
    }

    #[test]
    fn wordcount_is_two_stages_with_pipelined_narrow_ops() {
        let mut l = Lineage::default();
        let splits = Arc::new(vec![TextSplit::default(); 3]);
        let text = l.push(Node::Text { splits });
        let words = l.push(Node::Narrow { parent: text, op: op("split") });
        let pairs = l.push(Node::Narrow { parent: words, op: op("pair") });
        let shuffle = l.new_shuffle();
        let counts = l.push(Node::ReduceByKey { parent: pairs, op: op("add"), partitions: 5, shuffle });
        let lines = l.push(Node::Narrow { parent: counts, op: op("fmt") });
        let job = plan_job(&l, lines, Action::Count);
        assert_eq!(job.map_stages.len(), 1);
        let map = &job.map_stages[0];
        assert_eq!(kinds(&map.steps), ["n:split", "n:pair", "c:add"]);
        assert_eq!(map.partitions, 3);
        assert!(matches!(map.output, StageOutput::Shuffle { partitions: 5, .. }));
        assert_eq!(kinds(&job.result.steps), ["c:add", "n:fmt"]);
        assert_eq!(job.result.partitions, 5);
        assert!(matches!(job.result.input, StageInput::Shuffle(s) if s == shuffle));
        assert_eq!(l.num_partitions(lines), 5);
    }

    #[test]
    fn chained_shuffles_run_parents_first() {
        let mut l = Lineage::default();
        let src = l.push(Node::Records { partitions: Arc::new(vec![Bytes::new(); 2]) });
        let s1 = l.new_shuffle();
        let r1 = l.push(Node::ReduceByKey { parent: src, op: op("a"), partitions: 4, shuffle: s1 });
        let m = l.push(Node::Narrow { parent: r1, op: op("swap") });
        let s2 = l.new_shuffle();
        let r2 = l.push(Node::ReduceByKey { parent: m, op: op("b"), partitions: 3, shuffle: s2 });
        let job = plan_job(&l, r2, Action::Collect);
        let order: Vec<_> = job
            .map_stages
            .iter()
            .map(|s| match s.output {
                StageOutput::Shuffle { shuffle, .. } => shuffle,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, [s1, s2]);
        assert_eq!(kinds(&job.map_stages[1].steps), ["c:a", "n:swap", "c:b"]);
        assert_eq!(job.map_stages[1].partitions, 4);
    }
}
