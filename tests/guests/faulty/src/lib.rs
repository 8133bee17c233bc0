//! A misbehaving job for tests: `faulty MODE`.
//!
//! - `panic-in-task`: a map closure panics on one element, inside an executor task.
//! - `fail-in-main`: `main` returns an error without running a job.

fn explode(x: u64) -> u64 {
    if x == 37 {
        panic!("element 37 is cursed");
    }
    x
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    match args.first().map(String::as_str) {
        Some("panic-in-task") => {
            let xs: Vec<u64> = (0..100).collect();
            let n = spindle::parallelize(&xs, 4)?.map(explode).count()?;
            println!("counted {n}");
            Ok(())
        }
        Some("fail-in-main") => Err(spindle::Error::msg("main gave up on purpose")),
        _ => Err(spindle::Error::msg("usage: faulty (panic-in-task | fail-in-main)")),
    }
}

spindle::main!(run);
