//! The aggregation example: sums per key, including negative values, malformed
//! lines skipped, compared with sums computed here.

use std::collections::BTreeMap;

use spindle_tests::*;

#[test]
fn aggregate_sums_per_key() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let input = work.path().join("pairs.txt");
    let mut rng = Rng(99);
    let mut text = String::new();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..50_000 {
        let key = format!("k{}", rng.next_u64() % 5_000);
        let value = (rng.next_u64() % 2001) as i64 - 1000;
        text.push_str(&format!("{key} {value}\n"));
        *want.entry(key).or_default() += value;
        if i % 1000 == 0 {
            text.push_str("not-a-pair\nk1 not-a-number\n");
        }
    }
    std::fs::write(&input, text)?;
    let out_dir = work.path().join("out");
    let out = run_local(
        &example("aggregate"),
        2,
        &work.path().join("cache"),
        &[input.to_str().unwrap(), out_dir.to_str().unwrap()],
    )?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{} keys", want.len()));
    let mut got = BTreeMap::new();
    for part in part_files(&out_dir) {
        for line in std::fs::read_to_string(part)?.lines() {
            let (k, v) = line.split_once('\t').unwrap();
            assert!(got.insert(k.to_string(), v.parse::<i64>()?).is_none(), "duplicate key {k}");
        }
    }
    assert_eq!(got, want);
    Ok(())
}
