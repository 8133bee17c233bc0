//! The reference interpreter: a program's datasets computed in memory, partition
//! by partition, from the semantics the API documents (`docs/datasets.md`,
//! `wit/job.wit`), sharing no code with the driver's planner or the executors.
//!
//! A partition is a sequence of *runs*: the order between runs is specified,
//! the order inside a run is not (the records a shuffle gathers, or the equal keys
//! of a sort). Where the API leaves partition boundaries open (the ranges a sort
//! samples), a dataset is only known as one sequence of runs ([`Layout::Seq`]).

pub use super::expect::MAX_ELEMENTS;
use super::program::{JoinKind, Kind, Node, V};

/// Elements whose order among themselves is unspecified.
pub type Run = Vec<V>;

/// What the reference knows of a dataset's partitions.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// Every partition, in order.
    Parts(Vec<Vec<Run>>),
    /// The elements in partition order, but not where partitions start;
    /// their number, where known.
    Seq { runs: Vec<Run>, parts: Option<u32> },
}

/// A dataset as the reference computed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub kind: Kind,
    pub layout: Layout,
}

impl Data {
    fn parts(kind: Kind, parts: Vec<Vec<Run>>) -> Data {
        Data { kind, layout: Layout::Parts(parts) }
    }

    /// The number of partitions, if known.
    pub fn num_parts(&self) -> Option<u32> {
        match &self.layout {
            Layout::Parts(p) => Some(p.len() as u32),
            Layout::Seq { parts, .. } => *parts,
        }
    }

    /// Every run, in partition order.
    pub fn runs(&self) -> Vec<Run> {
        match &self.layout {
            Layout::Parts(p) => p.iter().flatten().cloned().collect(),
            Layout::Seq { runs, .. } => runs.clone(),
        }
    }

    /// Every element.
    pub fn elements(&self) -> Vec<V> {
        self.runs().into_iter().flatten().collect()
    }

