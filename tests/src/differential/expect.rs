//! What each action of a program must give, from the reference's datasets.

use super::program::{Action, Program, V, show_float};
use super::reference::{Data, Env, Run, eval, group};

/// What an action must give.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// These runs, in order (each run's elements in any order).
    Runs(Vec<Run>),
    /// The first `n` elements of these runs.
    Prefix(Vec<Run>, usize),
    /// Exactly these, in this order.
    Exact(Vec<V>),
    /// Anything that is not an error (the reference does not know).
    Any,
    /// `num` elements drawn from `pool` (as many as it has, without replacement).
    Sample { pool: Vec<V>, num: usize, replace: bool },
    /// Pairs sorted by key, one per key, each value one of the key's.
    AsMap(std::collections::BTreeMap<V, Vec<V>>),
}

/// What `action` on `d` must give.
pub fn expect(action: &Action, d: &Data) -> Expect {
    match action {
        Action::Collect => Expect::Runs(d.runs()),
        Action::Count => Expect::Exact(vec![V::I(d.len() as i64)]),
        Action::Take(n) => Expect::Prefix(d.runs(), *n as usize),
        Action::First => Expect::Prefix(d.runs(), 1),
        Action::TakeOrdered(n) => {
            let mut all = d.elements();
            all.sort();
            all.truncate(*n);
            Expect::Exact(all)
        }
        Action::Top(n) => {
            let mut all = d.elements();
            all.sort_by(|a, b| b.cmp(a));
            all.truncate(*n);
            Expect::Exact(all)
        }
        Action::Reduce(merge) => {
            Expect::Exact(d.elements().into_iter().reduce(|a, b| merge.apply(a, b)).into_iter().collect())
        }
        Action::NumPartitions => match d.num_parts() {
            Some(n) => Expect::Exact(vec![V::I(i64::from(n))]),
            None => Expect::Any,
        },
        Action::CountByKey => {
            let counts = group(&d.as_pairs()).into_iter().map(|(k, vs)| V::pair(k, V::I(vs.len() as i64))).collect();
            Expect::Exact(counts)
        }
        // An element's text is one line or more (a whole file's, say): the
        // lines of one run are in any order.
        Action::SaveAndRead => Expect::Runs(
            d.runs()
                .into_iter()
                .map(|r| {
                    r.iter()
                        .flat_map(|v| {
                            let text = v.show();
                            text.split('\n')
                                .map(|l| V::S(l.strip_suffix('\r').unwrap_or(l).to_string()))
                                .collect::<Vec<_>>()
                        })
                        .collect()
                })
                .collect(),
        ),
        Action::TakeSample { replace, num, .. } => Expect::Sample { pool: d.elements(), num: *num, replace: *replace },
        Action::CountByValue => {
            let mut counts: std::collections::BTreeMap<V, i64> = std::collections::BTreeMap::new();
            for v in d.elements() {
                *counts.entry(v).or_default() += 1;
            }
            Expect::Exact(counts.into_iter().map(|(v, n)| V::pair(v, V::I(n))).collect())
        }
        Action::CollectAsMap => Expect::AsMap(group(&d.as_pairs())),
        Action::Lookup(key) => {
            let values: Vec<V> = group(&d.as_pairs()).remove(key).unwrap_or_default();
            Expect::Runs(if values.is_empty() { vec![] } else { vec![values] })
        }
        Action::ForeachCount => Expect::Exact(vec![V::I(1000 + d.len() as i64)]),
        Action::IsEmpty => Expect::Exact(vec![V::I(i64::from(d.is_empty()))]),
        Action::Numbers => {
            let xs: Vec<i64> = d.elements().iter().map(V::small).collect();
            let sum: i64 = xs.iter().sum();
            let opt = |x: Option<&i64>| x.map_or(V::N, |x| V::I(*x));
            Expect::Exact(vec![
                V::I(sum),
                opt(xs.iter().min()),
                opt(xs.iter().max()),
                V::I(xs.len() as i64),
                V::I(if xs.is_empty() { 0 } else { sum }),
            ])
        }
        Action::TakeOrderedFloats(n) | Action::TopFloats(n) => {
            let mut xs: Vec<f64> = d.elements().iter().map(V::float).collect();
            xs.sort_by(f64::total_cmp);
            if matches!(action, Action::TopFloats(_)) {
                xs.reverse();
            }
            xs.truncate(*n);
            Expect::Exact(xs.into_iter().map(show_float).collect())
        }
    }
}

/// Most elements a dataset of a test program may hold: more would test the
/// memory limits of `main` rather than the API.
pub const MAX_ELEMENTS: usize = 1500;

/// Every dataset of `program`, and what each of its actions must give; `None`
/// where the program is not a test (see [`eval`]).
pub fn expectations(program: &Program, env: &Env) -> Option<Vec<Expect>> {
    expectations_within(program, env, usize::MAX)
}

/// [`expectations`], `None` also where a dataset holds more than `max`
/// elements (generated and shrunk programs stay within [`MAX_ELEMENTS`]).
pub fn expectations_within(program: &Program, env: &Env, max: usize) -> Option<Vec<Expect>> {
    let mut done = Vec::new();
    for node in &program.nodes {
        let d = eval(node, &done, env)?;
        if d.len() > max {
            return None;
        }
        done.push(d);
    }
    program.asks.iter().map(|a| done.get(a.on).map(|d| expect(&a.action, d))).collect()
}
