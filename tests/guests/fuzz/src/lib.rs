//! Runs random dataset programs on Spindle, for the differential test
//! (`tests/tests/differential.rs`): `fuzz-job DATA_DIR OUTPUT_DIR PROGRAM...`
//! where each PROGRAM is a [`Program`] in JSON. For each program it prints one
//! line: `program I: ` and the JSON list of its actions' [`Answer`]s.
//!
//! Every node becomes the SDK call a job author would write; nothing here knows
//! how Spindle plans or partitions (the test's reference interpreter does that
//! on its own).

#[expect(dead_code, reason = "shared with the test, which uses the rest (program shapes, shrinking)")]
mod program;

use program::{Action, Answer, Ask, JoinKind, Merge, Node, Program, V};
use spindle::{Dataset, StorageLevel, TextOptions};

/// A dataset of the program: plain elements or pairs.
#[derive(Clone)]
enum D {
    Plain(Dataset<V>),
    Pairs(Dataset<(V, V)>),
}

impl D {
    /// As plain elements (pairs as `P(k, v)`).
    fn plain(&self) -> Dataset<V> {
        match self {
            D::Plain(d) => d.clone(),
            D::Pairs(d) => d.map(|(k, v): (V, V)| V::pair(k, v)),
        }
    }

    /// As pairs (plain elements split by [`V::split`]).
    fn pairs(&self) -> Dataset<(V, V)> {
        match self {
            D::Plain(d) => d.map(V::split),
            D::Pairs(d) => d.clone(),
        }
    }
}

/// The groups of a 3-way and a 4-way cogroup.
type Groups3 = (Vec<V>, Vec<V>, Vec<V>);
type Groups4 = (Vec<V>, Vec<V>, Vec<V>, Vec<V>);

fn err(e: impl std::fmt::Display) -> spindle::Error {
    spindle::Error::msg(e.to_string())
}

fn sorted(mut vs: Vec<V>) -> V {
    vs.sort();
    V::L(vs)
}

fn reduce_pairs(d: &Dataset<(V, V)>, merge: Merge, parts: u32) -> Dataset<(V, V)> {
    match merge {
        Merge::Sum => d.reduce_by_key_into(|a: V, b: V| Merge::Sum.apply(a, b), parts),
        Merge::Min => d.reduce_by_key_into(|a: V, b: V| Merge::Min.apply(a, b), parts),
        Merge::Max => d.reduce_by_key_into(|a: V, b: V| Merge::Max.apply(a, b), parts),
    }
}

