//! Random dataset programs: what the differential test generates, the `fuzz`
//! guest runs on Spindle, and the test's reference interpreter runs in memory.
//!
//! This file is compiled into both (the guest and `spindle-tests`), so that both
//! read the same program and apply the same element functions (the job author's
//! closures). How datasets are planned, partitioned and shuffled is *not* here:
//! the guest leaves that to Spindle, and the reference computes it on its own.

use serde::{Deserialize, Serialize};

/// An element. A keyed dataset holds pairs `(V, V)`, which the reference and
/// the printed results write as `P(key, value)`.
///
/// The variants are declared in the order of their encodings (the variant index
/// comes first), so the derived order is the order of the encoded key bytes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum V {
    I(i64),
    S(String),
    P(Box<V>, Box<V>),
    L(Vec<V>),
    N,
}

impl V {
    /// A pair value.
    pub fn pair(k: V, v: V) -> V {
        V::P(Box::new(k), Box::new(v))
    }

    /// A small number derived from the value, for predicates and repeats.
    pub fn weight(&self) -> i64 {
        match self {
            V::I(x) => *x,
            V::S(s) => s.chars().fold(0i64, |a, c| a.wrapping_mul(31).wrapping_add(c as i64)),
            V::P(a, b) => a.weight().wrapping_mul(17).wrapping_add(b.weight()),
            V::L(xs) => xs.iter().fold(xs.len() as i64, |a, x| a.wrapping_add(x.weight())),
            V::N => 0,
        }
    }

    /// The element as a text line (what `save_as_text_file` writes).
    pub fn show(&self) -> String {
        match self {
            V::I(x) => x.to_string(),
            V::S(s) => s.clone(),
            V::P(a, b) => format!("({}|{})", a.show(), b.show()),
            V::L(xs) => format!("[{}]", xs.iter().map(V::show).collect::<Vec<_>>().join(",")),
            V::N => "-".into(),
        }
    }

    /// Splits a pair element into key and value; anything else is keyed by itself.
    pub fn split(self) -> (V, V) {
        match self {
            V::P(k, v) => (*k, *v),
            other => (other, V::N),
        }
    }
}

/// A function of one element (every one total: it never panics).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Fun {
    /// Adds to integers, appends to strings, and so on.
    Add(i64),
    /// An integer below the modulus (1..=20) derived from the value: skewed keys.
    Mod(i64),
    /// The value as a string, with a prefix (some not ASCII).
    Show(String),
    /// A pair's key; anything else unchanged.
    Fst,
    /// A pair's value; anything else unchanged.
    Snd,
    /// A pair of what the two functions make.
    Pair(Box<Fun>, Box<Fun>),
    /// A list of the value, twice.
    Twice,
}

impl Fun {
    pub fn apply(&self, v: V) -> V {
        match self {
            Fun::Add(c) => match v {
                V::I(x) => V::I(x.wrapping_add(*c)),
                V::S(mut s) => {
                    s.push(if *c % 2 == 0 { '+' } else { 'ü' });
                    V::S(s)
                }
                V::P(a, b) => V::P(Box::new(self.apply(*a)), b),
                V::L(mut xs) => {
                    xs.push(V::I(*c));
                    V::L(xs)
                }
                V::N => V::I(*c),
            },
            Fun::Mod(m) => V::I(v.weight().rem_euclid((*m).max(1))),
            Fun::Show(prefix) => V::S(format!("{prefix}{}", v.show())),
            Fun::Fst => match v {
                V::P(a, _) => *a,
                other => other,
            },
            Fun::Snd => match v {
                V::P(_, b) => *b,
                other => other,
            },
            Fun::Pair(f, g) => V::pair(f.apply(v.clone()), g.apply(v)),
            Fun::Twice => V::L(vec![v.clone(), v]),
        }
    }
}

/// A predicate on elements.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Pred {
    /// The value's weight is `r` modulo `m`.
    Weight { m: i64, r: i64 },
    /// Is a string (or a pair whose key is one).
    Text,
    /// Everything passes.
    All,
    /// Nothing passes.
    Nothing,
}

impl Pred {
    pub fn test(&self, v: &V) -> bool {
        match self {
            Pred::Weight { m, r } => v.weight().rem_euclid((*m).max(1)) == *r,
            Pred::Text => matches!(v, V::S(_)) || matches!(v, V::P(k, _) if matches!(**k, V::S(_))),
            Pred::All => true,
            Pred::Nothing => false,
        }
    }
}

/// A function of one element to any number of elements.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Many {
    /// The value, as many times as its weight modulo `m` (often none).
    Repeat(i64),
    /// A list's elements, a pair's two parts, anything else twice.
    Explode,
    /// The value and the function of it.
    AndThen(Fun),
}

