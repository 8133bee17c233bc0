//! Word count: `wordcount INPUT OUTPUT_DIR [OUTPUT_CODEC [INPUT_CODEC]]`.
//!
//! Reads INPUT (a file, a directory, a glob or an object store's URL; compressed
//! files too, by extension, or all as INPUT_CODEC says), splits lines into words
//! on Unicode whitespace, counts each word, writes `word<TAB>count` lines into
//! `OUTPUT_DIR/part-NNNNN` files (compressed when asked: `part-NNNNN.gz`, `.zst`
//! or `.bz2`), then `OUTPUT_DIR/_SUCCESS`, and prints the ten most frequent
//! words. A codec is `none`, `gzip`, `zstd` or `bzip2`.

use std::cmp::Reverse;

const USAGE: &str = "usage: wordcount INPUT OUTPUT_DIR [OUTPUT_CODEC [INPUT_CODEC]] (codecs: none, gzip, zstd, bzip2)";

fn codec(name: &str) -> spindle::Result<spindle::Compression> {
    Ok(match name {
        "none" => spindle::Compression::None,
        "gzip" => spindle::Compression::Gzip,
        "zstd" => spindle::Compression::Zstd,
        "bzip2" => spindle::Compression::Bzip2,
        _ => return Err(spindle::Error::msg(format!("unknown codec `{name}`; {USAGE}"))),
    })
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let (input, output, codecs) = match args.as_slice() {
        [input, output, codecs @ ..] if codecs.len() <= 2 => (input, output, codecs),
        _ => return Err(spindle::Error::msg(USAGE)),
    };
    let compression = codecs.first().map_or(Ok(spindle::Compression::None), |c| codec(c))?;
    let input_codec = codecs.get(1).map(|c| codec(c)).transpose()?;
    let options = spindle::TextOptions { compression: input_codec, ..Default::default() };
    let counts = spindle::text_file_with(input, options)?
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
