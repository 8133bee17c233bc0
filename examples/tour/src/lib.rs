//! The rest of the dataset API: `tour N OUTPUT_DIR`. Works on the integers
//! 1..=N and prints one `name: value` line per result, so a test can check each
//! against its own computation; saves `residue<TAB>count` pairs into OUTPUT_DIR.

use spindle::{Accumulator, Broadcast};

fn scramble(x: i64) -> i64 {
    (x * 7919) % 10007
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [n, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: tour N OUTPUT_DIR"));
    };
    let n: i64 = n.parse()?;
    let numbers = spindle::range_with(1, n + 1, 1, 4)?;

    println!("range_sum: {}", numbers.fold(0, |a: i64, b: i64| a + b)?);
    println!("reduce_max: {:?}", numbers.reduce(|a: i64, b: i64| a.max(b))?);
    let mut sizes =
        numbers.map(|x: i64| (x % 5, x)).group_by_key().map_values(|v: Vec<i64>| v.len() as u64).collect()?;
    sizes.sort();
    println!("group_sizes: {sizes:?}");
    println!("distinct: {}", numbers.map(|x: i64| x % 100).distinct().count()?);
    println!("union_count: {}", numbers.union(&numbers).count()?);
    println!("take: {:?}", numbers.take(5)?);
    println!("first: {:?}", numbers.filter(|x: &i64| *x > 3).first()?);
    let scrambled = numbers.map(scramble);
    println!("take_ordered: {:?}", scrambled.take_ordered(3)?);
    println!("top: {:?}", scrambled.top(3)?);
    let sorted_desc = scrambled.map(|s: i64| (s, ())).sort_by_key_into(false, 3)?.keys();
    println!("sort_desc_take: {:?}", sorted_desc.take(3)?);
    let by_value = numbers.sort_by(|x: &i64| scramble(*x), true)?;
    println!("sort_by_first: {:?}", by_value.first()?);
    let (sum, count) = numbers.aggregate(
        (0i64, 0u64),
        |(s, c): (i64, u64), x: i64| (s + x, c + 1),
        |a: (i64, u64), b: (i64, u64)| (a.0 + b.0, a.1 + b.1),
    )?;
    println!("aggregate: {sum} {count}");
    let mut by_key: Vec<(i64, u64)> = numbers.map(|x: i64| (x % 3, x)).count_by_key()?.into_iter().collect();
    by_key.sort();
    println!("count_by_key: {by_key:?}");
    let pairs = numbers.map(|x: i64| (x % 10, x));
    println!("keys_sum: {}", pairs.keys().fold(0, |a: i64, b: i64| a + b)?);
    println!("values_sum: {}", pairs.values().fold(0, |a: i64, b: i64| a + b)?);
    let spread = numbers.repartition(7);
    println!("repartition: {} {}", spread.num_partitions(), spread.count()?);
    let mut spread_sizes =
        spread.map_partitions(|items: spindle::PartitionIter<i64>| [items.count() as u64]).collect()?;
    spread_sizes.sort();
    println!("repartition_sizes: {spread_sizes:?}");
    let merged = numbers.coalesce(2);
    println!("coalesce: {} {}", merged.num_partitions(), merged.count()?);
    let mut per_partition = numbers
        .map_partitions_with_index(|i: u32, items: spindle::PartitionIter<i64>| [(i, items.count() as u64)])
        .collect()?;
    per_partition.sort();
    println!("map_partitions: {per_partition:?}");
    let sample = numbers.sample(false, 0.1, 42);
    let (a, b) = (sample.collect()?, sample.collect()?);
    println!("sample_stable: {}", a == b && !a.is_empty() && a.iter().all(|x| (1..=n).contains(x)));
    println!("sample_size: {}", a.len());
    let with_replacement = numbers.sample(true, 2.0, 7).count()?;
    println!("sample_with_replacement: {with_replacement}");

    let left = numbers.filter(|x: &i64| *x <= 20).map(|x: i64| (x % 4, x));
    let right = spindle::parallelize(
        &[(0i64, "zero".to_string()), (1, "one".into()), (1, "uno".into()), (5, "five".into())],
        2,
    )?;
    let mut joined = left.join(&right).collect()?;
    joined.sort();
    println!("join: {} {:?}", joined.len(), joined.first());
    let mut outer = left
        .left_outer_join(&right)
        .filter(|(_, (_, r)): &(i64, (i64, Option<String>))| r.is_none())
        .keys()
        .collect()?;
    outer.sort();
    outer.dedup();
    println!("left_outer_unmatched_keys: {outer:?}");
    let mut co = left
        .cogroup(&right)
        .map(|(k, (l, r)): (i64, (Vec<i64>, Vec<String>))| (k, l.len() as u64, r.len() as u64))
        .collect()?;
    co.sort();
    println!("cogroup: {co:?}");

    let table: Vec<i64> = (0..10).map(|i| i * i).collect();
    let squares = spindle::broadcast(table)?;
    let looked_up = numbers
        .map_with(&squares, |t: &Broadcast<Vec<i64>>, x: i64| t.value().expect("broadcast")[(x % 10) as usize])
        .fold(0, |a: i64, b: i64| a + b)?;
    println!("broadcast_sum: {looked_up}");
    let evens = spindle::accumulator::<i64>("evens");
    let halves = spindle::accumulator::<f64>("halves");
    numbers
        .map_with(&(evens, halves), |(e, h): &(Accumulator<i64>, Accumulator<f64>), x: i64| {
            if x % 2 == 0 {
                e.add(1);
            }
            h.add(x as f64 / 2.0);
            x
        })
        .count()?;
    println!("accumulators: {} {}", evens.value(), halves.value());

    numbers.map(|x: i64| (x % 3, 1u64)).reduce_by_key(|a: u64, b: u64| a + b).save_as_text_file(output)?;
    Ok(())
}

spindle::main!(run);
