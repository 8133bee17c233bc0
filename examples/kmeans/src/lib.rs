//! k-means over generated points: `kmeans POINTS K ITERATIONS`.
//!
//! Point `i` lies near true centre `i % K` (at `(10c, 7c mod 13 * 10)`), off by
//! up to ±4 on each axis from `mix(2i)` and `mix(2i + 1)`. The points are cached;
//! each iteration broadcasts the current centroids, assigns every point to the
//! closest one (the first on ties) and moves each centroid to the mean of its
//! points (a centroid with no points stays). Starts from the first K points.
//! Prints the centroids and, from an accumulator, how many assignments all
//! iterations made (ITERATIONS x POINTS: each counted once, however often a
//! task ran).

use spindle::Broadcast;

/// SplitMix64's finalizer: a well-mixed hash of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The generated point `i` for `k` centres.
pub fn point(i: u64, k: u64) -> (f64, f64) {
    let c = (i % k) as f64;
    let jitter = |h: u64| (h % 8001) as f64 / 1000.0 - 4.0;
    (10.0 * c + jitter(mix(2 * i)), ((7.0 * c) % 13.0) * 10.0 + jitter(mix(2 * i + 1)))
}

/// The index of the centroid closest to `p` (the first on ties).
pub fn closest(centroids: &[(f64, f64)], p: (f64, f64)) -> u32 {
    let mut best = (0, f64::INFINITY);
    for (i, c) in centroids.iter().enumerate() {
        let d = (c.0 - p.0).powi(2) + (c.1 - p.1).powi(2);
        if d < best.1 {
            best = (i as u32, d);
        }
    }
    best.0
}

type Assigned = (Broadcast<Vec<(f64, f64)>>, spindle::Accumulator<i64>);

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [n, k, iterations] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: kmeans POINTS K ITERATIONS"));
    };
    let (n, k, iterations): (i64, u64, u32) = (n.parse()?, k.parse()?, iterations.parse()?);
    let points = spindle::range(0, n)?.map_with(&k, |k: &u64, i: i64| point(i as u64, *k)).cache();
    let mut centroids: Vec<(f64, f64)> = points.take(k)?;
    let assigned = spindle::accumulator::<i64>("points assigned");
    for _ in 0..iterations {
        let shared = spindle::broadcast(centroids.clone())?;
        let sums = points
            .map_with(&(shared, assigned), |(c, acc): &Assigned, p: (f64, f64)| {
                acc.add(1);
                let centroids = c.value().expect("the centroids are broadcast");
                (closest(&centroids, p), (p.0, p.1, 1u64))
            })
            .reduce_by_key(|a: (f64, f64, u64), b: (f64, f64, u64)| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
            .collect()?;
        for (i, (sx, sy, count)) in sums {
            centroids[i as usize] = (sx / count as f64, sy / count as f64);
        }
        shared.unpersist();
    }
    for (i, (x, y)) in centroids.iter().enumerate() {
        println!("centroid {i}: {x:.6} {y:.6}");
    }
    println!("assigned: {}", assigned.value());
    Ok(())
}

spindle::main!(run);
