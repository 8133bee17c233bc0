//! The DAG scheduler: an action on a dataset becomes a job, cut into stages at
//! shuffle boundaries; narrow ops between boundaries are pipelined into one stage.
//!
//! A task computes one partition as a *pipeline* (an input and the steps its
//! records go through) writing to the task's output: a union's partition is its
//! parent's; a coalesced partition is one pipeline whose input is the pipelines
//! of its parent partitions, one after the other, so the steps after the
//! coalesce run once over all of them. Each step carries the partition of its
//! own dataset that it computes, which is what partition-aware ops see.
//! Where a pipeline passes a persisted dataset, a cache point names the block
//! holding the records at that step, so the executor can start from the block
//! (a hit) or keep it (a miss).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use spindle_proto::ids::ShuffleId;
use spindle_proto::{CachePoint, ReduceMode, Step, TextSplit, step};

use super::lineage::{Lineage, Node, NodeId, ShuffleKind};

/// What an action does with the final stage's records.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Bring every record back to `main`.
    Collect,
    /// Count the records.
    Count,
    /// Write text files into this (absolute) directory.
    SaveText(super::commit::TextOutput),
    /// Bring the first `n` records back, scanning partitions a few at a time.
    Take {
        /// How many records.
        n: u64,
    },
    /// Sample up to `per_partition` keys of each partition (range bounds of a sort).
    SampleKeys {
        /// Keys sampled per partition, at most.
        per_partition: u32,
        /// The samplers' seed (partition `p` uses `seed + p`).
        seed: u64,
    },
}

impl Action {
    /// The action's name, for progress and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Collect => "collect",
            Action::Count => "count",
            Action::SaveText(_) => "save-as-text-file",
            Action::Take { .. } => "take",
            Action::SampleKeys { .. } => "sort-sample",
        }
    }
}

/// Where one pipeline reads from.
#[derive(Debug, Clone)]
pub enum PipeInput {
    /// The lines of one split of a text file.
    Text(TextSplit),
    /// Records shipped with the task (a `parallelize` partition).
    Records(Bytes),
    /// `count` integers from `start` by `step`.
    Range {
        /// The first.
        start: i64,
        /// The step between them.
        step: i64,
        /// How many.
        count: u64,
    },
    /// Reduce partition `partition` of these shuffles (one per cogroup side),
    /// arranged by `mode`. It is the shuffled dataset's partition, which a union
    /// or coalesce above it maps the task's partition to.
    Shuffle {
        /// The shuffles, one per side.
        shuffles: Vec<ShuffleId>,
        /// The reduce partition.
        partition: u32,
        /// How the host arranges the fetched records.
        mode: ReduceMode,
    },
    /// The records of these pipelines, one after the other: a partition that
    /// coalesces several, so that the steps after the coalesce run once over
    /// all of them (a per-partition op sees the whole coalesced partition).
    Concat(Vec<PipePlan>),
}

/// One pipeline of a task.
#[derive(Debug, Clone)]
pub struct PipePlan {
    /// Where it reads.
    pub input: PipeInput,
    /// The guest ops its records pass through, in order.
    pub steps: Vec<Step>,
    /// Where, between steps, partitions are kept (persisted datasets).
    pub caches: Vec<CachePoint>,
}

/// How a map stage spreads records over reduce partitions.
#[derive(Debug, Clone)]
pub enum Partitioner {
    /// By the documented hash of the key bytes (`partition_of`).
    Hash,
    /// By key ranges (a sort's).
    Range {
        /// The upper bounds of every partition but the last, ascending.
        bounds: Arc<Vec<Bytes>>,
        /// Whether partition 0 takes the largest keys.
        descending: bool,
    },
    /// In turn, from a per-task starting point (`repartition`).
    RoundRobin,
    /// By the partition number the key's first 4 bytes give.
    Prefix,
}

/// Where a stage's tasks write to.
#[derive(Debug, Clone)]
pub enum StageOutput {
    /// Buckets of a shuffle.
    Shuffle {
        /// The shuffle.
        shuffle: ShuffleId,
        /// Its reduce partitions.
        partitions: u32,
        /// How records find theirs.
        partitioner: Partitioner,
    },
    /// The job's action.
    Action(Action),
}

