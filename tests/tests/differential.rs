//! The differential test of the dataset API: random programs composed of every
//! operation, run by Spindle and by the reference interpreter in
//! `spindle_tests::differential`, answers compared exactly (as multisets only
//! where the API leaves order open). A failure prints its seed and a shrunk
//! program. Long runs: `SPINDLE_FUZZ_SEED=N SPINDLE_FUZZ_CASES=M cargo nextest
//! run -E 'test(random_programs)'`.
//!
//! Also the regressions the generator first found, as fixed programs.

use anyhow::Result;
use spindle_tests::Cluster;
use spindle_tests::differential::program::{Action, Ask, Fun, Merge, Node, Program, V};
use spindle_tests::differential::{Runner, Target, differential, seed_and_cases};

#[test]
fn random_programs_match_the_reference_in_local_mode() -> Result<()> {
    let (seed, cases) = seed_and_cases(500)?;
    let mut runner = Runner::new(Target::Local { slots: 2 })?;
    differential(&mut runner, seed, cases, 8)
}

#[test]
fn random_programs_match_the_reference_on_a_cluster() -> Result<()> {
    let (seed, cases) = seed_and_cases(100)?;
    let cluster = Cluster::start(2, 2)?;
    let mut runner = Runner::new(Target::Cluster { cluster: &cluster, slots: 4 })?;
    differential(&mut runner, seed ^ 0x5eed, cases, 8)
}

fn ask(on: usize, action: Action) -> Ask {
    Ask { on, action }
}

/// `range_with(0, 1000, 1, 4).map(|x| (x % 97, 1)).reduce_by_key(+)`, as the
/// first three datasets of a program.
fn reduced() -> Vec<Node> {
    vec![
        Node::Range { start: 0, end: 1000, step: 1, parts: 4 },
        Node::ToPairs { of: 0, f: Fun::Pair(Box::new(Fun::Mod(97)), Box::new(Fun::Mod(1))) },
        Node::ReduceByKey { of: 1, merge: Merge::Sum, parts: 0 },
    ]
}

fn with(mut nodes: Vec<Node>, more: Vec<Node>, asks: Vec<Ask>) -> Program {
    nodes.extend(more);
    Program { nodes, asks }
}