fn build(node: &Node, built: &[D], data: &str) -> spindle::Result<D> {
    let get = |i: &usize| built.get(*i).cloned().ok_or_else(|| err(format!("node {i} is not built yet")));
    Ok(match node {
        Node::Parallelize { items, parts } => D::Plain(spindle::parallelize(items, *parts)?),
        Node::Range { start, end, step, parts } => {
            D::Plain(spindle::range_with(*start, *end, *step, *parts)?.map(V::I))
        }
        Node::Text { path, min_parts, names, lossy } => {
            let path = if path.is_empty() { data.to_string() } else { format!("{data}/{path}") };
            let options = TextOptions { min_partitions: *min_parts, lossy_utf8: *lossy, compression: None };
            if *names {
                D::Pairs(
                    spindle::text_file_with_file_names(&path, options)?
                        .map(|(f, l): (String, String)| (V::S(f), V::S(l))),
                )
            } else if *lossy {
                D::Plain(spindle::text_file_with(&path, options)?.map(V::S))
            } else {
                D::Plain(spindle::text_file_with_partitions(&path, *min_parts)?.map(V::S))
            }
        }
        Node::WholeTextFiles { path, lossy } => {
            let path = if path.is_empty() { data.to_string() } else { format!("{data}/{path}") };
            let files = spindle::whole_text_files(
                &path,
                TextOptions { min_partitions: 0, lossy_utf8: *lossy, compression: None },
            )?;
            D::Pairs(files.map(|(f, text): (String, String)| (V::S(f), V::S(text))))
        }
        Node::Map { of, f } => match get(of)? {
            D::Plain(d) => D::Plain(d.map_with(f, |f: &program::Fun, v: V| f.apply(v))),
            D::Pairs(d) => D::Pairs(d.map_with(f, |f: &program::Fun, (k, v): (V, V)| f.apply(V::pair(k, v)).split())),
        },
        Node::Filter { of, p } => match get(of)? {
            D::Plain(d) => D::Plain(d.filter_with(p, |p: &program::Pred, v: &V| p.test(v))),
            D::Pairs(d) => {
                D::Pairs(d.filter_with(p, |p: &program::Pred, (k, v): &(V, V)| p.test(&V::pair(k.clone(), v.clone()))))
            }
        },
        Node::FlatMap { of, f } => match get(of)? {
            D::Plain(d) => D::Plain(d.flat_map_with(f, |f: &program::Many, v: V| f.apply(v))),
            D::Pairs(d) => D::Pairs(d.flat_map_with(f, |f: &program::Many, (k, v): (V, V)| {
                f.apply(V::pair(k, v)).into_iter().map(V::split).collect::<Vec<_>>()
            })),
        },
        Node::WithIndex { of, count } => {
            let d = get(of)?.plain();
            D::Plain(if *count {
                d.map_partitions_with_index(|p: u32, items: spindle::PartitionIter<V>| {
                    [V::pair(V::I(p.into()), V::I(items.count() as i64))]
                })
            } else {
                d.map_partitions_with_index(|p: u32, items: spindle::PartitionIter<V>| {
                    items.map(move |v| V::pair(V::I(p.into()), v))
                })
            })
        }
        Node::Sample { of, replace, fraction, seed } => match get(of)? {
            D::Plain(d) => D::Plain(d.sample(*replace, *fraction, *seed)),
            D::Pairs(d) => D::Pairs(d.sample(*replace, *fraction, *seed)),
        },
        Node::ToPairs { of, f } => D::Pairs(get(of)?.plain().map_with(f, |f: &program::Fun, v: V| f.apply(v).split())),
        Node::KeyBy { of, f } => {
            D::Pairs(get(of)?.plain().map_with(f, |f: &program::Fun, v: V| (f.apply(v.clone()), v)))
        }
        Node::FromPairs { of } => D::Plain(get(of)?.plain()),
        Node::Keys { of } => D::Plain(get(of)?.pairs().keys()),
        Node::Values { of } => D::Plain(get(of)?.pairs().values()),
        Node::MapValues { of, f } => {
            D::Pairs(get(of)?.pairs().map_with(f, |f: &program::Fun, (k, v): (V, V)| (k, f.apply(v))))
        }
        Node::Union { of, other } => match (get(of)?, get(other)?) {
            (D::Plain(a), D::Plain(b)) => D::Plain(a.union(&b)),
            (a, b) => D::Pairs(a.pairs().union(&b.pairs())),
        },
        Node::Coalesce { of, parts } => match get(of)? {
            D::Plain(d) => D::Plain(d.coalesce(*parts)),
            D::Pairs(d) => D::Pairs(d.coalesce(*parts)),
        },
        Node::Repartition { of, parts } => match get(of)? {
            D::Plain(d) => D::Plain(d.repartition(*parts)),
            D::Pairs(d) => D::Pairs(d.repartition(*parts)),
        },
        Node::Persist { of, level } => {
            let level = match level {
                0 => StorageLevel::MemoryOnly,
                1 => StorageLevel::MemoryAndDisk,
                _ => StorageLevel::DiskOnly,
            };
            match get(of)? {
                D::Plain(d) => D::Plain(d.persist(level)),
                D::Pairs(d) => D::Pairs(d.persist(level)),
            }
        }
        Node::Distinct { of, parts } => match get(of)? {
            D::Plain(d) if *parts == 0 => D::Plain(d.distinct()),
            D::Plain(d) => D::Plain(d.distinct_into(*parts)),
            D::Pairs(d) => D::Pairs(d.distinct_into(*parts)),
        },
        Node::SortBy { of, f, ascending, parts } => {
            let keyed = get(of)?.plain().map_with(f, |f: &program::Fun, v: V| (f.apply(v.clone()), v));
            D::Plain(keyed.sort_by_key_into(*ascending, *parts)?.values())
        }
        Node::ReduceByKey { of, merge, parts } => D::Pairs(reduce_pairs(&get(of)?.pairs(), *merge, *parts)),
        Node::GroupByKey { of, parts } => {
            D::Pairs(get(of)?.pairs().group_by_key_into(*parts).map(|(k, vs): (V, Vec<V>)| (k, sorted(vs))))
        }
        Node::SortByKey { of, ascending, parts } => D::Pairs(get(of)?.pairs().sort_by_key_into(*ascending, *parts)?),
        Node::Cogroup { of, other, parts } => {
            let grouped = get(of)?.pairs().cogroup_into(&get(other)?.pairs(), *parts);
            D::Pairs(grouped.map(|(k, (vs, ws)): (V, (Vec<V>, Vec<V>))| (k, V::L(vec![sorted(vs), sorted(ws)]))))
        }
        Node::Join { of, other, kind } => {
            let (a, b) = (get(of)?.pairs(), get(other)?.pairs());
            D::Pairs(match kind {
                JoinKind::Inner => a.join(&b).map(|(k, (v, w)): (V, (V, V))| (k, V::pair(v, w))),
                JoinKind::Left => {
                    a.left_outer_join(&b).map(|(k, (v, w)): (V, (V, Option<V>))| (k, V::pair(v, w.unwrap_or(V::N))))
                }
                JoinKind::Right => {
                    a.right_outer_join(&b).map(|(k, (v, w)): (V, (Option<V>, V))| (k, V::pair(v.unwrap_or(V::N), w)))
                }
                JoinKind::Full => a
                    .full_outer_join(&b)
                    .map(|(k, (v, w)): (V, (Option<V>, Option<V>))| (k, V::pair(v.unwrap_or(V::N), w.unwrap_or(V::N)))),
            })
        }
        Node::FlatMapValues { of, f } => {
            let many = get(of)?.pairs().map_with(f, |f: &program::Many, (k, v): (V, V)| (k, V::L(f.apply(v))));
            D::Pairs(many.flat_map_values(|l: V| match l {
                V::L(ws) => ws,
                other => vec![other],
            }))
        }
        Node::ZipWithIndex { of } => {
            D::Pairs(get(of)?.plain().zip_with_index()?.map(|(v, i): (V, u64)| (v, V::I(i as i64))))
        }
        Node::ZipWithUniqueId { of } => {
            D::Pairs(get(of)?.plain().zip_with_unique_id().map(|(v, i): (V, u64)| (v, V::I(i as i64))))
        }
        Node::Subtract { of, other } => D::Plain(get(of)?.plain().subtract(&get(other)?.plain())),
        Node::Intersection { of, other } => D::Plain(get(of)?.plain().intersection(&get(other)?.plain())),
        Node::SubtractByKey { of, other } => D::Pairs(get(of)?.pairs().subtract_by_key(&get(other)?.pairs())),
        Node::Cartesian { of, other } => D::Pairs(get(of)?.plain().cartesian(&get(other)?.plain())),
        Node::PartitionBy { of, parts, f } => D::Pairs(get(of)?.pairs().partition_by_with(
            f,
            *parts,
            |f: &program::Fun, k: &V| f.apply(k.clone()).weight() as u32,
        )),
        Node::RandomSplit { of, weights, seed, pick } => {
            let split = |d: Vec<Dataset<V>>| d.into_iter().nth(*pick).ok_or_else(|| err("no such split"));
            let split2 = |d: Vec<Dataset<(V, V)>>| d.into_iter().nth(*pick).ok_or_else(|| err("no such split"));
            match get(of)? {
                D::Plain(d) => D::Plain(split(d.random_split(weights, *seed))?),
                D::Pairs(d) => D::Pairs(split2(d.random_split(weights, *seed))?),
            }
        }
        Node::CogroupMany { of, others } => {
            let others = others.iter().map(|o| Ok(get(o)?.pairs())).collect::<spindle::Result<Vec<_>>>()?;
            let here = get(of)?.pairs();
            D::Pairs(match others.as_slice() {
                [b, c] => here
                    .cogroup3(b, c)
                    .map(|(k, (x, y, z)): (V, Groups3)| (k, V::L(vec![sorted(x), sorted(y), sorted(z)]))),
                [b, c, e] => here
                    .cogroup4(b, c, e)
                    .map(|(k, (x, y, z, w)): (V, Groups4)| (k, V::L(vec![sorted(x), sorted(y), sorted(z), sorted(w)]))),
                _ => return Err(err("cogroup of two or three others")),
            })
        }
    })
}