/// One stage: one task per partition, each a list of pipelines.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// The pipelines of each partition's task.
    pub tasks: Vec<Vec<PipePlan>>,
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

/// A narrow step computing partition `partition` of its dataset.
fn narrow(op: &Bytes, partition: u32) -> Step {
    Step { kind: Some(step::Kind::Narrow(op.to_vec())), partition }
}

/// A combine step computing partition `partition` of its dataset.
fn combine(op: &Bytes, partition: u32) -> Step {
    Step { kind: Some(step::Kind::Combine(op.to_vec())), partition }
}

/// A shuffle a stage reads, and what its map side must compute.
struct ShuffleDep {
    shuffle: ShuffleId,
    /// The dataset whose records are shuffled.
    parent: NodeId,
    /// Applied map-side before the write.
    combine: Option<Bytes>,
    partitions: u32,
    partitioner: Partitioner,
}

/// The `p`-th of `parts` contiguous runs of `count` items: (first, len).
pub fn run_of(count: u64, parts: u32, p: u32) -> (u64, u64) {
    let lo = (u128::from(count) * u128::from(p) / u128::from(parts)) as u64;
    let hi = (u128::from(count) * u128::from(p + 1) / u128::from(parts)) as u64;
    (lo, hi - lo)
}

/// Appends the pipelines of partition `p` of `node` to `out`.
fn pipes(l: &Lineage, node: NodeId, p: u32, out: &mut Vec<PipePlan>) {
    let before = out.len();
    let plain = |input| PipePlan { input, steps: Vec::new(), caches: Vec::new() };
    match l.get(node).expect("lineage node ids are valid") {
        Node::Text { splits } => out.push(plain(PipeInput::Text(splits[p as usize].clone()))),
        Node::Records { partitions } => out.push(plain(PipeInput::Records(partitions[p as usize].clone()))),
        Node::Range { start, end, step, partitions } => {
            let count = range_len(*start, *end, *step);
            let (first, len) = run_of(count, *partitions, p);
            let start = (i128::from(*start) + i128::from(first) * i128::from(*step)) as i64;
            out.push(plain(PipeInput::Range { start, step: *step, count: len }));
        }
        Node::Narrow { parent, op } => {
            pipes(l, *parent, p, out);
            for pipe in &mut out[before..] {
                pipe.steps.push(narrow(op, p));
            }
        }
        Node::Shuffle { shuffles, kind, .. } => {
            let mode = match kind {
                ShuffleKind::Combine(_) => ReduceMode::Combine,
                ShuffleKind::Repartition | ShuffleKind::Prefix => ReduceMode::AsFetched,
                ShuffleKind::Group => ReduceMode::Group,
                ShuffleKind::Sort { ascending: true, .. } => ReduceMode::SortAscending,
                ShuffleKind::Sort { ascending: false, .. } => ReduceMode::SortDescending,
                ShuffleKind::CoGroup => ReduceMode::Cogroup,
            };
            let steps = match kind {
                // The reduce side merges the fetched values with the same op.
                ShuffleKind::Combine(op) => vec![combine(op, p)],
                _ => Vec::new(),
            };
            let input = PipeInput::Shuffle { shuffles: shuffles.clone(), partition: p, mode };
            out.push(PipePlan { input, steps, caches: Vec::new() });
        }
        Node::Union { parents } => {
            let mut q = p;
            for parent in parents {
                let n = l.num_partitions(*parent);
                if q < n {
                    pipes(l, *parent, q, out);
                    break;
                }
                q -= n;
            }
        }
        Node::Coalesce { parent, partitions } => {
            let m = l.num_partitions(*parent);
            let (first, len) = run_of(u64::from(m), *partitions, p);
            let mut merged = Vec::new();
            for q in first..first + len {
                pipes(l, *parent, q as u32, &mut merged);
            }
            if merged.len() == 1 {
                out.append(&mut merged);
            } else {
                out.push(plain(PipeInput::Concat(merged)));
            }
        }
    }
    if let Some(level) = l.level(node) {
        for (piece, pipe) in out[before..].iter_mut().enumerate() {
            pipe.caches.push(CachePoint {
                after: pipe.steps.len() as u32,
                dataset: node.0,
                partition: p,
                piece: piece as u32,
                level: level as i32,
            });
        }
    }
}

