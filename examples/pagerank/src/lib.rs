//! PageRank over a generated graph: `pagerank NODES ITERATIONS cache|nocache OUTPUT_DIR`.
//!
//! Node `u` links to `1 + mix(u) % 4` nodes `mix(8u + j + 1) % NODES` (duplicates
//! dropped), where `mix` is SplitMix64's finalizer. The classic iteration (as in
//! Spark's example): every node sends `rank / out-degree` along each link; a
//! node's new rank is `0.15 + 0.85 * received`. The links are used by every
//! iteration; with `cache` they are kept on the executors after the first.
//! Writes `node<TAB>rank` lines and prints the time the iterations took.

/// SplitMix64's finalizer: a well-mixed hash of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [nodes, iterations, mode, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: pagerank NODES ITERATIONS cache|nocache OUTPUT_DIR"));
    };
    let nodes: u64 = nodes.parse()?;
    let iterations: u32 = iterations.parse()?;
    let cache = match mode.as_str() {
        "cache" => true,
        "nocache" => false,
        other => return Err(spindle::Error::msg(format!("mode must be cache or nocache, not `{other}`"))),
    };
    let started = std::time::Instant::now();
    let links = spindle::range(0, nodes as i64)?
        .flat_map_with(&nodes, |n: &u64, u: i64| {
            let u = u as u64;
            (0..1 + mix(u) % 4).map(move |j| (u, mix(8 * u + j + 1) % *n)).collect::<Vec<_>>()
        })
        .distinct()
        .group_by_key();
    if cache {
        links.cache();
    }
    let mut ranks = links.map_values(|_: Vec<u64>| 1.0f64);
    for _ in 0..iterations {
        let contributions = links.join(&ranks).values().flat_map(|(targets, rank): (Vec<u64>, f64)| {
            let share = rank / targets.len() as f64;
            targets.into_iter().map(move |v| (v, share)).collect::<Vec<_>>()
        });
        ranks = contributions.reduce_by_key(|a: f64, b: f64| a + b).map_values(|s: f64| 0.15 + 0.85 * s);
    }
    ranks.map(|(node, rank): (u64, f64)| format!("{node}\t{rank:.15e}")).save_as_text_file(output)?;
    println!(
        "pagerank: {nodes} nodes, {iterations} iterations, cache {}: {:.0} ms",
        if cache { "on" } else { "off" },
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

spindle::main!(run);