impl Many {
    pub fn apply(&self, v: V) -> Vec<V> {
        match self {
            Many::Repeat(m) => {
                let n = v.weight().rem_euclid((*m).max(1)) as usize;
                vec![v; n]
            }
            Many::Explode => match v {
                V::L(xs) => xs,
                V::P(a, b) => vec![*a, *b],
                other => vec![other.clone(), other],
            },
            Many::AndThen(f) => {
                let w = f.apply(v.clone());
                vec![v, w]
            }
        }
    }
}

/// How `reduce_by_key` and `reduce` merge two values: associative and
/// commutative on every value.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum Merge {
    /// Integers add (wrapping); where either side is not an integer, the larger
    /// value wins (every integer is smaller than every other value).
    Sum,
    Min,
    Max,
}

impl Merge {
    pub fn apply(self, a: V, b: V) -> V {
        match self {
            Merge::Sum => match (a, b) {
                (V::I(x), V::I(y)) => V::I(x.wrapping_add(y)),
                (a, b) => a.max(b),
            },
            Merge::Min => a.min(b),
            Merge::Max => a.max(b),
        }
    }
}

/// Whether a dataset holds plain elements or `(key, value)` pairs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Pairs,
}

/// How a join keeps keys missing on one side.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

/// One dataset of a program, made from earlier ones (by index).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Node {
    /// Plain elements from `main`.
    Parallelize {
        items: Vec<V>,
        parts: u32,
    },
    /// Integers as `V::I`.
    Range {
        start: i64,
        end: i64,
        step: i64,
        parts: u32,
    },
    /// Lines of the input file(s) `path` names, relative to the data directory
    /// (a file, the directory itself with "", or a glob), as `V::S`; with
    /// `names`, pairs `(S(file), S(line))`; with `lossy`, bytes that are not
    /// UTF-8 read as U+FFFD.
    Text {
        path: String,
        min_parts: u32,
        names: bool,
        lossy: bool,
    },
    /// Pairs `(S(file), S(content))`, one a file.
    WholeTextFiles {
        path: String,
        lossy: bool,
    },
    Map {
        of: usize,
        f: Fun,
    },
    Filter {
        of: usize,
        p: Pred,
    },
    FlatMap {
        of: usize,
        f: Many,
    },
    /// Plain, from plain: each element becomes `P(I(partition), element)`, or
    /// with `count`, each partition one `P(I(partition), I(elements))`.
    WithIndex {
        of: usize,
        count: bool,
    },
    Sample {
        of: usize,
        replace: bool,
        fraction: f64,
        seed: u64,
    },
    /// Pairs from plain: `(f(x).key, f(x).value)` (see [`V::split`]).
    ToPairs {
        of: usize,
        f: Fun,
    },
    /// Pairs from plain: `(f(x), x)`.
    KeyBy {
        of: usize,
        f: Fun,
    },
    /// Plain from pairs: `P(k, v)`.
    FromPairs {
        of: usize,
    },
    Keys {
        of: usize,
    },
    Values {
        of: usize,
    },
    MapValues {
        of: usize,
        f: Fun,
    },
    Union {
        of: usize,
        other: usize,
    },
    Coalesce {
        of: usize,
        parts: u32,
    },
    Repartition {
        of: usize,
        parts: u32,
    },
    /// Level 0: memory, 1: memory and disk, 2: disk.
    Persist {
        of: usize,
        level: u8,
    },
    Distinct {
        of: usize,
        parts: u32,
    },
    /// Plain, sorted by `f` of each element.
    SortBy {
        of: usize,
        f: Fun,
        ascending: bool,
        parts: u32,
    },
    ReduceByKey {
        of: usize,
        merge: Merge,
        parts: u32,
    },
    /// Pairs `(k, L(values, sorted))`.
    GroupByKey {
        of: usize,
        parts: u32,
    },
    SortByKey {
        of: usize,
        ascending: bool,
        parts: u32,
    },
    /// Pairs `(k, L([L(left values), L(right values)]))`, values sorted.
    Cogroup {
        of: usize,
        other: usize,
        parts: u32,
    },
    /// Pairs `(k, P(v, w))`, `N` standing for a missing side.
    Join {
        of: usize,
        other: usize,
        kind: JoinKind,
    },
    /// Pairs `(k, w)` for each `w` of `f(v)`.
    FlatMapValues {
        of: usize,
        f: Many,
    },
    /// Pairs `(x, I(index))`.
    ZipWithIndex {
        of: usize,
    },
    /// Pairs `(x, I(id))`.
    ZipWithUniqueId {
        of: usize,
    },
    /// Plain: elements of `of` that `other` lacks.
    Subtract {
        of: usize,
        other: usize,
    },
    /// Plain: distinct elements of both.
    Intersection {
        of: usize,
        other: usize,
    },
    /// Pairs of `of` whose key `other` lacks.
    SubtractByKey {
        of: usize,
        other: usize,
    },
    /// Pairs `(x, y)` of every element of each.
    Cartesian {
        of: usize,
        other: usize,
    },
    /// Pairs moved to partition `weight(f(key)) as u32 % parts`.
    PartitionBy {
        of: usize,
        parts: u32,
        f: Fun,
    },
    /// Split `pick` of `random_split(weights, seed)`.
    RandomSplit {
        of: usize,
        weights: Vec<f64>,
        seed: u64,
        pick: usize,
    },
    /// `cogroup3` (two others) or `cogroup4` (three): pairs `(k, L([L(values
    /// here), L(values in each other)...]))`, values sorted.
    CogroupMany {
        of: usize,
        others: Vec<usize>,
    },
}

