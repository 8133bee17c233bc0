//! An adversarial job for tests: `attack MODE [ARG]`. Every mode but the `main-*`
//! ones misbehaves inside an executor task. A mode that manages to reach outside
//! its sandbox returns what it got and the application *succeeds*, which the
//! tests treat as a breach.
//!
//! - `loop`: spins forever.
//! - `alloc`: allocates (and touches) 1 MiB at a time until something stops it.
//! - `recurse`: recurses without end.
//! - `panic`: panics on one element.
//! - `stdout-flood`: writes 100 MiB to stdout, then finishes normally.
//! - `read-passwd`: reads `/etc/passwd`.
//! - `read-env`: lists the environment variables.
//! - `socket ADDR`: opens a TCP connection to `ADDR` (host:port).
//! - `huge-batch`: hands the host one 32 MiB batch.
//! - `malformed-frame`: hands the host a batch that is not framed records.
//! - `context-from-task`: calls the driver-side API (`parallelize`) from a task.
//! - `forged-count`: reports a count of records for a task whose output is collected.
//! - `main-loop`, `main-alloc`: the same as `loop` and `alloc`, in `main`.
//! - `fail-in-main`: `main` returns an error without running a job.
//! - `slow TASKS MS`: a well-behaved job of TASKS tasks that each sleep MS ms.
//! - `huge-shuffle`: `main` asks for a shuffle into 4 billion partitions.
//! - `many-accumulators`: a task updates 100,000 different accumulator ids.
//! - `unknown-broadcast`: a task reads a broadcast id that was never made.

use std::hint::black_box;
use std::io::Write;

use spindle::__private::bindings::spindle::job::task_io;

fn spin(x: u64) -> u64 {
    let mut v = x;
    loop {
        v = black_box(v.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn hoard(x: u64) -> u64 {
    let mut kept = Vec::new();
    loop {
        let mut block = vec![0u8; 1 << 20];
        for i in (0..block.len()).step_by(4096) {
            block[i] = x as u8;
        }
        kept.push(black_box(block));
    }
}

#[inline(never)]
fn dive(n: u64) -> u64 {
    if n == 0 { 1 } else { dive(n - 1).rotate_left(3) ^ n }
}

fn recurse(x: u64) -> u64 {
    dive(x + (1 << 40))
}

fn explode(x: u64) -> u64 {
    if x == 37 {
        panic!("element 37 is cursed");
    }
    x
}

fn flood(x: u64) -> u64 {
    let chunk = vec![b'x'; 64 << 10];
    let mut out = std::io::stdout();
    for _ in 0..1600 {
        out.write_all(&chunk).expect("stdout write");
    }
    x
}

fn breached(what: &str, got: String) -> String {
    format!("BREACH: {what}: {got}")
}

fn read_passwd(_x: u64) -> String {
    match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => breached("read /etc/passwd", text),
        Err(e) => panic!("cannot open /etc/passwd: {e}"),
    }
}

fn read_env(_x: u64) -> String {
    let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    if vars.is_empty() {
        panic!("no environment variables are visible");
    }
    breached("environment", vars.join(" "))
}

fn connect(addr: &String, _x: u64) -> String {
    match std::net::TcpStream::connect(addr.as_str()) {
        Ok(_) => breached("socket", format!("connected to {addr}")),
        Err(e) => panic!("cannot connect to {addr}: {e}"),
    }
}

fn huge_batch(x: u64) -> u64 {
    task_io::write(&vec![0u8; 32 << 20]);
    x
}

fn malformed(x: u64) -> u64 {
    task_io::write(&[0xff; 16]);
    x
}

/// Claims records for a task whose output is collected, not counted.
fn forged_count(x: u64) -> u64 {
    task_io::add_output_count(1_000_000);
    x
}

fn context_from_task(x: u64) -> u64 {
    match spindle::parallelize(&[x], 1) {
        Ok(_) => panic!("BREACH: the driver API answered inside a task"),
        Err(e) => panic!("the driver API refused: {e}"),
    }
}

fn many_accumulators(x: u64) -> u64 {
    use spindle::__private::bindings::spindle::job::types::Number;
    for id in 0..100_000 {
        task_io::add_to_accumulator(id, Number::Int(1));
    }
    x
}

fn unknown_broadcast(_x: u64) -> u64 {
    match task_io::broadcast_value(1 << 40) {
        Ok(v) => panic!("BREACH: an unknown broadcast answered {} bytes", v.len()),
        Err(e) => panic!("unknown broadcast refused: {e}"),
    }
}

fn nap(ms: &u64, x: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(*ms));
    x
}

/// Runs `f` in one task over one element and prints what came back.
fn in_task<U: spindle::Data + std::fmt::Debug, F: Fn(u64) -> U + Copy + 'static>(f: F) -> spindle::Result<()> {
    let out = spindle::parallelize(&[1u64], 1)?.map(f).collect()?;
    println!("{out:?}");
    Ok(())
}