    pub fn len(&self) -> usize {
        self.runs().iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every partition is known and in a specified order.
    pub fn ordered_parts(&self) -> bool {
        matches!(&self.layout, Layout::Parts(p) if p.iter().flatten().all(|r| r.len() <= 1))
    }

    /// Each element through `f` (which may drop it or make several), keeping
    /// partitions and runs.
    fn each(&self, kind: Kind, f: impl Fn(V) -> Vec<V>) -> Data {
        let run = |r: &Run| -> Run { r.iter().cloned().flat_map(&f).collect() };
        let runs = |rs: &[Run]| -> Vec<Run> { rs.iter().map(run).filter(|r| !r.is_empty()).collect() };
        let layout = match &self.layout {
            Layout::Parts(p) => Layout::Parts(p.iter().map(|rs| runs(rs)).collect()),
            Layout::Seq { runs: rs, parts } => Layout::Seq { runs: runs(rs), parts: *parts },
        };
        Data { kind, layout }
    }

    /// The same dataset as the guest's `pairs()` sees it: plain elements split
    /// into `P(key, value)`.
    pub(super) fn as_pairs(&self) -> Data {
        match self.kind {
            Kind::Pairs => self.clone(),
            Kind::Plain => self.each(Kind::Pairs, |v| vec![to_pair(v)]),
        }
    }

    /// The same dataset as the guest's `plain()` sees it.
    fn as_plain(&self) -> Data {
        Data { kind: Kind::Plain, layout: self.layout.clone() }
    }
}

fn to_pair(v: V) -> V {
    let (k, v) = v.split();
    V::pair(k, v)
}

fn key_of(v: &V) -> &V {
    match v {
        V::P(k, _) => k,
        other => other,
    }
}

fn value_of(v: &V) -> &V {
    match v {
        V::P(_, v) => v,
        other => other,
    }
}

/// The SDK's encoding of a value nested inside another (`wit/job.wit`): the
/// variant index, then its fields.
pub fn encode(v: &V, out: &mut Vec<u8>) {
    match v {
        V::I(x) => {
            out.extend_from_slice(&0u32.to_be_bytes());
            out.extend_from_slice(&((*x as u64) ^ (1 << 63)).to_be_bytes());
        }
        V::S(s) => {
            out.extend_from_slice(&1u32.to_be_bytes());
            for &b in s.as_bytes() {
                out.push(b);
                if b == 0 {
                    out.push(0xff);
                }
            }
            out.extend_from_slice(&[0, 1]);
        }
        V::P(a, b) => {
            out.extend_from_slice(&2u32.to_be_bytes());
            encode(a, out);
            encode(b, out);
        }
        V::L(xs) => {
            out.extend_from_slice(&3u32.to_be_bytes());
            for x in xs {
                out.push(1);
                encode(x, out);
            }
            out.push(0);
        }
        V::N => out.extend_from_slice(&4u32.to_be_bytes()),
    }
}

fn encoded(parts: &[&V]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in parts {
        encode(v, &mut out);
    }
    out
}

/// 64-bit FNV-1a, the documented shuffle hash.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Elements spread over `n` partitions by the hash of their key bytes, each
/// partition one run (a shuffle's order is unspecified).
fn hash_parts(kind: Kind, keyed: Vec<(Vec<u8>, V)>, n: u32) -> Data {
    let mut parts: Vec<Run> = vec![Vec::new(); n as usize];
    for (key, v) in keyed {
        parts[(fnv1a64(&key) % u64::from(n)) as usize].push(v);
    }
    Data::parts(kind, parts.into_iter().map(|r| if r.is_empty() { vec![] } else { vec![r] }).collect())
}

/// A shuffle into `n` partitions (unknown: only the elements are known).
fn shuffled(kind: Kind, keyed: Vec<(Vec<u8>, V)>, n: Option<u32>) -> Data {
    match n {
        Some(n) => hash_parts(kind, keyed, n),
        None => {
            let all: Run = keyed.into_iter().map(|(_, v)| v).collect();
            let runs = if all.is_empty() { vec![] } else { vec![all] };
            Data { kind, layout: Layout::Seq { runs, parts: None } }
        }
    }
}

/// The partitions of a shuffle: `asked`, or the most its inputs have (at least 1).
fn shuffle_parts(asked: u32, inputs: &[&Data]) -> Option<u32> {
    if asked > 0 {
        return Some(asked);
    }
    let mut most = 1;
    for d in inputs {
        most = most.max(d.num_parts()?);
    }
    Some(most)
}

/// The `p`-th of `parts` contiguous runs of `count` items: (first, len).
fn run_of(count: u64, parts: u32, p: u32) -> (u64, u64) {
    let lo = (u128::from(count) * u128::from(p) / u128::from(parts)) as u64;
    let hi = (u128::from(count) * u128::from(p + 1) / u128::from(parts)) as u64;
    (lo, hi - lo)
}

fn singletons(items: impl IntoIterator<Item = V>) -> Vec<Run> {
    items.into_iter().map(|v| vec![v]).collect()
}

/// The sampler the SDK documents for `sample`: SplitMix64 seeded with
/// `seed ^ partition * 0x9e3779b97f4a7c15`, one draw per element.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0u32, 1.0);
        loop {
            p *= self.next_f64();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

/// The input files of a run: `(name, content)`, the name relative to the
/// data directory (`bad/x` is in its subdirectory `bad`).
#[derive(Debug, Clone)]
pub struct Files(pub Vec<(String, Vec<u8>)>);

impl Files {
    /// The files a text source's path names ("" = the directory, or a
    /// subdirectory's name), sorted; names starting with `.` or `_` are not
    /// inputs of a directory, nor are subdirectories.
    fn named(&self, path: &str) -> Vec<&(String, Vec<u8>)> {
        let visible = |n: &str| !n.starts_with('.') && !n.starts_with('_');
        let in_dir = |n: &str, dir: &str| match dir {
            "" => !n.contains('/') && visible(n),
            _ => n
                .strip_prefix(dir)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| !rest.contains('/') && visible(rest)),
        };
        let mut files: Vec<&(String, Vec<u8>)> = self.0.iter().filter(|(n, _)| n == path || in_dir(n, path)).collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files
    }
}

/// Text as a job reads it: bytes that are not UTF-8 as U+FFFD.
fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The lines whose first byte lies in `[start, end)` of `text`, `\r` before
/// `\n` dropped.
fn lines_in(bytes: &[u8], start: u64, end: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let stop = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i);
        if (at as u64) >= start && (at as u64) < end {
            let line = &bytes[at..stop];
            out.push(text_of(line.strip_suffix(b"\r").unwrap_or(line)));
        }
        at = stop + 1;
    }
    out
}

