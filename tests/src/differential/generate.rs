//! Random programs: compositions of every operation the fuzz guest knows, with
//! random partition counts, empty partitions and datasets, skewed and Unicode
//! keys. The generator runs the reference as it goes, so every program it makes
//! is one whose results the API determines, and no dataset grows past a bound.

use super::program::{Action, Ask, Fun, JoinKind, Many, Merge, Node, Pred, Program, V};
use super::reference::{Data, Env, MAX_ELEMENTS, SplitMix, eval};

/// A random source of programs.
pub struct Gen(SplitMix);

const STRINGS: &[&str] =
    &["", "a", "b", "apple", "Apple", "é", "日本語", "a b", "tab\tin", "nul\0byte", "zz", "🦀", "ça", "x", "straße"];

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(SplitMix(seed))
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.next_u64() % n }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.0.next_f64() < p
    }

    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Partition counts: the default (0) often, small counts, sometimes many.
    fn parts(&mut self) -> u32 {
        match self.below(10) {
            0..=2 => 0,
            3..=8 => 1 + self.below(4) as u32,
            _ => 5 + self.below(8) as u32,
        }
    }

    /// Values with few distinct keys (skew), extremes and Unicode.
    pub fn value(&mut self, depth: u32) -> V {
        match self.below(if depth > 1 { 6 } else { 9 }) {
            0..=2 => V::I(self.int(-3, 12)),
            3 => V::I(*[i64::MIN, i64::MAX, -1, 0, 1 << 40].get(self.below(5) as usize).expect("in range")),
            4 | 5 => V::S(STRINGS[self.below(STRINGS.len() as u64) as usize].to_string()),
            6 => V::pair(self.value(depth + 1), self.value(depth + 1)),
            7 => V::L((0..self.below(3)).map(|_| self.value(depth + 1)).collect()),
            _ => V::N,
        }
    }

    fn fun(&mut self, depth: u32) -> Fun {
        match self.below(if depth > 0 { 6 } else { 8 }) {
            0 => Fun::Add(self.int(-5, 5)),
            1 | 2 => Fun::Mod(self.int(1, 7)),
            3 => Fun::Show(["", "k", "é-", "日"][self.below(4) as usize].to_string()),
            4 => Fun::Fst,
            5 => Fun::Snd,
            6 => Fun::Pair(Box::new(self.fun(depth + 1)), Box::new(self.fun(depth + 1))),
            _ => Fun::Twice,
        }
    }

    fn pred(&mut self) -> Pred {
        match self.below(6) {
            0..=2 => {
                let m = self.int(1, 4);
                Pred::Weight { m, r: self.int(0, m - 1) }
            }
            3 => Pred::Text,
            4 => Pred::All,
            _ => Pred::Nothing,
        }
    }

    fn many(&mut self) -> Many {
        match self.below(3) {
            0 => Many::Repeat(self.int(1, 4)),
            1 => Many::Explode,
            _ => Many::AndThen(self.fun(1)),
        }
    }

    fn merge(&mut self) -> Merge {
        [Merge::Sum, Merge::Min, Merge::Max][self.below(3) as usize]
    }

    fn source(&mut self, env: &Env) -> Node {
        match self.below(10) {
            0..=4 => {
                let n = match self.below(6) {
                    0 => 0,
                    1 => 1,
                    _ => self.below(40) as usize,
                };
                Node::Parallelize { items: (0..n).map(|_| self.value(0)).collect(), parts: self.parts() }
            }
            5..=7 => {
                let start = self.int(-20, 20);
                let step = [1, 1, 2, 3, -1, -2][self.below(6) as usize];
                let end = start + step * self.int(-2, 40);
                Node::Range { start, end, step, parts: self.parts() }
            }
            _ => {
                // Files that are not UTF-8 are read lossily.
                let mut paths: Vec<(String, bool)> =
                    vec![(String::new(), false), ("emptydir".into(), false), ("bad".into(), true)];
                paths.extend(env.files.0.iter().map(|(n, text)| (n.clone(), std::str::from_utf8(text).is_err())));
                let (path, bad) = paths[self.below(paths.len() as u64) as usize].clone();
                let lossy = bad || self.chance(0.3);
                if self.chance(0.2) {
                    Node::WholeTextFiles { path, lossy }
                } else {
                    Node::Text { path, min_parts: self.below(6) as u32, names: self.chance(0.3), lossy }
                }
            }
        }
    }

    /// An op over `of`, a random earlier dataset as `other` where it takes two.
    fn op(&mut self, of: usize, count: usize) -> Node {
        let other = self.below(count as u64) as usize;
        match self.below(38) {
            0 | 1 => Node::Map { of, f: self.fun(0) },
            2 => Node::Filter { of, p: self.pred() },
            3 => Node::FlatMap { of, f: self.many() },
            4 => Node::WithIndex { of, count: self.chance(0.3) },
            5 => {
                let fraction = [0.0, 0.1, 0.5, 0.9, 1.0, 1.5][self.below(6) as usize];
                Node::Sample { of, replace: self.chance(0.3), fraction, seed: self.0.next_u64() }
            }
            6 | 7 => Node::ToPairs { of, f: self.fun(0) },
            8 => Node::KeyBy { of, f: self.fun(1) },
            9 => Node::FromPairs { of },
            10 => Node::Keys { of },
            11 => Node::Values { of },
            12 => Node::MapValues { of, f: self.fun(1) },
            13 | 14 => Node::Union { of, other },
            15 => Node::Coalesce { of, parts: 1 + self.below(5) as u32 },
            16 => Node::Repartition { of, parts: 1 + self.below(6) as u32 },
            17 => Node::Persist { of, level: self.below(3) as u8 },
            18 => Node::Distinct { of, parts: if self.chance(0.5) { 0 } else { self.parts() } },
            19 => Node::SortBy {
                of,
                f: self.fun(1),
                ascending: self.chance(0.5),
                parts: if self.chance(0.5) { 0 } else { self.parts() },
            },
            20 | 21 => Node::ReduceByKey { of, merge: self.merge(), parts: self.parts() },
            22 => Node::GroupByKey { of, parts: self.parts() },
            23 => Node::SortByKey { of, ascending: self.chance(0.5), parts: self.parts() },
            24 => Node::Cogroup { of, other, parts: self.parts() },
            25 | 26 => {
                let kind = [JoinKind::Inner, JoinKind::Left, JoinKind::Right, JoinKind::Full][self.below(4) as usize];
                Node::Join { of, other, kind }
            }
            27 => Node::FlatMapValues { of, f: self.many() },
            28 => Node::ZipWithIndex { of },
            29 => Node::ZipWithUniqueId { of },
            30 => Node::Subtract { of, other },
            31 => Node::Intersection { of, other },
            32 => Node::SubtractByKey { of, other },
            33 => Node::Cartesian { of, other },
            34 => Node::PartitionBy { of, parts: 1 + self.below(5) as u32, f: self.fun(1) },
            35 => {
                let weights: Vec<f64> =
                    (0..1 + self.below(3)).map(|_| [0.0, 0.5, 1.0, 2.0][self.below(4) as usize]).collect();
                let pick = self.below(weights.len() as u64) as usize;
                Node::RandomSplit { of, weights, seed: self.0.next_u64(), pick }
            }
            36 => {
                let others = (0..2 + self.below(2)).map(|_| self.below(count as u64) as usize).collect();
                Node::CogroupMany { of, others }
            }
            _ => Node::Persist { of, level: self.below(3) as u8 },
        }
    }

    fn action(&mut self) -> Action {
        match self.below(24) {
            0..=3 => Action::Collect,
            4 => Action::Count,
            5 => Action::Take(self.below(12)),
            6 => Action::First,
            7 => Action::TakeOrdered(self.below(7) as usize),
            8 => Action::Top(self.below(7) as usize),
            9 => Action::Reduce(self.merge()),
            10 => Action::NumPartitions,
            11 => Action::CountByKey,
            12 | 13 => Action::SaveAndRead,
            14 => {
                Action::TakeSample { replace: self.chance(0.4), num: self.below(8) as usize, seed: self.0.next_u64() }
            }
            15 => Action::CountByValue,
            16 => Action::CollectAsMap,
            17 => Action::Lookup(self.value(1)),
            18 => Action::ForeachCount,
            19 => Action::IsEmpty,
            20 => Action::Numbers,
            21 => Action::TakeOrderedFloats(self.below(6) as usize),
            22 => Action::TopFloats(self.below(6) as usize),
            _ => Action::Collect,
        }
    }

    /// A program of up to `max_nodes` datasets and one to three actions.
    pub fn program(&mut self, env: &Env, max_nodes: usize) -> Program {
        let want = 1 + self.below(max_nodes as u64) as usize;
        let mut nodes: Vec<Node> = Vec::new();
        let mut data: Vec<Data> = Vec::new();
        let mut tries = 0;
        while nodes.len() < want && tries < 200 {
            tries += 1;
            let node = if nodes.is_empty() || self.chance(0.1) {
                self.source(env)
            } else {
                // Mostly a chain over the latest dataset.
                let of = if self.chance(0.65) { nodes.len() - 1 } else { self.below(nodes.len() as u64) as usize };
                self.op(of, nodes.len())
            };
            match eval(&node, &data, env) {
                Some(d) if d.len() <= MAX_ELEMENTS => {
                    nodes.push(node);
                    data.push(d);
                }
                _ => {}
            }
        }
        let asks = (0..1 + self.below(3))
            .map(|_| {
                let on = if self.chance(0.7) { nodes.len() - 1 } else { self.below(nodes.len() as u64) as usize };
                Ask { on, action: self.action() }
            })
            .collect();
        Program { nodes, asks }
    }
}