fn arg(args: &[String], i: usize) -> spindle::Result<&str> {
    args.get(i).map(String::as_str).ok_or_else(|| spindle::Error::msg(format!("argument {i} is missing")))
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    match arg(&args, 0)? {
        "loop" => in_task(spin),
        "alloc" => in_task(hoard),
        "recurse" => in_task(recurse),
        "panic" => {
            let xs: Vec<u64> = (0..100).collect();
            let n = spindle::parallelize(&xs, 4)?.map(explode).count()?;
            println!("counted {n}");
            Ok(())
        }
        "stdout-flood" => in_task(flood),
        "read-passwd" => in_task(read_passwd),
        "read-env" => in_task(read_env),
        "socket" => {
            let addr = arg(&args, 1)?.to_string();
            let out = spindle::parallelize(&[1u64], 1)?.map_with(&addr, connect).collect()?;
            println!("{out:?}");
            Ok(())
        }
        "huge-batch" => in_task(huge_batch),
        "malformed-frame" => in_task(malformed),
        "context-from-task" => in_task(context_from_task),
        "forged-count" => in_task(forged_count),
        "main-loop" => {
            println!("{}", spin(1));
            Ok(())
        }
        "main-alloc" => {
            println!("{}", hoard(1));
            Ok(())
        }
        "fail-in-main" => Err(spindle::Error::msg("main gave up on purpose")),
        "slow" => {
            let tasks: u32 = arg(&args, 1)?.parse().map_err(|_| spindle::Error::msg("TASKS is not a number"))?;
            let ms: u64 = arg(&args, 2)?.parse().map_err(|_| spindle::Error::msg("MS is not a number"))?;
            let xs: Vec<u64> = (0..u64::from(tasks)).collect();
            let n = spindle::parallelize(&xs, tasks)?.map_with(&ms, nap).count()?;
            println!("slow job: {n} tasks done");
            Ok(())
        }
        "huge-shuffle" => {
            let pairs = spindle::parallelize(&[(1u64, 1u64)], 1)?;
            let n = pairs.reduce_by_key_into(|a: u64, b: u64| a + b, 4_000_000_000).count()?;
            println!("BREACH: a shuffle into 4 billion partitions counted {n}");
            Ok(())
        }
        "deep-lineage" => {
            // N chained narrow ops, or N chained shuffles, then a count.
            let n: u32 = arg(&args, 1)?.parse().map_err(|_| spindle::Error::msg("N is not a number"))?;
            let shuffles = arg(&args, 2).is_ok_and(|a| a == "shuffles");
            let mut d = spindle::range_with(0, 100, 1, 2)?.map(|x: i64| (x % 10, 1u64));
            for _ in 0..n {
                d = if shuffles {
                    d.reduce_by_key(|a: u64, b: u64| a + b)
                } else {
                    d.map(|(k, v): (i64, u64)| (k, v + 1))
                };
            }
            println!("deep lineage: {} records", d.count()?);
            Ok(())
        }
        "big-collect" => {
            // MB megabytes of 1 KiB strings brought into main.
            let mb: i64 = arg(&args, 1)?.parse().map_err(|_| spindle::Error::msg("MB is not a number"))?;
            let rows = spindle::range_with(0, mb * 1024, 1, 4)?.map(|x: i64| format!("{x:01024}"));
            println!("BREACH: main holds {} rows", rows.collect()?.len());
            Ok(())
        }
        "shuffle-hoard" => {
            // MB megabytes of 1 KiB values through one shuffle.
            let mb: i64 = arg(&args, 1)?.parse().map_err(|_| spindle::Error::msg("MB is not a number"))?;
            let rows = spindle::range_with(0, mb * 1024, 1, 4)?.map(|x: i64| (x % 1000, format!("{x:01024}")));
            println!("BREACH: the shuffle hoard grouped {} keys", rows.group_by_key().count()?);
            Ok(())
        }
        "union-bomb" => {
            // d = d.union(d).coalesce(1), K times: 2^K pipelines in one task.
            let k: u32 = arg(&args, 1)?.parse().map_err(|_| spindle::Error::msg("K is not a number"))?;
            let mut d = spindle::range_with(0, 10, 1, 1)?;
            for _ in 0..k {
                d = d.union(&d).coalesce(1);
            }
            println!("BREACH: the union bomb counted {}", d.count()?);
            Ok(())
        }
        "many-accumulators" => in_task(many_accumulators),
        "unknown-broadcast" => in_task(unknown_broadcast),
        other => Err(spindle::Error::msg(format!("unknown mode `{other}`"))),
    }
}

spindle::main!(run);