/// How many integers `range(start, end, step)` yields (`step` is not 0).
pub fn range_len(start: i64, end: i64, step: i64) -> u64 {
    let (span, step) = if step > 0 {
        (i128::from(end) - i128::from(start), i128::from(step))
    } else {
        (i128::from(start) - i128::from(end), -i128::from(step))
    };
    if span <= 0 { 0 } else { ((span + step - 1) / step) as u64 }
}

/// The shuffles `node` reads without crossing another shuffle.
fn deps(l: &Lineage, node: NodeId, seen: &mut HashSet<NodeId>, out: &mut Vec<ShuffleDep>) {
    if !seen.insert(node) {
        return;
    }
    match l.get(node).expect("lineage node ids are valid") {
        Node::Text { .. } | Node::Records { .. } | Node::Range { .. } => {}
        Node::Narrow { parent, .. } | Node::Coalesce { parent, .. } => deps(l, *parent, seen, out),
        Node::Union { parents } => {
            for p in parents {
                deps(l, *p, seen, out);
            }
        }
        Node::Shuffle { parents, shuffles, kind, partitions } => {
            let partitioner = match kind {
                ShuffleKind::Sort { bounds, ascending } => {
                    Partitioner::Range { bounds: bounds.clone(), descending: !ascending }
                }
                ShuffleKind::Repartition => Partitioner::RoundRobin,
                ShuffleKind::Prefix => Partitioner::Prefix,
                _ => Partitioner::Hash,
            };
            let combine = match kind {
                ShuffleKind::Combine(op) => Some(op.clone()),
                _ => None,
            };
            for (parent, shuffle) in parents.iter().zip(shuffles) {
                out.push(ShuffleDep {
                    shuffle: *shuffle,
                    parent: *parent,
                    combine: combine.clone(),
                    partitions: *partitions,
                    partitioner: partitioner.clone(),
                });
            }
        }
    }
}

/// The pipelines of each partition of `node`. A coalesced partition with no
/// steps after the coalesce (it is the stage's last dataset) is its parent
/// pipelines, each straight into the task's output: nothing needs them as one
/// stream, and each streams on its own.
fn stage_tasks(l: &Lineage, node: NodeId) -> Vec<Vec<PipePlan>> {
    (0..l.num_partitions(node))
        .map(|p| {
            let mut out = Vec::new();
            pipes(l, node, p, &mut out);
            match out.pop() {
                Some(PipePlan { input: PipeInput::Concat(parents), steps, caches })
                    if steps.is_empty() && caches.is_empty() =>
                {
                    parents
                }
                Some(pipe) => {
                    out.push(pipe);
                    out
                }
                None => out,
            }
        })
        .collect()
}

/// Plans the job for `action` on `node`.
pub fn plan_job(lineage: &Lineage, node: NodeId, action: Action) -> JobPlan {
    let tasks = stage_tasks(lineage, node);
    let result = StagePlan { partitions: tasks.len() as u32, tasks, output: StageOutput::Action(action) };
    let mut map_stages = Vec::new();
    let mut planned = HashSet::new();
    let mut direct = Vec::new();
    deps(lineage, node, &mut HashSet::new(), &mut direct);
    for dep in direct {
        add_map_stage(lineage, dep, &mut map_stages, &mut planned);
    }
    JobPlan { map_stages, result }
}

fn add_map_stage(l: &Lineage, dep: ShuffleDep, out: &mut Vec<StagePlan>, planned: &mut HashSet<ShuffleId>) {
    if !planned.insert(dep.shuffle) {
        return;
    }
    let mut parents = Vec::new();
    deps(l, dep.parent, &mut HashSet::new(), &mut parents);
    for parent in parents {
        add_map_stage(l, parent, out, planned);
    }
    let mut tasks = stage_tasks(l, dep.parent);
    if let Some(op) = &dep.combine {
        // Map-side combine before the shuffle write.
        for (p, task) in tasks.iter_mut().enumerate() {
            for pipe in task {
                pipe.steps.push(combine(op, p as u32));
            }
        }
    }
    let output =
        StageOutput::Shuffle { shuffle: dep.shuffle, partitions: dep.partitions, partitioner: dep.partitioner };
    out.push(StagePlan { partitions: tasks.len() as u32, tasks, output });
}

