//! Input paths compared: the same word count over the same text stored as plain
//! files, gzip files, zstd files, and objects in a local S3-compatible server
//! (s3s-fs over a directory of the same disk), on a driver and two executors of
//! one slot. The text is cut into two files, so that every form has one split
//! per slot (a compressed file is one split). Also timed: each decoder alone on
//! this thread, so the decompression cost of a job can be set against the
//! decompressor's own speed.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::systems::{Cluster, Spindle};
use crate::{Output, fresh, median, timed_run};

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret-key";

/// Cuts `text` into two files at a line boundary, under `dir`.
fn halves(text: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(text)?;
    let mid =
        bytes[bytes.len() / 2..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| bytes.len() / 2 + i + 1);
    std::fs::create_dir_all(dir)?;
    let files = vec![dir.join("words-0.txt"), dir.join("words-1.txt")];
    std::fs::write(&files[0], &bytes[..mid])?;
    std::fs::write(&files[1], &bytes[mid..])?;
    Ok(files)
}

/// Seconds for `decode` to read all of each file, one after the other.
fn decode_seconds(files: &[PathBuf], decode: impl Fn(std::fs::File) -> Result<Box<dyn Read>>) -> Result<f64> {
    let start = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        let mut r = decode(std::fs::File::open(f)?)?;
        while r.read(&mut buf)? > 0 {}
    }
    Ok(start.elapsed().as_secs_f64())
}

struct S3Server(Child);

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Figures of the comparison: (name, value, unit).
pub fn io(args: &crate::Args, spindle: &Spindle, scratch: &Path, text: &Path) -> Result<Vec<(String, f64, String)>> {
    let plain = halves(text, &scratch.join("io-plain"))?;
    let text_bytes: u64 = plain.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
    let (gz_dir, zst_dir) = (scratch.join("io-gz"), scratch.join("io-zst"));
    std::fs::create_dir_all(&gz_dir)?;
    std::fs::create_dir_all(&zst_dir)?;
    let (mut gz, mut zst) = (Vec::new(), Vec::new());
    for f in &plain {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(f)?;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&data)?;
        gz.push(gz_dir.join(format!("{name}.gz")));
        std::fs::write(gz.last().unwrap(), enc.finish()?)?;
        zst.push(zst_dir.join(format!("{name}.zst")));
        std::fs::write(zst.last().unwrap(), zstd::encode_all(&data[..], 3)?)?;
    }
    let gz_alone = decode_seconds(&gz, |f| Ok(Box::new(flate2::read::MultiGzDecoder::new(f))))?;
    let zst_alone = decode_seconds(&zst, |f| Ok(Box::new(zstd::stream::read::Decoder::new(f)?)))?;

    // The S3-compatible server, its bucket holding the same two plain files.
    let root = scratch.join("io-s3");
    let bucket = root.join("bench").join("words");
    std::fs::create_dir_all(&bucket)?;
    for f in &plain {
        std::fs::copy(f, bucket.join(f.file_name().unwrap()))?;
    }
    let server_bin = spindle.bin.with_file_name("spindle-s3-server");
    ensure!(server_bin.exists(), "{} not found: build it (bench/run.sh does)", server_bin.display());
    let mut child = Command::new(&server_bin)
        .args(["--listen", "127.0.0.1:0", "--access-key", KEY, "--secret-key", SECRET])
        .arg(&root)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("server stdout")?).read_line(&mut line)?;
    let _server = S3Server(child);
    let addr = line.trim().strip_prefix("listening on ").context("S3 server address")?.to_string();
    let config = format!(
        "[[stores]]\nurl = \"s3://bench\"\noptions = {{ aws_endpoint = \"http://{addr}\", aws_access_key_id = \
         \"{KEY}\", aws_secret_access_key = \"{SECRET}\", aws_region = \"us-east-1\", aws_allow_http = \"true\" }}\n"
    );
    let cluster = Cluster::start_configured(spindle, 2, 1, &fresh(&scratch.join("io-cache"))?, &config)?;
    let inputs = [
        ("plain files", plain[0].parent().unwrap().display().to_string()),
        ("gzip files", gz_dir.display().to_string()),
        ("zstd files", zst_dir.display().to_string()),
        ("S3 objects", "s3://bench/words".to_string()),
    ];
    eprintln!("== io: word count over {:.1} MB of text, 4 ways", text_bytes as f64 / 1e6);
    let mut times = vec![Vec::new(); inputs.len()];
    let mut reference: Option<Output> = None;
    // A warm-up run compiles the component; then the inputs take turns.
    for round in 0..=args.runs {
        for (i, (name, input)) in inputs.iter().enumerate() {
            let out = scratch.join(format!("io-out-{i}"));
            let run = timed_run(&out, |o| Ok(cluster.submit(spindle, "bench-jobs", &["wordcount", input, o])?.0))?;
            let got = Output::read("wordcount", &out)?;
            match &reference {
                None => reference = Some(got),
                Some(r) => ensure!(*r == got, "word count over {name} differs from over plain files"),
            }
            if round > 0 {
                times[i].push(run.app);
            }
        }
    }
    let t: Vec<f64> = times.iter().map(|v| median(v)).collect();
    let mb = text_bytes as f64 / 1e6;
    Ok(vec![
        ("io: word count, plain files".into(), mb / t[0], "MB/s".into()),
        ("io: word count, gzip files".into(), mb / t[1], "MB/s".into()),
        ("io: word count, zstd files".into(), mb / t[2], "MB/s".into()),
        ("io: word count, S3 objects".into(), mb / t[3], "MB/s".into()),
        ("io: gzip time / plain time".into(), t[1] / t[0], "x".into()),
        ("io: zstd time / plain time".into(), t[2] / t[0], "x".into()),
        ("io: S3 time / disk time".into(), t[3] / t[0], "x".into()),
        ("io: gzip decoder alone, 1 core".into(), mb / gz_alone, "MB/s".into()),
        ("io: zstd decoder alone, 1 core".into(), mb / zst_alone, "MB/s".into()),
        // Two slots decode at once: a job's extra time per core against the decoder's.
        ("io: gzip job's extra time / decoder's time".into(), (t[1] - t[0]) * 2.0 / gz_alone, "x".into()),
        ("io: zstd job's extra time / decoder's time".into(), (t[2] - t[0]) * 2.0 / zst_alone, "x".into()),
    ])
}
