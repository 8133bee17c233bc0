//! The differential test of the dataset API: random programs ([`generate`])
//! run by Spindle (the `fuzz-job` guest, in local mode or on a cluster) and by
//! an in-memory [`reference`] interpreter, their answers compared ([`check`]);
//! a failing program is shrunk ([`shrink`]) to a small one that still fails.

#[path = "../../guests/fuzz/src/program.rs"]
pub mod program;

pub mod check;
pub mod expect;
pub mod generate;
pub mod reference;
pub mod shrink;

use std::path::PathBuf;
use std::process::Output;

use anyhow::{Context, Result, bail};

use crate::Cluster;
use expect::Expect;
use program::{Answer, Program};
use reference::{Env, Files};

/// Programs per `spindle run` or `submit`: one compile and start-up serves them all.
pub const BATCH: usize = 25;

/// Where programs run.
pub enum Target<'a> {
    /// `spindle run` with this many slots.
    Local { slots: u32 },
    /// `spindle submit` to a running cluster of this many slots in all.
    Cluster { cluster: &'a Cluster, slots: u32 },
}

/// Runs batches of programs on Spindle and computes what they must give.
pub struct Runner<'a> {
    target: Target<'a>,
    component: PathBuf,
    data: tempfile::TempDir,
    out: tempfile::TempDir,
    cache: tempfile::TempDir,
    batches: u64,
    /// What the reference knows of the cluster and the inputs.
    pub env: Env,
}

/// A program whose answers differ from the reference's.
#[derive(Debug)]
pub struct Mismatch {
    pub program: Program,
    pub answers: Vec<Answer>,
    pub expected: Vec<Expect>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "program (JSON, as the fuzz guest reads it):\n{}",
            serde_json::to_string(&self.program).unwrap_or_default()
        )?;
        for (i, node) in self.program.nodes.iter().enumerate() {
            writeln!(f, "  d{i} = {node:?}")?;
        }
        for (i, ask) in self.program.asks.iter().enumerate() {
            let ok = match (self.answers.get(i), self.expected.get(i)) {
                (Some(a), Some(e)) => check::meets(a, e),
                _ => false,
            };
            writeln!(f, "  ask {i}: {:?} of d{} {}", ask.action, ask.on, if ok { "ok" } else { "WRONG" })?;
            writeln!(f, "    spindle:   {}", cut(format!("{:?}", self.answers.get(i))))?;
            writeln!(f, "    reference: {}", cut(format!("{:?}", self.expected.get(i))))?;
        }
        Ok(())
    }
}

/// `text`, or its start and end around a marker where it is long.
fn cut(text: String) -> String {
    const KEEP: usize = 1500;
    if text.len() <= 2 * KEEP {
        return text;
    }
    let mut head = KEEP;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - KEEP;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{} [... {} bytes ...] {}", &text[..head], tail - head, &text[tail..])
}

