//! A global sort of generated records: `sort N PARTITIONS asc|desc OUTPUT_DIR`.
//!
//! Record `i` has key `mix(i) % 1_000_000` and value `r<i>`. Sorts by key into
//! PARTITIONS range partitions and writes `key<TAB>value` lines: reading the part
//! files in order gives every record in key order.

/// SplitMix64's finalizer: a well-mixed hash of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [n, partitions, order, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: sort N PARTITIONS asc|desc OUTPUT_DIR"));
    };
    let (n, partitions): (i64, u32) = (n.parse()?, partitions.parse()?);
    let ascending = match order.as_str() {
        "asc" => true,
        "desc" => false,
        other => return Err(spindle::Error::msg(format!("order must be asc or desc, not `{other}`"))),
    };
    let records = spindle::range(0, n)?.map(|i: i64| (mix(i as u64) % 1_000_000, format!("r{i}")));
    let sorted = records.sort_by_key_into(ascending, partitions)?;
    println!("partitions: {}", sorted.num_partitions());
    sorted.save_as_text_file(output)?;
    Ok(())
}

spindle::main!(run);