#[cfg(test)]
mod tests {
    use spindle_proto::StorageLevel;

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

    fn reduce(l: &mut Lineage, parent: NodeId, name: &str, partitions: u32) -> (NodeId, ShuffleId) {
        let s = l.new_shuffle();
        let n = l.push(Node::Shuffle {
            parents: vec![parent],
            shuffles: vec![s],
            kind: ShuffleKind::Combine(op(name)),
            partitions,
        });
        (n, s)
    }

    #[test]
    fn wordcount_is_two_stages_with_pipelined_narrow_ops() {
        let mut l = Lineage::default();
        let splits = Arc::new(vec![TextSplit::default(); 3]);
        let text = l.push(Node::Text { splits });
        let words = l.push(Node::Narrow { parent: text, op: op("split") });
        let pairs = l.push(Node::Narrow { parent: words, op: op("pair") });
        let (counts, shuffle) = reduce(&mut l, pairs, "add", 5);
        let lines = l.push(Node::Narrow { parent: counts, op: op("fmt") });
        let job = plan_job(&l, lines, Action::Count);
        assert_eq!(job.map_stages.len(), 1);
        let map = &job.map_stages[0];
        assert_eq!(kinds(&map.tasks[0][0].steps), ["n:split", "n:pair", "c:add"]);
        assert_eq!(map.partitions, 3);
        assert!(matches!(map.output, StageOutput::Shuffle { partitions: 5, .. }));
        assert_eq!(kinds(&job.result.tasks[4][0].steps), ["c:add", "n:fmt"]);
        assert_eq!(job.result.partitions, 5);
        assert!(matches!(&job.result.tasks[0][0].input, PipeInput::Shuffle { shuffles, .. } if shuffles == &[shuffle]));
        assert_eq!(l.num_partitions(lines), 5);
    }

    #[test]
    fn chained_shuffles_run_parents_first() {
        let mut l = Lineage::default();
        let src = l.push(Node::Records { partitions: Arc::new(vec![Bytes::new(); 2]) });
        let (r1, s1) = reduce(&mut l, src, "a", 4);
        let m = l.push(Node::Narrow { parent: r1, op: op("swap") });
        let (r2, s2) = reduce(&mut l, m, "b", 3);
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
        assert_eq!(kinds(&job.map_stages[1].tasks[0][0].steps), ["c:a", "n:swap", "c:b"]);
        assert_eq!(job.map_stages[1].partitions, 4);
    }

    #[test]
    fn unions_and_coalesces_map_partitions_to_parent_pipelines() {
        let mut l = Lineage::default();
        let a = l.push(Node::Records { partitions: Arc::new(vec![Bytes::from_static(b"a"); 2]) });
        let b = l.push(Node::Range { start: 0, end: 10, step: 1, partitions: 3 });
        let u = l.push(Node::Union { parents: vec![a, b] });
        assert_eq!(l.num_partitions(u), 5);
        let c = l.push(Node::Coalesce { parent: u, partitions: 2 });
        // The coalesce as the stage's last dataset: its parents' pipelines, each
        // into the output.
        let job = plan_job(&l, c, Action::Count);
        let shape: Vec<usize> = job.result.tasks.iter().map(Vec::len).collect();
        assert_eq!(shape, [2, 3]);
        let f = l.push(Node::Narrow { parent: c, op: op("f") });
        let job = plan_job(&l, f, Action::Count);
        assert!(job.map_stages.is_empty());
        assert!(job.result.tasks.iter().all(|t| t.len() == 1), "one pipeline a task");
        let concat = |p: &PipePlan| match &p.input {
            PipeInput::Concat(pipes) => pipes.clone(),
            other => panic!("a coalesced partition reads its parents' pipelines, not {other:?}"),
        };
        let (first, second) = (concat(&job.result.tasks[0][0]), concat(&job.result.tasks[1][0]));
        assert_eq!((first.len(), second.len()), (2, 3));
        // The step after the coalesce runs once over the merged partition, as partition 1.
        assert_eq!(kinds(&job.result.tasks[1][0].steps), ["n:f"]);
        assert_eq!(job.result.tasks[1][0].steps[0].partition, 1);
        let ranges: Vec<(i64, u64)> = second
            .iter()
            .filter_map(|p| match p.input {
                PipeInput::Range { start, count, .. } => Some((start, count)),
                _ => None,
            })
            .collect();
        assert_eq!(ranges, [(0, 3), (3, 3), (6, 4)]);
    }