fn answer(ask: &Ask, d: &D, out: &str) -> spindle::Result<Vec<V>> {
    let plain = d.plain();
    Ok(match &ask.action {
        Action::Collect => plain.collect()?,
        Action::Count => vec![V::I(plain.count()? as i64)],
        Action::Take(n) => plain.take(*n)?,
        Action::First => plain.first()?.into_iter().collect(),
        Action::TakeOrdered(n) => plain.take_ordered(*n)?,
        Action::Top(n) => plain.top(*n)?,
        Action::Reduce(merge) => match merge {
            Merge::Sum => plain.reduce(|a: V, b: V| Merge::Sum.apply(a, b))?,
            Merge::Min => plain.reduce(|a: V, b: V| Merge::Min.apply(a, b))?,
            Merge::Max => plain.reduce(|a: V, b: V| Merge::Max.apply(a, b))?,
        }
        .into_iter()
        .collect(),
        Action::NumPartitions => vec![V::I(plain.num_partitions().into())],
        Action::CountByKey => {
            let mut counts: Vec<V> =
                d.pairs().count_by_key()?.into_iter().map(|(k, n)| V::pair(k, V::I(n as i64))).collect();
            counts.sort();
            counts
        }
        Action::SaveAndRead => {
            plain.map(|v: V| v.show()).save_as_text_file(out)?;
            spindle::text_file(out)?.map(V::S).collect()?
        }
        Action::TakeSample { replace, num, seed } => plain.take_sample(*replace, *num, *seed)?,
        Action::CountByValue => {
            let mut counts: Vec<V> =
                plain.count_by_value()?.into_iter().map(|(v, n)| V::pair(v, V::I(n as i64))).collect();
            counts.sort();
            counts
        }
        Action::CollectAsMap => {
            let mut pairs: Vec<(V, V)> = d.pairs().collect_as_map()?.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs.into_iter().map(|(k, v)| V::pair(k, v)).collect()
        }
        Action::Lookup(key) => d.pairs().lookup(key)?,
        Action::ForeachCount => {
            let seen = spindle::accumulator::<i64>("seen");
            seen.add(1000);
            plain.foreach_with(&seen, |seen: &spindle::Accumulator<i64>, _v: V| seen.add(1))?;
            vec![V::I(seen.value())]
        }
        Action::IsEmpty => vec![V::I(plain.is_empty()?.into())],
        Action::Numbers => {
            let xs = plain.map(|v: V| v.small());
            let stats = xs.stats()?;
            let opt = |x: Option<i64>| x.map_or(V::N, V::I);
            vec![
                V::I(xs.sum()?),
                opt(xs.min()?),
                opt(xs.max()?),
                V::I(stats.count as i64),
                V::I((stats.mean * stats.count as f64).round() as i64),
            ]
        }
        Action::TakeOrderedFloats(n) => plain
            .map(|v: V| v.float())
            .take_ordered_by(*n, f64::total_cmp)?
            .into_iter()
            .map(program::show_float)
            .collect(),
        Action::TopFloats(n) => {
            plain.map(|v: V| v.float()).top_by(*n, f64::total_cmp)?.into_iter().map(program::show_float).collect()
        }
    })
}

