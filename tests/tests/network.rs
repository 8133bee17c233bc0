//! What crosses a real network: the driver and each executor in its own network
//! namespace, with its own address, joined by a bridge (`tests/src/netns.rs`).
//! Jobs are exact across hosts; an executor cut off mid-shuffle is declared lost,
//! its map outputs are recomputed, and it rejoins once its link is back; a
//! partition between two executors only (both still reach the driver) is
//! resolved without losing either for good. Where namespaces cannot be made (not
//! root, no iproute2) each test says so and skips.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use spindle_tests::netns::Net;
use spindle_tests::*;

const SECRET: &str = "network-secret";
const CONFIG: &str = "heartbeat_interval = \"200ms\"\nheartbeat_timeout = \"2s\"\n";

/// A driver on host 0 and executors on hosts 1.., each its own network namespace.
struct NetCluster {
    url: String,
    executors: Vec<Proc>,
    _driver: Proc,
    _stdout: BufReader<std::process::ChildStdout>,
    dir: tempfile::TempDir,
    net: Net,
}

impl NetCluster {
    /// `None` (after saying why) where namespaces cannot be made.
    fn start(tag: &str, executors: usize) -> anyhow::Result<Option<NetCluster>> {
        let net = match Net::create(tag, executors + 1) {
            Ok(net) => net,
            Err(e) => {
                eprintln!("SKIPPED: cannot make network namespaces here ({e:#}); these tests need root and iproute2");
                return Ok(None);
            }
        };
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("driver.toml");
        std::fs::write(&config, CONFIG)?;
        let mut cmd = net.command(0, &spindle_bin());
        cmd.args(["driver", "--ui-listen", "none", "--listen", &format!("{}:0", net.hosts[0].ip), "--config"])
            .arg(&config)
            .env("SPINDLE_SECRET", SECRET)
            .env("SPINDLE_CACHE_DIR", dir.path().join("driver-cache"))
            .stdout(Stdio::piped());
        let mut driver = Proc(cmd.spawn()?);
        let mut stdout = BufReader::new(driver.0.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let url = line.trim().rsplit(' ').next().unwrap_or_default().to_string();
        anyhow::ensure!(url.starts_with("http://"), "unexpected driver output: {line}");
        let mut c = NetCluster { url, executors: Vec::new(), _driver: driver, _stdout: stdout, dir, net };
        for i in 1..=executors {
            let mut cmd = c.net.command(i, &spindle_bin());
            cmd.args(["executor", "--driver", &c.url, "--slots", "2", "--listen", &format!("{}:0", c.net.hosts[i].ip)])
                .env("SPINDLE_SECRET", SECRET)
                .env("SPINDLE_CACHE_DIR", c.dir.path().join(format!("exec-cache-{i}")))
                .stdout(Stdio::null());
            c.executors.push(Proc(cmd.spawn()?));
        }
        c.await_alive(executors)?;
        Ok(Some(c))
    }

    fn client(&self, sub: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(spindle_bin());
        cmd.args([sub, "--driver", &self.url]).env("SPINDLE_SECRET", SECRET).env_remove("SPINDLE_TENANT");
        cmd
    }

    fn status(&self) -> anyhow::Result<serde_json::Value> {
        let out = self.client("status").arg("--json").output()?;
        anyhow::ensure!(out.status.success(), "status: {}", describe(&out));
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// Executors in `state`, by address.
    fn in_state(&self, state: &str) -> anyhow::Result<Vec<String>> {
        let s = self.status()?;
        Ok(s["executors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["state"] == state)
            .map(|e| e["address"].as_str().unwrap().to_string())
            .collect())
    }

    fn await_alive(&self, n: usize) -> anyhow::Result<()> {
        await_condition(&format!("{n} executors alive"), Duration::from_secs(60), || {
            (self.in_state("alive").ok()?.len() == n).then_some(())
        })
    }

    fn submit(&self, job: &Path, args: &[&str]) -> anyhow::Result<Output> {
        Ok(self.client("submit").arg(job).arg("--").args(args).output()?)
    }

    fn submit_background(&self, job: &Path, args: &[&str]) -> anyhow::Result<std::process::Child> {
        Ok(self.client("submit").arg(job).arg("--").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?)
    }
}

/// A word count over `files` files of `lines` lines; exact or an error.
fn exact_wordcount(c: &NetCluster, name: &str, files: usize, lines: usize) -> anyhow::Result<()> {
    let work = c.dir.path().join(name);
    let inputs = write_text_inputs(&work.join("in"), files, lines, 77);
    let out =
        c.submit(&example("wordcount"), &[work.join("in").to_str().unwrap(), work.join("out").to_str().unwrap()])?;
    anyhow::ensure!(out.status.success(), "word count: {}", describe(&out));
    anyhow::ensure!(read_counts(&work.join("out"))? == reference_counts(&inputs), "the word count is wrong");
    Ok(())
}

#[test]
fn jobs_are_exact_across_hosts() -> anyhow::Result<()> {
    let Some(c) = NetCluster::start("ja", 3)? else { return Ok(()) };
    let addresses = c.in_state("alive")?;
    assert!(
        addresses.iter().all(|a| a.starts_with(&c.net.hosts[1].ip[..c.net.hosts[1].ip.rfind('.').unwrap()])),
        "{addresses:?}"
    );
    exact_wordcount(&c, "wc", 8, 3000)?;
    // A global sort of 200,000 generated records into 6 range partitions: every
    // record crosses the network once; the parts read in order are sorted and
    // hold every record.
    let out_dir = c.dir.path().join("sorted");
    let out = c.submit(&example("sort"), &["200000", "6", "asc", out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    let lines = part_lines(&out_dir);
    assert_eq!(lines.len(), 200_000);
    let keys: Vec<u64> = lines.iter().map(|l| l.split('\t').next().unwrap().parse().unwrap()).collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "the parts are not in key order");
    let mut values: Vec<u64> = lines.iter().map(|l| l.split('\t').nth(1).unwrap()[1..].parse().unwrap()).collect();
    values.sort_unstable();
    assert!(values.iter().enumerate().all(|(i, v)| *v == i as u64), "records lost or repeated");
    Ok(())
}

#[test]
fn an_executor_cut_off_mid_shuffle_is_lost_recomputed_and_rejoins() -> anyhow::Result<()> {
    let Some(c) = NetCluster::start("cu", 3)? else { return Ok(()) };
    let work = c.dir.path().join("paced");
    let inputs = write_text_inputs(&work.join("in"), 6, 400, 78);
    let args = [work.join("in").to_str().unwrap().to_string(), work.join("out").to_str().unwrap().to_string()];
    // 6 map tasks, then 6 reduce tasks of about 1.5 s each.
    let job = c.submit_background(&example("paced-wordcount"), &[&args[0], &args[1], "6", "0", "1500"])?;
    await_condition("the reduce stage to run", Duration::from_secs(60), || {
        let s = c.status().ok()?;
        stage_counts(&s, "save-as-text-file").into_iter().any(|(_, running, _)| running > 0).then_some(())
    })?;
    c.net.cut(1)?;
    let out = job.wait_with_output()?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&work.join("out"))?, reference_counts(&inputs));
    let lost = c.in_state("lost")?;
    let cut = format!("{}:", c.net.hosts[1].ip);
    assert!(lost.len() == 1 && lost[0].starts_with(&cut), "only the cut executor is declared lost: {lost:?}");
    c.net.restore(1)?;
    c.await_alive(3)?;
    exact_wordcount(&c, "after", 6, 1000)
}

#[test]
fn a_partition_between_two_executors_is_resolved_without_losing_them() -> anyhow::Result<()> {
    let Some(c) = NetCluster::start("pa", 3)? else { return Ok(()) };
    // Executors 1 and 2 cannot reach each other; both still reach the driver.
    c.net.block(1, 2)?;
    c.net.block(2, 1)?;
    exact_wordcount(&c, "split", 8, 2000)?;
    let app = &c.status()?["applications"][0];
    eprintln!(
        "across the partition: {} failed attempts, {} map stages resubmitted",
        app["tasks_failed"], app["stages_resubmitted"]
    );
    c.net.unblock(1, 2)?;
    c.net.unblock(2, 1)?;
    // Whoever was declared lost for failed fetches registered again.
    c.await_alive(3)?;
    exact_wordcount(&c, "healed", 8, 2000)
}