/// Input files for text sources: lines with Unicode, blank lines, CRLF endings,
/// a file without a final newline, an empty file, a hidden one, and in the
/// subdirectory `bad` one that is not all UTF-8.
pub fn files(seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut g = Gen::new(seed);
    let line = |g: &mut Gen| -> String {
        (0..g.below(4)).map(|_| STRINGS[g.below(STRINGS.len() as u64) as usize]).collect::<Vec<_>>().join(" ")
    };
    let a: Vec<String> = (0..30).map(|_| line(&mut g)).collect();
    let b: Vec<String> = (0..12).map(|_| line(&mut g)).collect();
    let c: Vec<String> = (0..9).map(|_| line(&mut g)).collect();
    vec![
        ("a.txt".into(), (a.join("\n") + "\n").into_bytes()),
        ("b.txt".into(), b.join("\r\n").into_bytes()),
        ("c.txt".into(), (c.join("\n") + "\n\n").into_bytes()),
        ("empty.txt".into(), Vec::new()),
        ("_hidden".into(), b"not an input of the directory\n".to_vec()),
        ("bad/latin1.txt".into(), b"caf\xe9 au lait\nplain line\n\xff\xfe\r\nend \xc3\n".to_vec()),
        ("bad/ok.txt".into(), "fine \u{e9}\n".as_bytes().to_vec()),
    ]
}
