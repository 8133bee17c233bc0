//! Word count: `wordcount INPUT OUTPUT_DIR`.
//!
//! Reads INPUT (a file, a directory or a glob), splits lines into words on Unicode
//! whitespace, counts each word, writes `word<TAB>count` lines into
//! `OUTPUT_DIR/part-NNNNN` files (then `OUTPUT_DIR/_SUCCESS`), and prints the ten
//! most frequent words.

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [input, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: wordcount INPUT OUTPUT_DIR"));
    };
    let counts = spindle::text_file(input)?
        // One word at a time, each its own String (no collection per line).
        .flat_map(spindle::words)
        .map(|word: String| (word, 1u64))
        .reduce_by_key(|a, b| a + b);
    counts.map(|(word, n): (String, u64)| format!("{word}\t{n}")).save_as_text_file(output)?;

    // A second action over the same counts reuses the shuffle the first one wrote.
    let mut top = counts.collect()?;
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("{} distinct words; the most frequent:", top.len());
    for (word, n) in top.iter().take(10) {
        println!("{n:>10}  {word}");
    }
    Ok(())
}

spindle::main!(run);
