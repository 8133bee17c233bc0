//! Overhead probes, one mode per run:
//!
//! - `noop TASKS`: one record per partition through a no-op map, counted: TASKS
//!   tasks of nearly no work. Prints `tasks TASKS seconds S`.
//! - `tiny RUNS`: RUNS times, `count` over 2 partitions of 10 records. Prints one
//!   `latency_us N` line per run.
//! - `wordcount INPUT OUTPUT_DIR`: word count as the benchmark's other systems run
//!   it: count every word, write `word<TAB>count` lines. The pipeline of
//!   `examples/wordcount`, without the example's extra actions (the ten most
//!   frequent words and a count), which the native and Spark jobs do not run.
//! - `scan INPUT`, `split INPUT`, `combine INPUT`: word count cut short after
//!   reading lines, after splitting words, and after the shuffle; each prints
//!   `count N seconds S`, to see where word count spends its time.
//! - Larger than memory: N generated records of about 100 bytes, record `i`
//!   keyed by `mix(i)` (`sort`) or `mix(i) % KEYS` (`group`, `join`), its value
//!   `i` as 12 digits and padding, over PARTS map and reduce partitions:
//!   - `spill-sort N PARTS OUTPUT_DIR`: sorted by key, written as `key<TAB>value`.
//!   - `spill-group N KEYS PARTS OUTPUT_DIR`: `group_by_key`, written as
//!     `key<TAB>values<TAB>sum of i`.
//!   - `spill-join N KEYS PARTS OUTPUT_DIR`: joined with `(k, name-k)` for every
//!     `k < KEYS`, written as `key<TAB>rows<TAB>sum of i`.
//!
//!   - `spill-reduce N KEYS PARTS`: `reduce_by_key` counting the records of
//!     each key `mix(i) % KEYS`; prints `keys K total T check C`, where C sums
//!     `mix(key ^ mix(count))` over the keys (wrapping).
//!
//!   Each prints `seconds S` for its action (the sort's with its sampling job).
//! - `partition-lines INPUT iter|vec`: the lines and bytes of INPUT counted per
//!   partition by `map_partitions` (streamed) or `map_partitions_vec` (each
//!   partition buffered in the task's memory); prints `lines N bytes B`.

use std::time::Instant;

/// SplitMix64's finalizer: a well-mixed hash of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Record `i`'s value: `i` as 12 digits, then padding to 88 bytes.
fn padded(i: u64) -> String {
    const PAD: &str = "-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy";
    format!("{i:012}{PAD}")
}

/// The index a padded value holds.
fn index_of(value: &str) -> u64 {
    value[..12].parse().unwrap_or(u64::MAX)
}

