//! Aggregation: `aggregate INPUT OUTPUT_DIR`.
//!
//! INPUT holds `key value` lines (value a signed integer). Writes `key<TAB>sum`
//! lines, one per distinct key, into OUTPUT_DIR and prints the number of keys.

fn parse(line: String) -> Option<(String, i64)> {
    let (key, value) = line.split_once(' ')?;
    Some((key.to_owned(), value.trim().parse().ok()?))
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [input, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: aggregate INPUT OUTPUT_DIR"));
    };
    let sums = spindle::text_file(input)?.flat_map(parse).reduce_by_key(|a, b| a + b);
    sums.map(|(k, v): (String, i64)| format!("{k}\t{v}")).save_as_text_file(output)?;
    println!("{} keys", sums.count()?);
    Ok(())
}

spindle::main!(run);