    #[test]
    fn steps_and_shuffle_reads_see_their_own_datasets_partitions() {
        let mut l = Lineage::default();
        let src = l.push(Node::Records { partitions: Arc::new(vec![Bytes::new(); 4]) });
        let (r, s) = reduce(&mut l, src, "add", 4);
        let m = l.push(Node::Narrow { parent: r, op: op("m") });
        let u = l.push(Node::Union { parents: vec![m, m] });
        let c = l.push(Node::Coalesce { parent: u, partitions: 3 });
        let f = l.push(Node::Narrow { parent: c, op: op("f") });
        let job = plan_job(&l, f, Action::Collect);
        // Partition 2 of the coalesce merges union partitions 5, 6 and 7:
        // partitions 1, 2 and 3 of the second `m`, reading reduce partitions 1-3.
        let PipeInput::Concat(pipes) = &job.result.tasks[2][0].input else { panic!("a merged partition") };
        let reads: Vec<(u32, u32)> = pipes
            .iter()
            .map(|p| match &p.input {
                PipeInput::Shuffle { shuffles, partition, .. } if shuffles == &[s] => {
                    (*partition, p.steps[1].partition)
                }
                other => panic!("a shuffle read, not {other:?}"),
            })
            .collect();
        assert_eq!(reads, [(1, 1), (2, 2), (3, 3)]);
        assert_eq!(job.map_stages[0].tasks[3][0].steps[0].partition, 3, "the map-side combine of map task 3");
    }

    #[test]
    fn persisted_datasets_get_cache_points_after_their_steps() {
        let mut l = Lineage::default();
        let src = l.push(Node::Records { partitions: Arc::new(vec![Bytes::new(); 2]) });
        let m = l.push(Node::Narrow { parent: src, op: op("m") });
        l.persist(m, StorageLevel::MemoryAndDisk);
        let f = l.push(Node::Narrow { parent: m, op: op("f") });
        let job = plan_job(&l, f, Action::Count);
        let pipe = &job.result.tasks[1][0];
        assert_eq!(kinds(&pipe.steps), ["n:m", "n:f"]);
        assert_eq!(pipe.caches.len(), 1);
        assert_eq!((pipe.caches[0].after, pipe.caches[0].dataset, pipe.caches[0].partition), (1, m.0, 1));
        assert_eq!(pipe.caches[0].level, StorageLevel::MemoryAndDisk as i32);
    }

    #[test]
    fn cogroup_reads_one_shuffle_per_parent() {
        let mut l = Lineage::default();
        let a = l.push(Node::Records { partitions: Arc::new(vec![Bytes::new(); 2]) });
        let b = l.push(Node::Records { partitions: Arc::new(vec![Bytes::new(); 3]) });
        let (s1, s2) = (l.new_shuffle(), l.new_shuffle());
        let g = l.push(Node::Shuffle {
            parents: vec![a, b],
            shuffles: vec![s1, s2],
            kind: ShuffleKind::CoGroup,
            partitions: 4,
        });
        let job = plan_job(&l, g, Action::Collect);
        let maps: Vec<u32> = job.map_stages.iter().map(|s| s.partitions).collect();
        assert_eq!(maps, [2, 3]);
        assert!(matches!(
            &job.result.tasks[3][0].input,
            PipeInput::Shuffle { shuffles, mode: ReduceMode::Cogroup, .. } if shuffles == &[s1, s2]
        ));
    }

    #[test]
    fn range_lengths() {
        assert_eq!(range_len(0, 10, 3), 4);
        assert_eq!(range_len(10, 0, -3), 4);
        assert_eq!(range_len(0, 0, 1), 0);
        assert_eq!(range_len(5, 0, 1), 0);
        assert_eq!(range_len(i64::MIN, i64::MAX, 1), u64::MAX);
        assert_eq!(run_of(10, 3, 2), (6, 4));
    }
}
