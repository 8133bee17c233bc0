//! The rest of the dataset API (grouping, distinct, union, take, ordering,
//! sort, aggregate, count by key, repartition, coalesce, map partitions, range,
//! sampling, joins, cogroup, broadcast values, accumulators), each result checked
//! against one computed here.

use std::collections::BTreeMap;

use spindle_tests::*;

fn scramble(x: i64) -> i64 {
    (x * 7919) % 10007
}

/// Every line the `tour` example prints, except the sample's size and the
/// with-replacement count (random; checked for range instead).
fn expected(n: i64) -> Vec<String> {
    let nums: Vec<i64> = (1..=n).collect();
    let mut out = vec![format!("range_sum: {}", nums.iter().sum::<i64>()), format!("reduce_max: Some({n})")];
    let sizes: Vec<(i64, u64)> = (0..5).map(|r| (r, nums.iter().filter(|x| *x % 5 == r).count() as u64)).collect();
    out.push(format!("group_sizes: {sizes:?}"));
    out.push(format!("distinct: {}", n.min(100)));
    out.push(format!("union_count: {}", 2 * n));
    out.push(format!("take: {:?}", &nums[..5]));
    out.push("first: Some(4)".into());
    let mut s: Vec<i64> = nums.iter().map(|x| scramble(*x)).collect();
    s.sort();
    out.push(format!("take_ordered: {:?}", &s[..3]));
    let top: Vec<i64> = s.iter().rev().take(3).copied().collect();
    out.push(format!("top: {top:?}"));
    out.push(format!("sort_desc_take: {top:?}"));
    let smallest = nums.iter().min_by_key(|x| scramble(**x)).unwrap();
    out.push(format!("sort_by_first: Some({smallest})"));
    out.push(format!("aggregate: {} {n}", nums.iter().sum::<i64>()));
    let by_key: Vec<(i64, u64)> = (0..3).map(|r| (r, nums.iter().filter(|x| *x % 3 == r).count() as u64)).collect();
    out.push(format!("count_by_key: {by_key:?}"));
    out.push(format!("keys_sum: {}", nums.iter().map(|x| x % 10).sum::<i64>()));
    out.push(format!("values_sum: {}", nums.iter().sum::<i64>()));
    out.push(format!("repartition: 7 {n}"));
    // Round-robin: record j of map task i goes to partition (i + j) mod 7.
    let mut spread = [0u64; 7];
    for i in 0..4i64 {
        for j in 0..(n * (i + 1) / 4 - n * i / 4) {
            spread[((i + j) % 7) as usize] += 1;
        }
    }
    spread.sort();
    out.push(format!("repartition_sizes: {spread:?}"));
    out.push(format!("coalesce: 2 {n}"));
    let per: Vec<(u32, u64)> = (0..4u32).map(|i| (i, (n * (i as i64 + 1) / 4 - n * i as i64 / 4) as u64)).collect();
    out.push(format!("map_partitions: {per:?}"));
    out.push("sample_stable: true".into());
    // Join of (x % 4, x) for x <= 20 with keys 0, 1 (twice) and 5.
    let left: Vec<(i64, i64)> = (1..=20).map(|x| (x % 4, x)).collect();
    let right = [(0, "zero"), (1, "one"), (1, "uno"), (5, "five")];
    let mut joined: Vec<(i64, (i64, String))> = Vec::new();
    for (k, v) in &left {
        for (rk, rv) in &right {
            if k == rk {
                joined.push((*k, (*v, rv.to_string())));
            }
        }
    }
    joined.sort();
    out.push(format!("join: {} {:?}", joined.len(), joined.first()));
    out.push("left_outer_unmatched_keys: [2, 3]".into());
    let mut co: Vec<(i64, u64, u64)> = Vec::new();
    for k in [0, 1, 2, 3, 5] {
        let l = left.iter().filter(|(lk, _)| *lk == k).count() as u64;
        let r = right.iter().filter(|(rk, _)| *rk == k).count() as u64;
        co.push((k, l, r));
    }
    out.push(format!("cogroup: {co:?}"));
    out.push(format!("broadcast_sum: {}", nums.iter().map(|x| (x % 10) * (x % 10)).sum::<i64>()));
    let halves: f64 = nums.iter().map(|x| *x as f64 / 2.0).sum();
    out.push(format!("accumulators: {} {}", n / 2, halves));
    out
}

fn check(stdout: &str, out_dir: &std::path::Path, n: i64) {
    let got: Vec<&str> = stdout.lines().collect();
    let field = |name: &str| -> f64 {
        let line = got.iter().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no `{name}` line in:\n{stdout}"));
        line.split_once(": ").unwrap().1.parse().unwrap()
    };
    let kept: Vec<&str> = got
        .iter()
        .copied()
        .filter(|l| !l.starts_with("sample_size") && !l.starts_with("sample_with_replacement"))
        .collect();
    assert_eq!(kept, expected(n), "full output:\n{stdout}");
    // A 10% Bernoulli sample and a Poisson(2) sample with replacement: within 6 sigma.
    let (sample, poisson) = (field("sample_size: "), field("sample_with_replacement: "));
    let nf = n as f64;
    assert!((sample - 0.1 * nf).abs() < 6.0 * (nf * 0.09).sqrt(), "sample of {sample} from {n}");
    assert!((poisson - 2.0 * nf).abs() < 6.0 * (2.0 * nf).sqrt(), "{poisson} with replacement from {n}");
    let counts: BTreeMap<String, u64> = part_lines(out_dir)
        .into_iter()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    let want: BTreeMap<String, u64> =
        (0..3).map(|r| (r.to_string(), (1..=n).filter(|x| x % 3 == r).count() as u64)).collect();
    assert_eq!(counts, want, "pairs saved as `key<TAB>value` lines");
}

#[test]
fn the_rest_of_the_dataset_api_in_local_mode() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let out_dir = work.path().join("out");
    let n = 3000;
    let out = run_local(&example("tour"), 2, &work.path().join("cache"), &[&n.to_string(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    check(&String::from_utf8_lossy(&out.stdout), &out_dir, n);
    Ok(())
}

#[test]
fn the_rest_of_the_dataset_api_across_executor_processes() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let out_dir = work.path().join("out");
    let n = 20_000;
    let out = cluster.submit(&example("tour"), &[&n.to_string(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    check(&String::from_utf8_lossy(&out.stdout), &out_dir, n);
    Ok(())
}
