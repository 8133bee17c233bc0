//! A global sort: `sort (N | INPUT) PARTITIONS asc|desc OUTPUT_DIR`.
//!
//! With a number N, sorts N generated records: record `i` has key
//! `mix(i) % 1_000_000` and value `r<i>`. With a path, sorts the `key value` lines of
//! INPUT by key (as text). Sorts into PARTITIONS range partitions and writes
//! `key<TAB>value` lines: reading the part files in order gives every record in
//! key order.

/// SplitMix64's finalizer: a well-mixed hash of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A `key value` line as a record; other lines are skipped.
fn split_record(line: String) -> Option<(String, String)> {
    let (key, value) = line.split_once(' ')?;
    Some((key.to_owned(), value.to_owned()))
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [source, partitions, order, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: sort (N | INPUT) PARTITIONS asc|desc OUTPUT_DIR"));
    };
    let partitions: u32 = partitions.parse()?;
    let ascending = match order.as_str() {
        "asc" => true,
        "desc" => false,
        other => return Err(spindle::Error::msg(format!("order must be asc or desc, not `{other}`"))),
    };
    match source.parse::<i64>() {
        Ok(n) => {
            let records = spindle::range(0, n)?.map(|i: i64| (mix(i as u64) % 1_000_000, format!("r{i}")));
            sort_and_save(&records, ascending, partitions, output)
        }
        Err(_) => sort_and_save(&spindle::text_file(source)?.flat_map(split_record), ascending, partitions, output),
    }
}

/// Sorts `records` by key into range partitions and writes them to `output`.
fn sort_and_save<K: spindle::Data, V: spindle::Data>(
    records: &spindle::Dataset<(K, V)>,
    ascending: bool,
    partitions: u32,
    output: &str,
) -> spindle::Result<()>
where
    (K, V): spindle::Line,
{
    let sorted = records.sort_by_key_into(ascending, partitions)?;
    println!("partitions: {}", sorted.num_partitions());
    sorted.save_as_text_file(output)
}

spindle::main!(run);