impl Node {
    /// The indexes of the datasets this one is made from, to read or change.
    fn input_slots(&mut self) -> Vec<&mut usize> {
        use Node::*;
        match self {
            Parallelize { .. } | Range { .. } | Text { .. } | WholeTextFiles { .. } => vec![],
            Map { of, .. }
            | Filter { of, .. }
            | FlatMap { of, .. }
            | WithIndex { of, .. }
            | Sample { of, .. }
            | ToPairs { of, .. }
            | KeyBy { of, .. }
            | FromPairs { of }
            | Keys { of }
            | Values { of }
            | MapValues { of, .. }
            | Coalesce { of, .. }
            | Repartition { of, .. }
            | Persist { of, .. }
            | Distinct { of, .. }
            | SortBy { of, .. }
            | ReduceByKey { of, .. }
            | GroupByKey { of, .. }
            | SortByKey { of, .. }
            | FlatMapValues { of, .. }
            | ZipWithIndex { of }
            | ZipWithUniqueId { of }
            | PartitionBy { of, .. }
            | RandomSplit { of, .. } => vec![of],
            Union { of, other }
            | Cogroup { of, other, .. }
            | Join { of, other, .. }
            | Subtract { of, other }
            | Intersection { of, other }
            | SubtractByKey { of, other }
            | Cartesian { of, other } => vec![of, other],
            CogroupMany { of, others } => std::iter::once(of).chain(others.iter_mut()).collect(),
        }
    }

    /// The datasets this one is made from.
    pub fn inputs(&self) -> Vec<usize> {
        self.clone().input_slots().into_iter().map(|i| *i).collect()
    }

    /// The same node reading `inputs` instead (in the order of [`Node::inputs`]).
    pub fn with_inputs(&self, inputs: &[usize]) -> Node {
        let mut n = self.clone();
        for (slot, i) in n.input_slots().into_iter().zip(inputs) {
            *slot = *i;
        }
        n
    }
}

/// What a program asks of a dataset; each is one action (one or more jobs).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Action {
    Collect,
    Count,
    Take(u64),
    First,
    /// The `n` smallest, smallest first.
    TakeOrdered(usize),
    /// The `n` largest, largest first.
    Top(usize),
    Reduce(Merge),
    NumPartitions,
    /// `count_by_key` of a keyed dataset, as sorted `P(k, I(count))`.
    CountByKey,
    /// Saved as text, then read back as lines.
    SaveAndRead,
    TakeSample {
        replace: bool,
        num: usize,
        seed: u64,
    },
    /// `count_by_value`, as sorted `P(x, I(count))`.
    CountByValue,
    /// `collect_as_map` of pairs, as `P(k, v)` sorted by key.
    CollectAsMap,
    /// The values of a key in pairs.
    Lookup(V),
    /// `foreach` adding 1 to an accumulator that `main` started with 1000: its value.
    ForeachCount,
    /// `is_empty`, as `I(0)` or `I(1)`.
    IsEmpty,
    /// Of the weights modulo 1000: sum, min, max (`N` for none), and of their
    /// stats the count and the mean times the count, rounded.
    Numbers,
    /// `take_ordered_by` of the weights divided by 3 (floats), shown.
    TakeOrderedFloats(usize),
    /// `top_by` of the same.
    TopFloats(usize),
}

impl V {
    /// The number [`Action::Numbers`] reads from an element.
    pub fn small(&self) -> i64 {
        self.weight().rem_euclid(1000)
    }

    /// The float [`Action::TakeOrderedFloats`] reads from an element.
    pub fn float(&self) -> f64 {
        self.weight() as f64 / 3.0
    }
}

/// How a float element is shown in an answer.
pub fn show_float(x: f64) -> V {
    V::S(format!("{x:?}"))
}

/// One action on dataset `on`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Ask {
    pub on: usize,
    pub action: Action,
}

/// A whole program: datasets, then actions over them, in order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Program {
    pub nodes: Vec<Node>,
    pub asks: Vec<Ask>,
}

/// What one action gave: its elements (a count or a partition count as one
/// `I`), or the error message of a failed action.
pub type Answer = Result<Vec<V>, String>;