/// How the reference computes: the cluster's default parallelism, the largest
/// text split, the input files and the directory they are in.
#[derive(Debug, Clone)]
pub struct Env {
    pub parallelism: u32,
    pub max_split: u64,
    pub files: Files,
    pub dir: String,
}

impl Env {
    /// A file's path as a job sees it.
    fn path_of(&self, name: &str) -> V {
        V::S(format!("{}/{name}", self.dir))
    }

    /// Text partitions: splits of about equal size (at least `min` of them in
    /// all, a multiple of `min`), the last of a file up to a tenth longer;
    /// lines, or with `names` pairs of the file's path and a line.
    fn text(&self, path: &str, min: u32, names: bool) -> Data {
        let files = self.files.named(path);
        let total: u64 = files.iter().map(|f| f.1.len() as u64).sum();
        let min = u64::from(if min == 0 { self.parallelism } else { min }.max(1));
        let splits = total.div_ceil(self.max_split).max(min).div_ceil(min) * min;
        let goal = total.div_ceil(splits).max(1);
        let mut parts = Vec::new();
        for (name, text) in &files {
            let len = text.len() as u64;
            let mut start = 0;
            while start < len {
                let end = if len - start <= goal + goal / 10 { len } else { start + goal };
                let lines = lines_in(text, start, end).into_iter().map(V::S);
                parts.push(singletons(lines.map(|l| if names { V::pair(self.path_of(name), l) } else { l })));
                start = end;
            }
        }
        if parts.is_empty() && !files.is_empty() {
            parts.push(Vec::new());
        }
        Data::parts(if names { Kind::Pairs } else { Kind::Plain }, parts)
    }

    /// One partition a file, holding `(path, content)`.
    fn whole_files(&self, path: &str) -> Data {
        let parts = self
            .files
            .named(path)
            .iter()
            .map(|(name, text)| vec![vec![V::pair(self.path_of(name), V::S(text_of(text)))]])
            .collect();
        Data::parts(Kind::Pairs, parts)
    }
}

