//! Word count with paced tasks, for fault-tolerance tests:
//! `paced-wordcount INPUT OUTPUT_DIR PARTITIONS MAP_US REDUCE_US`.
//!
//! The same result as the `wordcount` example (`word<TAB>count` lines in
//! `OUTPUT_DIR/part-NNNNN`), over PARTITIONS input splits and PARTITIONS reduce
//! partitions; each map task sleeps MAP_US µs per line and each reduce task
//! REDUCE_US µs per distinct word, so a test knows a stage lasts long enough to
//! lose an executor in the middle of it.

use std::time::Duration;

fn paced_words(us: &u64, line: String) -> Vec<String> {
    std::thread::sleep(Duration::from_micros(*us));
    line.split_whitespace().map(str::to_owned).collect()
}

fn paced_line(us: &u64, (word, n): (String, u64)) -> String {
    std::thread::sleep(Duration::from_micros(*us));
    format!("{word}\t{n}")
}

fn number(args: &[String], i: usize, what: &str) -> spindle::Result<u64> {
    args[i].parse().map_err(|_| spindle::Error::msg(format!("{what} `{}` is not a number", args[i])))
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    if args.len() != 5 {
        return Err(spindle::Error::msg("usage: paced-wordcount INPUT OUTPUT_DIR PARTITIONS MAP_US REDUCE_US"));
    }
    let partitions = number(&args, 2, "PARTITIONS")? as u32;
    let (map_us, reduce_us) = (number(&args, 3, "MAP_US")?, number(&args, 4, "REDUCE_US")?);
    // Printed before the job runs: a client sees it while the job runs.
    println!("paced word count: {partitions} partitions");
    spindle::text_file_with_partitions(&args[0], partitions)?
        .flat_map_with(&map_us, paced_words)
        .map(|word: String| (word, 1u64))
        .reduce_by_key_into(|a, b| a + b, partitions)
        .map_with(&reduce_us, paced_line)
        .save_as_text_file(&args[1])?;
    println!("paced word count done");
    Ok(())
}

spindle::main!(run);
