//! Repeated actions over a persisted text dataset: `cache-check INPUT LEVEL ROUNDS
//! [PAUSE_MS]` with LEVEL `memory`, `memory-and-disk`, `disk` or `none`. Each round
//! prints `round R: LINES BYTES` (lines and the sum of line lengths), computed by
//! one action over the persisted dataset of (line length, line). With PAUSE_MS,
//! `main` waits that long after the first round (its executors sit idle, holding
//! the kept partitions).

use spindle::StorageLevel;

fn run(args: Vec<String>) -> spindle::Result<()> {
    let (input, level, rounds, pause_ms) = match args.as_slice() {
        [input, level, rounds] => (input, level, rounds, 0),
        [input, level, rounds, pause] => (input, level, rounds, pause.parse::<u64>()?),
        _ => return Err(spindle::Error::msg("usage: cache-check INPUT LEVEL ROUNDS [PAUSE_MS]")),
    };
    let lines = spindle::text_file_with_partitions(input, 8)?.map(|l: String| (l.len() as u64, l));
    match level.as_str() {
        "memory" => lines.persist(StorageLevel::MemoryOnly),
        "memory-and-disk" => lines.persist(StorageLevel::MemoryAndDisk),
        "disk" => lines.persist(StorageLevel::DiskOnly),
        "none" => lines.clone(),
        other => return Err(spindle::Error::msg(format!("unknown level `{other}`"))),
    };
    for round in 1..=rounds.parse::<u32>()? {
        let (count, bytes) = lines.aggregate(
            (0u64, 0u64),
            |(n, b): (u64, u64), (len, _): (u64, String)| (n + 1, b + len),
            |x: (u64, u64), y: (u64, u64)| (x.0 + y.0, x.1 + y.1),
        )?;
        println!("round {round}: {count} {bytes}");
        if round == 1 && pause_ms > 0 {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(pause_ms) {
                std::hint::spin_loop();
            }
        }
    }
    lines.unpersist();
    Ok(())
}

spindle::main!(run);
