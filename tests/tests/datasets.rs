//! The dataset API beyond word count (parallelize, filter, map_with, flat_map into
//! structs, reduce_by_key into a chosen partition count, chained shuffles,
//! map_values, count, collect), checked against results computed here.

use std::collections::BTreeMap;

use spindle_tests::*;

fn expected(n: u64) -> String {
    let count_even = n / 2;
    let mut sums: BTreeMap<u64, u64> = BTreeMap::new();
    for x in 1..=n {
        *sums.entry(x % 7).or_default() += x * 3;
    }
    let sum_list: Vec<(u64, u64)> = sums.iter().map(|(k, v)| (*k, *v)).collect();
    let mut digits: BTreeMap<u8, u64> = BTreeMap::new();
    for s in sums.values() {
        *digits.entry((s % 10) as u8).or_default() += 1;
    }
    let digit_list: Vec<(u8, u64)> = digits.into_iter().collect();
    let tagged: u64 = (1..=n).map(|x| x % 3).sum();
    format!(
        "count_even: {count_even}\nsum_by_residue: {sum_list:?}\npartitions: 3\nclasses_by_sum_digit: {digit_list:?}\ntagged: {tagged}\n"
    )
}

fn check_output(dir: &std::path::Path, n: u64) {
    let mut lines: Vec<String> = part_files(dir)
        .iter()
        .flat_map(|p| std::fs::read_to_string(p).unwrap().lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    lines.sort();
    let mut want: Vec<String> =
        (0..7u64).map(|r| format!("{r}\t{}", (1..=n).filter(|x| x % 7 == r).map(|x| x * 3).sum::<u64>())).collect();
    want.sort();
    assert_eq!(lines, want);
    assert_eq!(part_files(dir).len(), 3);
    assert!(dir.join("_SUCCESS").exists());
    check_typed_lines(dir, n);
}

/// The typed saves beside the output: the host formats the lines of plain
/// values and pairs, the guest the others; every line must read as Rust's
/// `Display` writes the values (pairs and triples tab-separated), in order.
fn check_typed_lines(dir: &std::path::Path, n: u64) {
    /// A saved dataset's directory suffix, and x's line in it.
    type Lines = (&'static str, fn(u64) -> String);
    let want: Vec<Lines> = vec![
        ("signed-unsigned", |x| format!("{}\t{}", x as i64 - 5_000, x * x)),
        ("bool-text", |x| format!("{}\tn{x}", x % 2 == 0)),
        ("i32", |x| format!("{}", -(x as i32))),
        ("u8-i16", |x| format!("{}\t{}", (x % 256) as u8, (x as i16).wrapping_mul(-7))),
        ("text-u128", |x| format!("k{x}\t{}", u128::from(x) << 70)),
        ("i128-bool", |x| format!("{}\t{}", -(i128::from(x) << 80), x % 3 == 0)),
        ("text", |x| format!("s{x}")),
        ("u64-f64", |x| format!("{x}\t{}", x as f64 / 4.0)),
        ("triple", |x| format!("{x}\t{}\tt{x}", x + 1)),
    ];
    for (name, line) in want {
        let out = dir.with_extension(name);
        assert!(out.join("_SUCCESS").exists(), "{name}: no _SUCCESS");
        let got: String = part_files(&out).iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
        let want: String = (1..=n).map(|x| line(x) + "\n").collect();
        assert!(got == want, "{name}: the lines differ from Display's, first: {:?}", got.lines().next());
    }
}

#[test]
fn dataset_api_in_local_mode() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let out_dir = work.path().join("out");
    let n = 10_000;
    let out =
        run_local(&example("datasets"), 2, &work.path().join("cache"), &[&n.to_string(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected(n));
    check_output(&out_dir, n);
    Ok(())
}

#[test]
fn dataset_api_across_executor_processes() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let out_dir = work.path().join("out");
    let n = 25_000;
    let out = cluster.submit(&example("datasets"), &[&n.to_string(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected(n));
    check_output(&out_dir, n);
    Ok(())
}
