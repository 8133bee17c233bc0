//! A tour of the dataset API: `datasets N OUTPUT_DIR`.
//!
//! Works on the numbers 1..=N and prints one `name: value` line per result, so a
//! test can check each against its own computation:
//! - `count_even`: how many are even (`filter`, `count`);
//! - `sum_by_residue`: the sum of each residue class mod 7, scaled by a factor
//!   shipped with `map_with` (`reduce_by_key` into 3 partitions, `collect`);
//! - `classes_by_sum_digit`: a second shuffle over the first one's result;
//! - `tagged`: how many records a `flat_map` into structs produced;
//! - it also saves `residue<TAB>sum` lines into OUTPUT_DIR, and lines of typed
//!   values of x (pairs of integers, bools and strings, strings, floats, triples)
//!   into `OUTPUT_DIR.NAME` directories beside it.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone)]
struct Tagged {
    n: u64,
    label: String,
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [n, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: datasets N OUTPUT_DIR"));
    };
    let n: u64 = n.parse()?;
    let numbers: Vec<u64> = (1..=n).collect();
    let ds = spindle::parallelize(&numbers, 4)?;

    let even = ds.filter(|x: &u64| x.is_multiple_of(2)).count()?;
    println!("count_even: {even}");

    let factor: u64 = 3;
    let sums = ds.map_with(&factor, |f: &u64, x: u64| (x % 7, x * f)).reduce_by_key_into(|a: u64, b: u64| a + b, 3);
    let mut collected = sums.collect()?;
    collected.sort();
    println!("sum_by_residue: {collected:?}");
    println!("partitions: {}", sums.num_partitions());

    // A second shuffle keyed by the last digit of each sum.
    let mut by_digit = sums
        .map(|(residue, sum): (u64, u64)| ((sum % 10) as u8, vec![residue]))
        .reduce_by_key(|mut a: Vec<u64>, b: Vec<u64>| {
            a.extend(b);
            a.sort();
            a
        })
        .map_values(|v: Vec<u64>| v.len() as u64)
        .collect()?;
    by_digit.sort();
    println!("classes_by_sum_digit: {by_digit:?}");

    let tagged = ds
        .flat_map(|x: u64| (0..x % 3).map(move |i| Tagged { n: x, label: format!("{x}-{i}") }).collect::<Vec<_>>())
        .filter(|t: &Tagged| !t.label.is_empty() && t.n > 0);
    println!("tagged: {}", tagged.count()?);

    sums.map(|(r, s): (u64, u64)| format!("{r}\t{s}")).save_as_text_file(output)?;

    // Lines of plain values and pairs of them are formatted by the host, the
    // rest (floats, triples) by the guest: each must read as `Line` writes it.
    let typed = |name: &str| format!("{output}.{name}");
    ds.map(|x: u64| (x as i64 - 5_000, x * x)).save_as_text_file(&typed("signed-unsigned"))?;
    ds.map(|x: u64| (x.is_multiple_of(2), format!("n{x}"))).save_as_text_file(&typed("bool-text"))?;
    ds.map(|x: u64| -(x as i32)).save_as_text_file(&typed("i32"))?;
    ds.map(|x: u64| ((x % 256) as u8, (x as i16).wrapping_mul(-7))).save_as_text_file(&typed("u8-i16"))?;
    ds.map(|x: u64| (format!("k{x}"), u128::from(x) << 70)).save_as_text_file(&typed("text-u128"))?;
    ds.map(|x: u64| (-(i128::from(x) << 80), x.is_multiple_of(3))).save_as_text_file(&typed("i128-bool"))?;
    ds.map(|x: u64| format!("s{x}")).save_as_text_file(&typed("text"))?;
    ds.map(|x: u64| (x, x as f64 / 4.0)).save_as_text_file(&typed("u64-f64"))?;
    ds.map(|x: u64| (x, x + 1, format!("t{x}"))).save_as_text_file(&typed("triple"))?;
    Ok(())
}

spindle::main!(run);
