//! The iterative and relational examples on a cluster of executor processes,
//! each checked against a reference computed here: PageRank (with and without
//! its links cached), k-means (centroids broadcast, an accumulator), a join of
//! two tables, and a global sort (order checked across part files).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use spindle_tests::*;

/// PageRank as the example defines it: links deduplicated, ranks only for nodes
/// that receive contributions after the first iteration.
fn reference_pagerank(nodes: u64, iterations: u32) -> BTreeMap<u64, f64> {
    let mut links: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for u in 0..nodes {
        for j in 0..1 + mix(u) % 4 {
            links.entry(u).or_default().insert(mix(8 * u + j + 1) % nodes);
        }
    }
    let mut ranks: BTreeMap<u64, f64> = links.keys().map(|u| (*u, 1.0)).collect();
    for _ in 0..iterations {
        let mut received: BTreeMap<u64, f64> = BTreeMap::new();
        for (u, targets) in &links {
            if let Some(r) = ranks.get(u) {
                for v in targets {
                    *received.entry(*v).or_default() += r / targets.len() as f64;
                }
            }
        }
        ranks = received.into_iter().map(|(v, s)| (v, 0.15 + 0.85 * s)).collect();
    }
    ranks
}

fn read_ranks(dir: &std::path::Path) -> BTreeMap<u64, f64> {
    part_lines(dir)
        .into_iter()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap();
            (k.parse().unwrap(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn pagerank_with_and_without_cache_matches_the_reference() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let (nodes, iterations) = (3000, 10);
    let want = reference_pagerank(nodes, iterations);
    for mode in ["cache", "nocache"] {
        let out_dir = work.path().join(mode);
        let args = [nodes.to_string(), iterations.to_string(), mode.to_string(), out_dir.display().to_string()];
        let out = cluster.submit(&example("pagerank"), &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        assert!(out.status.success(), "{}", describe(&out));
        let got = read_ranks(&out_dir);
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{mode}: the ranked nodes");
        for (node, rank) in &want {
            let r = got[node];
            assert!((r - rank).abs() <= 1e-9 * rank.abs().max(1.0), "{mode}: node {node}: {r} vs {rank}");
        }
    }
    Ok(())
}

/// k-means as the example defines it.
fn reference_kmeans(n: u64, k: u64, iterations: u32) -> Vec<(f64, f64)> {
    let point = |i: u64| {
        let c = (i % k) as f64;
        let jitter = |h: u64| (h % 8001) as f64 / 1000.0 - 4.0;
        (10.0 * c + jitter(mix(2 * i)), ((7.0 * c) % 13.0) * 10.0 + jitter(mix(2 * i + 1)))
    };
    let points: Vec<(f64, f64)> = (0..n).map(point).collect();
    let mut centroids: Vec<(f64, f64)> = points[..k as usize].to_vec();
    for _ in 0..iterations {
        let mut sums: HashMap<usize, (f64, f64, u64)> = HashMap::new();
        for p in &points {
            let mut best = (0, f64::INFINITY);
            for (i, c) in centroids.iter().enumerate() {
                let d = (c.0 - p.0).powi(2) + (c.1 - p.1).powi(2);
                if d < best.1 {
                    best = (i, d);
                }
            }
            let s = sums.entry(best.0).or_default();
            *s = (s.0 + p.0, s.1 + p.1, s.2 + 1);
        }
        for (i, (sx, sy, c)) in sums {
            centroids[i] = (sx / c as f64, sy / c as f64);
        }
    }
    centroids
}

#[test]
fn kmeans_matches_the_reference_and_counts_every_assignment_once() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2)?;
    let (n, k, iterations) = (20_000u64, 5u64, 6u32);
    let out = cluster.submit(&example("kmeans"), &[&n.to_string(), &k.to_string(), &iterations.to_string()])?;
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = reference_kmeans(n, k, iterations);
    for (i, (x, y)) in want.iter().enumerate() {
        let line = stdout.lines().find(|l| l.starts_with(&format!("centroid {i}: "))).expect("a line per centroid");
        let nums: Vec<f64> = line.split_once(": ").unwrap().1.split(' ').map(|v| v.parse().unwrap()).collect();
        assert!((nums[0] - x).abs() < 1e-5 && (nums[1] - y).abs() < 1e-5, "centroid {i}: {line} vs ({x}, {y})");
    }
    assert!(stdout.contains(&format!("assigned: {}\n", n * u64::from(iterations))), "{stdout}");
    Ok(())
}

#[test]
fn a_join_of_two_generated_tables_matches_the_reference() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let out_dir = work.path().join("out");
    let (customers, orders) = (4000u64, 30_000u64);
    let out =
        cluster.submit(&example("join"), &[&customers.to_string(), &orders.to_string(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    let span = customers + customers / 4;
    let mut per: BTreeMap<u64, (u64, u64)> = (0..customers).map(|c| (c, (0, 0))).collect();
    let mut orphans = 0;
    for o in 0..orders {
        let c = mix(o) % span;
        match per.get_mut(&c) {
            Some(e) => *e = (e.0 + 1, e.1 + mix(3 * o) % 1000),
            None => orphans += 1,
        }
    }
    let joined: u64 = per.values().map(|e| e.0).sum();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, format!("joined rows: {joined}\norders without customer: {orphans}\n"));
    let mut got: Vec<String> = part_lines(&out_dir);
    got.sort();
    let mut want: Vec<String> = per.iter().map(|(c, (n, t))| format!("{c}\tcustomer-{c}\t{n}\t{t}")).collect();
    want.sort();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn a_sort_orders_records_across_part_files() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let n = 50_000u64;
    for (order, partitions) in [("asc", 5), ("desc", 3)] {
        let out_dir = work.path().join(order);
        let out = cluster
            .submit(&example("sort"), &[&n.to_string(), &partitions.to_string(), order, out_dir.to_str().unwrap()])?;
        assert!(out.status.success(), "{}", describe(&out));
        let parts = part_files(&out_dir);
        assert_eq!(parts.len(), partitions, "{order}: one file per range partition");
        let mut records: Vec<(u64, String)> = Vec::new();
        for p in &parts {
            let text = std::fs::read_to_string(p)?;
            let lines = text.lines().count() as u64;
            // Range bounds from a sample: no partition is far from its share.
            assert!(
                lines > n / partitions as u64 / 2 && lines < 2 * n / partitions as u64,
                "{order}: {} has {lines}",
                p.display()
            );
            for l in text.lines() {
                let (k, v) = l.split_once('\t').unwrap();
                records.push((k.parse()?, v.to_string()));
            }
        }
        let keys: Vec<u64> = records.iter().map(|r| r.0).collect();
        let ordered = if order == "asc" { keys.is_sorted() } else { keys.iter().rev().is_sorted() };
        assert!(ordered, "{order}: keys out of order across part files");
        let mut got = records;
        got.sort();
        let mut want: Vec<(u64, String)> = (0..n).map(|i| (mix(i) % 1_000_000, format!("r{i}"))).collect();
        want.sort();
        assert_eq!(got, want, "{order}: every record exactly once");
    }
    Ok(())
}

#[test]
fn accumulators_count_once_when_attempts_fail_and_run_again() -> anyhow::Result<()> {
    // 30% of attempts fail after running (their accumulator updates discarded);
    // at that rate a task fails 4 times in a row now and then, hence the limit.
    let mut c = Cluster::start_configured(0, 2, "chaos-secret", "max_task_attempts = 12\n")?;
    for i in 0..2 {
        let cache = c.dir.path().join(format!("chaos-{i}"));
        c.add_executor_with(2, &cache, &["--chaos-failure-rate", "0.3"])?;
    }
    c.wait_for_executors(2)?;
    let (n, k, iterations) = (8000u64, 3u64, 4u32);
    let out = c.submit(&example("kmeans"), &[&n.to_string(), &k.to_string(), &iterations.to_string()])?;
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("assigned: {}\n", n * u64::from(iterations))), "{stdout}");
    let failed: u64 =
        c.status()?["executors"].as_array().unwrap().iter().map(|e| e["tasks_failed"].as_u64().unwrap_or(0)).sum();
    assert!(failed > 0, "chaos failed some attempts");
    Ok(())
}