/// N generated records `(i, padded(i))` over PARTS partitions.
fn generated(n: &str, parts: &str) -> spindle::Result<(spindle::Dataset<(u64, String)>, u32)> {
    let (n, parts): (i64, u32) = (n.parse()?, parts.parse()?);
    Ok((spindle::range_with(0, n, 1, parts)?.map(|i: i64| (i as u64, padded(i as u64))), parts))
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["noop", tasks] => {
            let tasks: u32 = tasks.parse()?;
            let ones = vec![1u8; tasks as usize];
            let ds = spindle::parallelize(&ones, tasks)?.map(|x: u8| x);
            let start = Instant::now();
            let n = ds.count()?;
            let secs = start.elapsed().as_secs_f64();
            if n != u64::from(tasks) {
                return Err(spindle::Error::msg(format!("counted {n} records, expected {tasks}")));
            }
            println!("tasks {tasks} seconds {secs:.6}");
        }
        ["tiny", runs] => {
            let runs: u32 = runs.parse()?;
            let records: Vec<u64> = (0..20).collect();
            let ds = spindle::parallelize(&records, 2)?.map(|x: u64| x + 1);
            for _ in 0..runs {
                let start = Instant::now();
                let n = ds.count()?;
                let us = start.elapsed().as_micros();
                if n != 20 {
                    return Err(spindle::Error::msg(format!("counted {n} records, expected 20")));
                }
                println!("latency_us {us}");
            }
        }
        ["wordcount", input, output] => {
            let counts = spindle::text_file(input)?
                .flat_map(spindle::words)
                .map(|word: String| (word, 1u64))
                .reduce_by_key(|a, b| a + b);
            counts.save_as_text_file(output)?;
        }
        [stage @ ("scan" | "split" | "combine"), input] => {
            let lines = spindle::text_file(input)?;
            let start = Instant::now();
            let n = match *stage {
                "scan" => lines.count()?,
                "split" => lines.flat_map(spindle::words).count()?,
                _ => lines.flat_map(spindle::words).map(|w: String| (w, 1u64)).reduce_by_key(|a, b| a + b).count()?,
            };
            println!("count {n} seconds {:.6}", start.elapsed().as_secs_f64());
        }
        ["spill-sort", n, parts, output] => {
            let (records, parts) = generated(n, parts)?;
            // Timed from the sampling job `sort_by_key` runs, as Spark's sorts are.
            let start = Instant::now();
            let sorted = records.map(|(i, v): (u64, String)| (mix(i), v)).sort_by_key_into(true, parts)?;
            sorted.save_as_text_file(output)?;
            println!("seconds {:.6}", start.elapsed().as_secs_f64());
        }
        ["spill-group", n, keys, parts, output] => {
            let keys: u64 = keys.parse()?;
            let (records, parts) = generated(n, parts)?;
            let groups = records
                .map_with(&keys, |keys: &u64, (i, v): (u64, String)| (mix(i) % keys, v))
                .group_by_key_into(parts)
                .map(|(k, vs): (u64, Vec<String>)| (k, vs.len() as u64, vs.iter().map(|v| index_of(v)).sum::<u64>()));
            let start = Instant::now();
            groups.save_as_text_file(output)?;
            println!("seconds {:.6}", start.elapsed().as_secs_f64());
        }
        ["spill-join", n, keys, parts, output] => {
            let keys: u64 = keys.parse()?;
            let (records, parts) = generated(n, parts)?;
            let left = records.map_with(&keys, |keys: &u64, (i, v): (u64, String)| (mix(i) % keys, v));
            let right = spindle::range_with(0, keys as i64, 1, parts)?.map(|k: i64| (k as u64, format!("name-{k}")));
            let rows = left
                .join(&right)
                .map(|(k, (v, _name)): (u64, (String, String))| (k, (1u64, index_of(&v))))
                .reduce_by_key(|a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1))
                .map(|(k, (n, sum)): (u64, (u64, u64))| (k, n, sum));
            let start = Instant::now();
            rows.save_as_text_file(output)?;
            println!("seconds {:.6}", start.elapsed().as_secs_f64());
        }
        ["spill-reduce", n, keys, parts] => {
            let keys: u64 = keys.parse()?;
            let (records, parts) = generated(n, parts)?;
            let counts = records
                .map_with(&keys, |keys: &u64, (i, _): (u64, String)| (mix(i) % keys, 1u64))
                .reduce_by_key_into(|a, b| a + b, parts);
            let start = Instant::now();
            let (k, total, check) = counts.aggregate(
                (0u64, 0u64, 0u64),
                |acc: (u64, u64, u64), (key, n): (u64, u64)| {
                    (acc.0 + 1, acc.1 + n, acc.2.wrapping_add(mix(key ^ mix(n))))
                },
                |a: (u64, u64, u64), b: (u64, u64, u64)| (a.0 + b.0, a.1 + b.1, a.2.wrapping_add(b.2)),
            )?;
            println!("keys {k} total {total} check {check}");
            println!("seconds {:.6}", start.elapsed().as_secs_f64());
        }
        ["partition-lines", input, form] => {
            let lines = spindle::text_file(input)?;
            let counts = match *form {
                "iter" => lines.map_partitions(|items: spindle::PartitionIter<String>| {
                    let (mut n, mut bytes) = (0u64, 0u64);
                    for line in items {
                        n += 1;
                        bytes += line.len() as u64;
                    }
                    [(n, bytes)]
                }),
                _ => lines.map_partitions_vec(|items: Vec<String>| {
                    [(items.len() as u64, items.iter().map(|l| l.len() as u64).sum::<u64>())]
                }),
            };
            let (n, bytes) = counts.collect()?.into_iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            println!("lines {n} bytes {bytes}");
        }
        _ => {
            return Err(spindle::Error::msg(
                "usage: bench-jobs (noop TASKS | tiny RUNS | wordcount INPUT OUTPUT_DIR | scan|split|combine INPUT | \
                 spill-sort N PARTS OUTPUT_DIR | spill-group|spill-join N KEYS PARTS OUTPUT_DIR | \
                 spill-reduce N KEYS PARTS | partition-lines INPUT iter|vec)",
            ));
        }
    }
    Ok(())
}

spindle::main!(run);
