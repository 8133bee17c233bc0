//! Overhead probes, one mode per run:
//!
//! - `noop TASKS`: one record per partition through a no-op map, counted: TASKS
//!   tasks of nearly no work. Prints `tasks TASKS seconds S`.
//! - `tiny RUNS`: RUNS times, `count` over 2 partitions of 10 records. Prints one
//!   `latency_us N` line per run.
//! - `wordcount INPUT OUTPUT_DIR`: word count as the benchmark's other systems run
//!   it: count every word, write `word<TAB>count` lines. The pipeline of
//!   `examples/wordcount`, without the example's extra actions (the ten most
//!   frequent words and a count), which the native and Spark jobs do not run.
//! - `scan INPUT`, `split INPUT`, `combine INPUT`: word count cut short after
//!   reading lines, after splitting words, and after the shuffle; each prints
//!   `count N seconds S`, to see where word count spends its time.

use std::time::Instant;

fn run(args: Vec<String>) -> spindle::Result<()> {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["noop", tasks] => {
            let tasks: u32 = tasks.parse()?;
            let ones = vec![1u8; tasks as usize];
            let ds = spindle::parallelize(&ones, tasks)?.map(|x: u8| x);
            let start = Instant::now();
            let n = ds.count()?;
            let secs = start.elapsed().as_secs_f64();
            if n != u64::from(tasks) {
                return Err(spindle::Error::msg(format!("counted {n} records, expected {tasks}")));
            }
            println!("tasks {tasks} seconds {secs:.6}");
        }
        ["tiny", runs] => {
            let runs: u32 = runs.parse()?;
            let records: Vec<u64> = (0..20).collect();
            let ds = spindle::parallelize(&records, 2)?.map(|x: u64| x + 1);
            for _ in 0..runs {
                let start = Instant::now();
                let n = ds.count()?;
                let us = start.elapsed().as_micros();
                if n != 20 {
                    return Err(spindle::Error::msg(format!("counted {n} records, expected 20")));
                }
                println!("latency_us {us}");
            }
        }
        ["wordcount", input, output] => {
            let counts = spindle::text_file(input)?
                .flat_map(spindle::words)
                .map(|word: String| (word, 1u64))
                .reduce_by_key(|a, b| a + b);
            counts.save_as_text_file(output)?;
        }
        [stage @ ("scan" | "split" | "combine"), input] => {
            let lines = spindle::text_file(input)?;
            let start = Instant::now();
            let n = match *stage {
                "scan" => lines.count()?,
                "split" => lines.flat_map(spindle::words).count()?,
                _ => lines.flat_map(spindle::words).map(|w: String| (w, 1u64)).reduce_by_key(|a, b| a + b).count()?,
            };
            println!("count {n} seconds {:.6}", start.elapsed().as_secs_f64());
        }
        _ => {
            return Err(spindle::Error::msg(
                "usage: bench-jobs (noop TASKS | tiny RUNS | wordcount INPUT OUTPUT_DIR | scan|split|combine INPUT)",
            ));
        }
    }
    Ok(())
}

spindle::main!(run);