impl<'a> Runner<'a> {
    /// A runner with the test's input files (from `seed`) written out.
    pub fn new(target: Target<'a>) -> Result<Runner<'a>> {
        let data = tempfile::tempdir()?;
        let files = generate::files(7);
        std::fs::create_dir(data.path().join("emptydir"))?;
        std::fs::create_dir(data.path().join("bad"))?;
        for (name, text) in &files {
            std::fs::write(data.path().join(name), text)?;
        }
        let parallelism = match &target {
            Target::Local { slots } | Target::Cluster { slots, .. } => *slots,
        };
        let dir = data.path().display().to_string();
        Ok(Runner {
            target,
            component: crate::example("fuzz-job"),
            data,
            out: tempfile::tempdir()?,
            cache: tempfile::tempdir()?,
            batches: 0,
            env: Env { parallelism, max_split: 128 << 20, files: Files(files), dir },
        })
    }

    fn spindle(&mut self, programs: &[Program]) -> Result<Output> {
        self.batches += 1;
        let out = self.out.path().join(format!("batch-{}", self.batches));
        let mut args = vec![self.data.path().display().to_string(), out.display().to_string()];
        for p in programs {
            args.push(serde_json::to_string(p)?);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match &self.target {
            Target::Local { slots } => crate::run_local(&self.component, *slots, self.cache.path(), &args),
            Target::Cluster { cluster, .. } => cluster.submit(&self.component, &args),
        }
    }

    /// Runs `programs` in one application; each program's answers, or why the
    /// application gave none for it.
    pub fn run(&mut self, programs: &[Program]) -> Result<Vec<Result<Vec<Answer>, String>>> {
        let out = self.spindle(programs)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut answers: Vec<Result<Vec<Answer>, String>> = programs
            .iter()
            .map(|_| Err(format!("the application printed no answer for it: {}", crate::describe(&out))))
            .collect();
        for line in stdout.lines() {
            let Some(rest) = line.strip_prefix("program ") else { continue };
            let Some((i, json)) = rest.split_once(": ") else { continue };
            let i: usize = i.parse().context("program number")?;
            if i < answers.len() {
                answers[i] = serde_json::from_str(json).map_err(|e| format!("unreadable answer {json}: {e}"));
            }
        }
        Ok(answers)
    }

    /// The programs of `programs` that do not give what the reference expects,
    /// with what they gave.
    pub fn mismatches(&mut self, programs: &[Program]) -> Result<Vec<Mismatch>> {
        let mut bad = Vec::new();
        for chunk in programs.chunks(BATCH) {
            let got = self.run(chunk)?;
            for (program, answers) in chunk.iter().zip(got) {
                let expected = expect::expectations(program, &self.env).context("a generated program is not a test")?;
                let answers = match answers {
                    Ok(a) => a,
                    Err(e) => program.asks.iter().map(|_| Err(e.clone())).collect(),
                };
                let ok =
                    answers.len() == expected.len() && answers.iter().zip(&expected).all(|(a, e)| check::meets(a, e));
                if !ok {
                    bad.push(Mismatch { program: program.clone(), answers, expected });
                }
            }
        }
        Ok(bad)
    }

    /// Whether `program` fails (is a test and gives other answers than expected).
    fn fails(&mut self, candidates: &[Program]) -> Result<Option<Mismatch>> {
        let tests: Vec<Program> = candidates
            .iter()
            .filter(|p| expect::expectations_within(p, &self.env, expect::MAX_ELEMENTS).is_some())
            .cloned()
            .collect();
        Ok(self.mismatches(&tests)?.into_iter().next())
    }

    /// The smallest failing program found from `failing` by [`shrink::candidates`],
    /// trying each round's candidates in one batch.
    pub fn shrink(&mut self, failing: Mismatch, max_rounds: usize) -> Result<Mismatch> {
        let mut best = failing;
        for _ in 0..max_rounds {
            let candidates = shrink::candidates(&best.program);
            let mut improved = false;
            for chunk in candidates.chunks(BATCH) {
                if let Some(m) = self.fails(chunk)? {
                    best = m;
                    improved = true;
                    break;
                }
            }
            if !improved {
                break;
            }
        }
        Ok(best)
    }
}

/// `SPINDLE_FUZZ_SEED` and `SPINDLE_FUZZ_CASES`, or the defaults.
pub fn seed_and_cases(default_cases: usize) -> Result<(u64, usize)> {
    let seed = match std::env::var("SPINDLE_FUZZ_SEED") {
        Ok(s) => s.parse().with_context(|| format!("SPINDLE_FUZZ_SEED={s} is not a number"))?,
        Err(_) => 20261206,
    };
    let cases = match std::env::var("SPINDLE_FUZZ_CASES") {
        Ok(s) => s.parse().with_context(|| format!("SPINDLE_FUZZ_CASES={s} is not a number"))?,
        Err(_) => default_cases,
    };
    Ok((seed, cases))
}

/// Generates `cases` programs from `seed` and runs them; fails with the first
/// mismatch, shrunk, and the seed that reproduces it.
pub fn differential(runner: &mut Runner<'_>, seed: u64, cases: usize, max_nodes: usize) -> Result<()> {
    let mut done = 0;
    let started = std::time::Instant::now();
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let name = |debug: String| debug.split([' ', '(', '{']).next().unwrap_or_default().to_string();
    while done < cases {
        // Each batch has its own seed, so a failure reproduces with one batch.
        let batch_seed = seed.wrapping_add(done as u64);
        let mut generator = generate::Gen::new(batch_seed);
        let n = BATCH.min(cases - done);
        let programs: Vec<Program> = (0..n).map(|_| generator.program(&runner.env, max_nodes)).collect();
        for p in &programs {
            for node in &p.nodes {
                *seen.entry(name(format!("{node:?}"))).or_default() += 1;
            }
            for ask in &p.asks {
                *seen.entry(name(format!("{:?}", ask.action))).or_default() += 1;
            }
        }
        let bad = runner.mismatches(&programs)?;
        if let Some(first) = bad.into_iter().next() {
            let small = runner.shrink(first, 40)?;
            bail!(
                "a program gave other answers than the reference (batch seed {batch_seed}: rerun with \
                 SPINDLE_FUZZ_SEED={batch_seed} SPINDLE_FUZZ_CASES={n}); shrunk:\n{small}"
            );
        }
        done += n;
    }
    eprintln!("{done} programs matched the reference in {:.1} s (seed {seed})", started.elapsed().as_secs_f64());
    let mix: Vec<String> = seen.iter().map(|(k, n)| format!("{k} {n}")).collect();
    eprintln!("operations and actions generated: {}", mix.join(", "));
    Ok(())
}