/// Each program of the bug report, run in both modes.
fn regressions() -> Vec<Program> {
    let six = Node::Parallelize { items: (1..=6).map(V::I).collect(), parts: 3 };
    vec![
        // A union or coalesce after a shuffle read the task's own index as the
        // reduce partition.
        with(reduced(), vec![Node::Coalesce { of: 2, parts: 1 }], vec![ask(3, Action::Collect), ask(3, Action::Count)]),
        with(reduced(), vec![Node::Coalesce { of: 2, parts: 3 }], vec![ask(3, Action::Collect)]),
        with(reduced(), vec![Node::Union { of: 2, other: 2 }], vec![ask(3, Action::Count), ask(3, Action::Collect)]),
        with(
            reduced(),
            vec![Node::ReduceByKey { of: 1, merge: Merge::Max, parts: 3 }, Node::Union { of: 2, other: 3 }],
            vec![ask(4, Action::Collect)],
        ),
        with(
            reduced(),
            vec![Node::GroupByKey { of: 1, parts: 0 }, Node::Coalesce { of: 3, parts: 2 }],
            vec![ask(4, Action::Count)],
        ),
        with(
            reduced(),
            vec![Node::SortByKey { of: 1, ascending: true, parts: 0 }, Node::Coalesce { of: 3, parts: 2 }],
            vec![ask(4, Action::Count), ask(4, Action::Collect)],
        ),
        with(
            reduced(),
            vec![Node::SortByKey { of: 1, ascending: false, parts: 0 }, Node::Coalesce { of: 3, parts: 3 }],
            vec![ask(4, Action::SaveAndRead), ask(4, Action::Collect)],
        ),
        // Partition-aware ops saw the task's partition, not their dataset's.
        with(
            vec![six.clone()],
            vec![Node::Union { of: 0, other: 0 }, Node::WithIndex { of: 1, count: false }],
            vec![ask(2, Action::Collect)],
        ),
        with(
            vec![six.clone()],
            vec![Node::WithIndex { of: 0, count: false }, Node::Coalesce { of: 1, parts: 1 }],
            vec![ask(2, Action::Collect)],
        ),
        with(
            vec![Node::Range { start: 0, end: 40000, step: 1, parts: 4 }],
            vec![Node::Sample { of: 0, replace: false, fraction: 0.01, seed: 7 }, Node::Coalesce { of: 1, parts: 1 }],
            vec![ask(2, Action::Count), ask(1, Action::Count), ask(2, Action::Collect)],
        ),
        // A partition-wise op after a coalesce ran once per merged partition;
        // parents with steps of their own now stream into it (also cut short
        // by a take, and through kept partitions on either side).
        with(
            vec![six.clone()],
            vec![
                Node::Map { of: 0, f: Fun::Add(1) },
                Node::Coalesce { of: 1, parts: 1 },
                Node::WithIndex { of: 2, count: true },
            ],
            vec![ask(3, Action::Collect), ask(2, Action::Take(2)), ask(3, Action::Take(1))],
        ),
        with(
            vec![Node::Range { start: 0, end: 50000, step: 1, parts: 5 }],
            vec![
                Node::Map { of: 0, f: Fun::Mod(7) },
                Node::Persist { of: 1, level: 0 },
                Node::Coalesce { of: 2, parts: 2 },
                Node::WithIndex { of: 3, count: false },
                Node::Persist { of: 4, level: 1 },
            ],
            vec![
                ask(5, Action::Count),
                ask(5, Action::CountByValue),
                ask(5, Action::Take(3)),
                ask(3, Action::NumPartitions),
            ],
        ),
        // An empty input file, and an empty directory, are empty datasets.
        with(
            vec![Node::Text { path: "empty.txt".into(), min_parts: 0, names: false, lossy: false }],
            vec![
                Node::ToPairs { of: 0, f: Fun::Pair(Box::new(Fun::Snd), Box::new(Fun::Mod(1))) },
                Node::ReduceByKey { of: 1, merge: Merge::Sum, parts: 0 },
            ],
            vec![ask(2, Action::SaveAndRead), ask(2, Action::Count), ask(0, Action::NumPartitions)],
        ),
        with(
            vec![Node::Text { path: "emptydir".into(), min_parts: 0, names: false, lossy: false }],
            vec![Node::GroupByKey { of: 0, parts: 0 }],
            vec![ask(1, Action::Collect), ask(0, Action::NumPartitions), ask(1, Action::SaveAndRead)],
        ),
    ]
}

fn check_regressions(runner: &mut Runner<'_>) -> Result<()> {
    let bad = runner.mismatches(&regressions())?;
    if let Some(first) = bad.first() {
        anyhow::bail!("{} of the regression programs give wrong answers; the first:\n{first}", bad.len());
    }
    Ok(())
}

#[test]
fn composed_datasets_that_gave_wrong_answers_now_match_the_reference_in_local_mode() -> Result<()> {
    check_regressions(&mut Runner::new(Target::Local { slots: 2 })?)
}

#[test]
fn composed_datasets_that_gave_wrong_answers_now_match_the_reference_on_a_cluster() -> Result<()> {
    let cluster = Cluster::start(2, 2)?;
    check_regressions(&mut Runner::new(Target::Cluster { cluster: &cluster, slots: 4 })?)
}

/// Runs the program in `SPINDLE_FUZZ_PROGRAM` (JSON, as a failure prints it) in
/// local mode and shows what Spindle and the reference give: for debugging.
#[test]
#[ignore = "runs the program SPINDLE_FUZZ_PROGRAM names"]
fn one_program() -> Result<()> {
    let text = std::env::var("SPINDLE_FUZZ_PROGRAM")?;
    let program: Program = serde_json::from_str(&text)?;
    let mut runner = Runner::new(Target::Local { slots: 2 })?;
    match runner.mismatches(std::slice::from_ref(&program))?.pop() {
        Some(m) => anyhow::bail!("{m}"),
        None => Ok(()),
    }
}