/// Evaluates `node` over the datasets before it; `None` where the result is
/// not determined by the API (a partition-aware op over partitions whose
/// boundaries or order are open), so the program is not a test.
pub fn eval(node: &Node, done: &[Data], env: &Env) -> Option<Data> {
    use Node::*;
    if node.inputs().iter().any(|&i| i >= done.len()) {
        return None;
    }
    let d = |i: &usize| &done[*i];
    Some(match node {
        Parallelize { items, parts } => {
            let p = if *parts == 0 { env.parallelism } else { *parts } as usize;
            let n = items.len();
            Data::parts(Kind::Plain, (0..p).map(|i| singletons(items[i * n / p..(i + 1) * n / p].to_vec())).collect())
        }
        Range { start, end, step, parts } => {
            let count = range_len(*start, *end, *step);
            let p = if *parts == 0 { env.parallelism } else { *parts };
            let parts = (0..p)
                .map(|i| {
                    let (first, len) = run_of(count, p, i);
                    singletons(
                        (first..first + len)
                            .map(|k| V::I((i128::from(*start) + i128::from(k) * i128::from(*step)) as i64)),
                    )
                })
                .collect();
            Data::parts(Kind::Plain, parts)
        }
        Text { path, min_parts, names, .. } => env.text(path, *min_parts, *names),
        WholeTextFiles { path, .. } => env.whole_files(path),
        Map { of, f } => {
            let src = d(of);
            let kind = src.kind;
            src.each(kind, |v| {
                let out = f.apply(v);
                vec![if kind == Kind::Pairs { to_pair(out) } else { out }]
            })
        }
        Filter { of, p } => d(of).each(d(of).kind, |v| if p.test(&v) { vec![v] } else { vec![] }),
        FlatMap { of, f } => {
            let kind = d(of).kind;
            d(of).each(kind, |v| {
                f.apply(v).into_iter().map(|x| if kind == Kind::Pairs { to_pair(x) } else { x }).collect()
            })
        }
        WithIndex { of, count } => {
            let Layout::Parts(parts) = &d(of).layout else { return None };
            let parts = parts
                .iter()
                .enumerate()
                .map(|(p, runs)| {
                    let idx = V::I(p as i64);
                    if *count {
                        vec![vec![V::pair(idx, V::I(runs.iter().map(Vec::len).sum::<usize>() as i64))]]
                    } else {
                        runs.iter().map(|r| r.iter().map(|v| V::pair(idx.clone(), v.clone())).collect()).collect()
                    }
                })
                .collect();
            Data::parts(Kind::Plain, parts)
        }
        Sample { of, replace, fraction, seed } => {
            if !d(of).ordered_parts() {
                return None;
            }
            let Layout::Parts(parts) = &d(of).layout else { return None };
            let fraction = fraction.max(0.0);
            let parts = parts
                .iter()
                .enumerate()
                .map(|(p, runs)| {
                    let mut rng = SplitMix(seed ^ (p as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    let mut out = Vec::new();
                    for v in runs.iter().flatten() {
                        let copies =
                            if *replace { rng.poisson(fraction) } else { u32::from(rng.next_f64() < fraction) };
                        out.extend((0..copies).map(|_| vec![v.clone()]));
                    }
                    out
                })
                .collect();
            Data { kind: d(of).kind, layout: Layout::Parts(parts) }
        }
        ToPairs { of, f } => d(of).each(Kind::Pairs, |v| vec![to_pair(f.apply(v))]),
        KeyBy { of, f } => d(of).each(Kind::Pairs, |v| vec![V::pair(f.apply(v.clone()), v)]),
        FromPairs { of } => d(of).as_plain(),
        Keys { of } => d(of).as_pairs().each(Kind::Plain, |v| vec![key_of(&v).clone()]),
        Values { of } => d(of).as_pairs().each(Kind::Plain, |v| vec![value_of(&v).clone()]),
        MapValues { of, f } => {
            d(of).as_pairs().each(Kind::Pairs, |v| vec![V::pair(key_of(&v).clone(), f.apply(value_of(&v).clone()))])
        }
        Union { of, other } => {
            let (a, b) = match (d(of).kind, d(other).kind) {
                (Kind::Plain, Kind::Plain) => (d(of).clone(), d(other).clone()),
                _ => (d(of).as_pairs(), d(other).as_pairs()),
            };
            let layout = match (&a.layout, &b.layout) {
                (Layout::Parts(x), Layout::Parts(y)) => Layout::Parts(x.iter().chain(y).cloned().collect()),
                _ => {
                    let parts = a.num_parts().zip(b.num_parts()).map(|(x, y)| x + y);
                    Layout::Seq { runs: a.runs().into_iter().chain(b.runs()).collect(), parts }
                }
            };
            Data { kind: a.kind, layout }
        }
        Coalesce { of, parts } => {
            let src = d(of);
            match &src.layout {
                Layout::Parts(p) => {
                    let m = p.len() as u32;
                    let n = (*parts).clamp(1, m.max(1));
                    let merged = (0..n)
                        .map(|i| {
                            let (first, len) = run_of(u64::from(m), n, i);
                            p[first as usize..(first + len) as usize].concat()
                        })
                        .collect();
                    Data { kind: src.kind, layout: Layout::Parts(merged) }
                }
                Layout::Seq { runs, parts: m } => Data {
                    kind: src.kind,
                    layout: Layout::Seq { runs: runs.clone(), parts: m.map(|m| (*parts).clamp(1, m.max(1))) },
                },
            }
        }
        Repartition { of, parts } => {
            let src = d(of);
            let n = (*parts).max(1);
            match &src.layout {
                // Record j of map task i goes to partition (i + j) mod n.
                Layout::Parts(p) if src.ordered_parts() => {
                    let mut out: Vec<Run> = vec![Vec::new(); n as usize];
                    for (i, runs) in p.iter().enumerate() {
                        for (j, v) in runs.iter().flatten().enumerate() {
                            out[(i + j) % n as usize].push(v.clone());
                        }
                    }
                    Data::parts(
                        src.kind,
                        out.into_iter().map(|r| if r.is_empty() { vec![] } else { vec![r] }).collect(),
                    )
                }
                _ => {
                    let all = src.elements();
                    let runs = if all.is_empty() { vec![] } else { vec![all] };
                    Data { kind: src.kind, layout: Layout::Seq { runs, parts: Some(n) } }
                }
            }
        }
        Persist { of, .. } => d(of).clone(),
        Distinct { of, parts } => {
            let src = d(of);
            let mut seen = std::collections::BTreeSet::new();
            let keyed = src
                .elements()
                .into_iter()
                .filter(|v| seen.insert(v.clone()))
                .map(|v| {
                    // The key is the element: for pairs a tuple, its two fields.
                    let key = match src.kind {
                        Kind::Plain => encoded(&[&v]),
                        Kind::Pairs => encoded(&[key_of(&v), value_of(&v)]),
                    };
                    (key, v)
                })
                .collect();
            shuffled(src.kind, keyed, shuffle_parts(*parts, &[src]))
        }
        SortBy { of, f, ascending, parts } => {
            let src = d(of);
            let keyed: Vec<(V, V)> = src.elements().into_iter().map(|v| (f.apply(v.clone()), v)).collect();
            sorted_runs(Kind::Plain, keyed, *ascending, shuffle_parts(*parts, &[src]))
        }
        ReduceByKey { of, merge, parts } => {
            let src = d(of).as_pairs();
            let mut groups: std::collections::BTreeMap<V, V> = std::collections::BTreeMap::new();
            for v in src.elements() {
                let (k, v) = v.split();
                let merged = match groups.remove(&k) {
                    Some(old) => merge.apply(old, v),
                    None => v,
                };
                groups.insert(k, merged);
            }
            let keyed = groups.into_iter().map(|(k, v)| (encoded(&[&k]), V::pair(k, v))).collect();
            shuffled(Kind::Pairs, keyed, shuffle_parts(*parts, &[&src]))
        }
        GroupByKey { of, parts } => {
            let src = d(of).as_pairs();
            let keyed = group(&src)
                .into_iter()
                .map(|(k, mut vs)| {
                    vs.sort();
                    (encoded(&[&k]), V::pair(k, V::L(vs)))
                })
                .collect();
            shuffled(Kind::Pairs, keyed, shuffle_parts(*parts, &[&src]))
        }
        SortByKey { of, ascending, parts } => {
            let src = d(of).as_pairs();
            let keyed = src.elements().into_iter().map(|v| (key_of(&v).clone(), v)).collect();
            sorted_runs(Kind::Pairs, keyed, *ascending, shuffle_parts(*parts, &[&src]))
        }
        Cogroup { of, other, parts } => {
            let (a, b) = (d(of).as_pairs(), d(other).as_pairs());
            let n = shuffle_parts(*parts, &[&a, &b]);
            let keyed = cogroup(&a, &b)
                .into_iter()
                .map(|(k, (mut vs, mut ws))| {
                    vs.sort();
                    ws.sort();
                    (encoded(&[&k]), V::pair(k, V::L(vec![V::L(vs), V::L(ws)])))
                })
                .collect();
            shuffled(Kind::Pairs, keyed, n)
        }
        Join { of, other, kind } => {
            let (a, b) = (d(of).as_pairs(), d(other).as_pairs());
            let n = shuffle_parts(0, &[&a, &b]);
            let groups = cogroup(&a, &b);
            if groups.values().map(|(vs, ws)| vs.len().max(1) * ws.len().max(1)).sum::<usize>() > 100 * MAX_ELEMENTS {
                return None;
            }
            let mut keyed = Vec::new();
            for (k, (vs, ws)) in groups {
                let key = encoded(&[&k]);
                let mut emit = |v: V, w: V| keyed.push((key.clone(), V::pair(k.clone(), V::pair(v, w))));
                match (kind, vs.is_empty(), ws.is_empty()) {
                    (JoinKind::Left | JoinKind::Full, false, true) => vs.iter().for_each(|v| emit(v.clone(), V::N)),
                    (JoinKind::Right | JoinKind::Full, true, false) => ws.iter().for_each(|w| emit(V::N, w.clone())),
                    _ => {
                        for v in &vs {
                            for w in &ws {
                                emit(v.clone(), w.clone());
                            }
                        }
                    }
                }
            }
            shuffled(Kind::Pairs, keyed, n)
        }
        FlatMapValues { of, f } => d(of).as_pairs().each(Kind::Pairs, |v| {
            let (k, v) = v.split();
            f.apply(v).into_iter().map(|w| V::pair(k.clone(), w)).collect()
        }),
        ZipWithIndex { of } => {
            let src = d(of).as_plain();
            if src.runs().iter().any(|r| r.len() > 1) {
                return None;
            }
            let index = std::cell::Cell::new(0i64);
            src.each(Kind::Pairs, |v| {
                let i = index.get();
                index.set(i + 1);
                vec![V::pair(v, V::I(i))]
            })
        }
        ZipWithUniqueId { of } => {
            let src = d(of).as_plain();
            if !src.ordered_parts() {
                return None;
            }
            let Layout::Parts(parts) = &src.layout else { return None };
            let n = parts.len() as i64;
            let parts = parts
                .iter()
                .enumerate()
                .map(|(k, runs)| {
                    runs.iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, v)| vec![V::pair(v.clone(), V::I(i as i64 * n + k as i64))])
                        .collect()
                })
                .collect();
            Data::parts(Kind::Pairs, parts)
        }
        Subtract { of, other } => {
            let (a, b) = (d(of).as_plain(), d(other).as_plain());
            let theirs: std::collections::BTreeSet<V> = b.elements().into_iter().collect();
            let keyed = a.elements().into_iter().filter(|v| !theirs.contains(v)).map(|v| (encoded(&[&v]), v)).collect();
            shuffled(Kind::Plain, keyed, shuffle_parts(0, &[&a, &b]))
        }
        Intersection { of, other } => {
            let (a, b) = (d(of).as_plain(), d(other).as_plain());
            let theirs: std::collections::BTreeSet<V> = b.elements().into_iter().collect();
            let mine: std::collections::BTreeSet<V> = a.elements().into_iter().collect();
            let keyed = mine.intersection(&theirs).map(|v| (encoded(&[v]), v.clone())).collect();
            shuffled(Kind::Plain, keyed, shuffle_parts(0, &[&a, &b]))
        }
        SubtractByKey { of, other } => {
            let (a, b) = (d(of).as_pairs(), d(other).as_pairs());
            let theirs: std::collections::BTreeSet<V> = b.elements().iter().map(|v| key_of(v).clone()).collect();
            let keyed = a
                .elements()
                .into_iter()
                .filter(|v| !theirs.contains(key_of(v)))
                .map(|v| (encoded(&[key_of(&v)]), v))
                .collect();
            shuffled(Kind::Pairs, keyed, shuffle_parts(0, &[&a, &b]))
        }
        Cartesian { of, other } => {
            let (a, b) = (d(of).as_plain(), d(other).as_plain());
            if a.len() * b.len() > 100 * MAX_ELEMENTS {
                return None;
            }
            match (&a.layout, &b.layout) {
                (Layout::Parts(xs), Layout::Parts(ys)) => {
                    let n = (xs.len() * ys.len()).max(1) as u32;
                    let mut keyed = Vec::new();
                    for (i, x) in xs.iter().enumerate() {
                        for (j, y) in ys.iter().enumerate() {
                            // The cell's key: the pair of u32s, big-endian.
                            let mut cell = (i as u32).to_be_bytes().to_vec();
                            cell.extend_from_slice(&(j as u32).to_be_bytes());
                            for u in x.iter().flatten() {
                                for w in y.iter().flatten() {
                                    keyed.push((cell.clone(), V::pair(u.clone(), w.clone())));
                                }
                            }
                        }
                    }
                    hash_parts(Kind::Pairs, keyed, n)
                }
                _ => {
                    let mut all = Vec::new();
                    for u in a.elements() {
                        for w in b.elements() {
                            all.push(V::pair(u.clone(), w));
                        }
                    }
                    let parts = a.num_parts().zip(b.num_parts()).map(|(x, y)| (x * y).max(1));
                    Data {
                        kind: Kind::Pairs,
                        layout: Layout::Seq { runs: if all.is_empty() { vec![] } else { vec![all] }, parts },
                    }
                }
            }
        }
        PartitionBy { of, parts, f } => {
            let src = d(of).as_pairs();
            let n = (*parts).max(1);
            let mut out: Vec<Run> = vec![Vec::new(); n as usize];
            for v in src.elements() {
                let p = f.apply(key_of(&v).clone()).weight() as u32 % n;
                out[p as usize].push(v);
            }
            Data::parts(Kind::Pairs, out.into_iter().map(|r| if r.is_empty() { vec![] } else { vec![r] }).collect())
        }
        RandomSplit { of, weights, seed, pick } => {
            let src = d(of);
            if !src.ordered_parts() || *pick >= weights.len() {
                return None;
            }
            let Layout::Parts(parts) = &src.layout else { return None };
            // The split's share of [0, 1): the weights normalized, the last to 1.
            let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
            let (mut low, mut high) = (0.0, 0.0);
            for (i, w) in weights.iter().enumerate().take(pick + 1) {
                low = high;
                high = if i + 1 == weights.len() {
                    1.0
                } else if total > 0.0 {
                    low + w.max(0.0) / total
                } else {
                    0.0
                };
            }
            let parts = parts
                .iter()
                .enumerate()
                .map(|(p, runs)| {
                    let mut rng = SplitMix(seed ^ (p as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    runs.iter()
                        .flatten()
                        .filter(|_| {
                            let x = rng.next_f64();
                            x >= low && x < high
                        })
                        .map(|v| vec![v.clone()])
                        .collect()
                })
                .collect();
            Data { kind: src.kind, layout: Layout::Parts(parts) }
        }
        CogroupMany { of, others } => {
            let sides: Vec<Data> = std::iter::once(of).chain(others).map(|i| d(i).as_pairs()).collect();
            let n = shuffle_parts(0, &sides.iter().collect::<Vec<_>>());
            let mut groups: std::collections::BTreeMap<V, Vec<Vec<V>>> = std::collections::BTreeMap::new();
            for (i, side) in sides.iter().enumerate() {
                for (k, vs) in group(side) {
                    groups.entry(k).or_insert_with(|| vec![Vec::new(); sides.len()])[i] = vs;
                }
            }
            let keyed = groups
                .into_iter()
                .map(|(k, lists)| {
                    let lists = lists.into_iter().map(|mut l| {
                        l.sort();
                        V::L(l)
                    });
                    (encoded(&[&k]), V::pair(k, V::L(lists.collect())))
                })
                .collect();
            shuffled(Kind::Pairs, keyed, n)
        }
    })
}

/// Each key's values, keys in order.
pub(super) fn group(d: &Data) -> std::collections::BTreeMap<V, Vec<V>> {
    let mut groups: std::collections::BTreeMap<V, Vec<V>> = std::collections::BTreeMap::new();
    for v in d.elements() {
        let (k, v) = v.split();
        groups.entry(k).or_default().push(v);
    }
    groups
}

type CoGroups = std::collections::BTreeMap<V, (Vec<V>, Vec<V>)>;

fn cogroup(a: &Data, b: &Data) -> CoGroups {
    let mut groups = CoGroups::new();
    for (k, vs) in group(a) {
        groups.entry(k).or_default().0 = vs;
    }
    for (k, ws) in group(b) {
        groups.entry(k).or_default().1 = ws;
    }
    groups
}

/// Elements sorted by their keys (the byte order of encoded keys is the order
/// of `V`), a run per key; known partitions only when there is one.
fn sorted_runs(kind: Kind, mut keyed: Vec<(V, V)>, ascending: bool, parts: Option<u32>) -> Data {
    keyed.sort_by(|a, b| if ascending { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) });
    let mut runs: Vec<Run> = Vec::new();
    let mut last: Option<V> = None;
    for (k, v) in keyed {
        if last.as_ref() == Some(&k) {
            runs.last_mut().expect("a run per key").push(v);
        } else {
            runs.push(vec![v]);
            last = Some(k);
        }
    }
    match parts {
        Some(1) => Data::parts(kind, vec![runs]),
        _ => Data { kind, layout: Layout::Seq { runs, parts: None } },
    }
}

/// How many integers `range(start, end, step)` yields.
fn range_len(start: i64, end: i64, step: i64) -> u64 {
    let (span, step) = if step > 0 {
        (i128::from(end) - i128::from(start), i128::from(step))
    } else {
        (i128::from(start) - i128::from(end), -i128::from(step))
    };
    if span <= 0 { 0 } else { ((span + step - 1) / step) as u64 }
}