fn run_program(program: &Program, data: &str, out: &str) -> Vec<Answer> {
    let mut built = Vec::new();
    for node in &program.nodes {
        match build(node, &built, data) {
            Ok(d) => built.push(d),
            Err(e) => {
                let e = format!("building {node:?}: {e}");
                return program.asks.iter().map(|_| Err(e.clone())).collect();
            }
        }
    }
    let mut answers = Vec::new();
    for (i, ask) in program.asks.iter().enumerate() {
        let answer = match built.get(ask.on) {
            Some(d) => answer(ask, d, &format!("{out}/ask-{i}")).map_err(|e| e.to_string()),
            None => Err(format!("ask {i} names dataset {}, which the program lacks", ask.on)),
        };
        answers.push(answer);
    }
    answers
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [data, out, programs @ ..] = args.as_slice() else {
        return Err(err("usage: fuzz-job DATA_DIR OUTPUT_DIR PROGRAM..."));
    };
    for (i, text) in programs.iter().enumerate() {
        let program: Program = serde_json::from_str(text).map_err(|e| err(format!("program {i}: {e}")))?;
        let answers = run_program(&program, data, &format!("{out}/program-{i}"));
        println!("program {i}: {}", serde_json::to_string(&answers).map_err(err)?);
    }
    Ok(())
}

spindle::main!(run);
