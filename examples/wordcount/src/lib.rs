//! Word count: `wordcount INPUT OUTPUT_DIR [gzip|zstd]`.
//!
//! Reads INPUT (a file, a directory or a glob; compressed files too), splits lines
//! into words on Unicode whitespace, counts each word, writes `word<TAB>count`
//! lines into `OUTPUT_DIR/part-NNNNN` files (compressed when asked:
//! `part-NNNNN.gz` or `.zst`), then `OUTPUT_DIR/_SUCCESS`, and prints the ten most
//! frequent words.

use std::cmp::Reverse;

fn run(args: Vec<String>) -> spindle::Result<()> {
    let (input, output, compression) = match args.as_slice() {
        [input, output] => (input, output, spindle::Compression::None),
        [input, output, c] if c == "gzip" => (input, output, spindle::Compression::Gzip),
        [input, output, c] if c == "zstd" => (input, output, spindle::Compression::Zstd),
        _ => return Err(spindle::Error::msg("usage: wordcount INPUT OUTPUT_DIR [gzip|zstd]")),
    };
    let counts = spindle::text_file(input)?
        // One word at a time, each its own String (no collection per line).
        .flat_map(spindle::words)
        .map(|word: String| (word, 1u64))
        .reduce_by_key(|a, b| a + b);
    // A pair is written as its fields separated by a tab: `word<TAB>count`.
    counts.save_as_text_file_with(output, spindle::SaveOptions { compression })?;

    // More actions over the same counts reuse the shuffle the first one wrote.
    // The ten most frequent (ties by word): each task picks its partition's ten.
    let top = counts.map(|(word, n): (String, u64)| (Reverse(n), word)).take_ordered(10)?;
    println!("{} distinct words; the most frequent:", counts.count()?);
    for (Reverse(n), word) in &top {
        println!("{n:>10}  {word}");
    }
    Ok(())
}

spindle::main!(run);
