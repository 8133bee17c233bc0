//! Writing one application's event log: JSON lines, zstd-compressed, in a
//! directory of its own under `--event-log-dir`.
//!
//! ```text
//! DIR/app-0001-1796664152978/events-00001.jsonl.zst
//! DIR/app-0001-1796664152978/events-00002.jsonl.zst.inprogress
//! ```
//!
//! The directory is named by the application's id and submission time (ids
//! start again when a driver restarts). A part is rotated when it has taken
//! `rotate_bytes` of JSON. The part being written ends `.inprogress` and loses
//! that suffix once it is complete, so an application whose directory holds no
//! `.inprogress` part has finished and its log is whole.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::api::Event;

/// zstd level: fast, and event logs compress well at it.
const LEVEL: i32 = 3;

/// The suffix of a part still being written.
pub const IN_PROGRESS: &str = ".inprogress";

type Encoder = zstd::stream::write::Encoder<'static, BufWriter<File>>;

/// One application's event log, open for appending.
pub struct AppLog {
    dir: PathBuf,
    part: u32,
    encoder: Option<Encoder>,
    written: u64,
    rotate_bytes: u64,
}

/// The name of part `n`, complete.
pub fn part_name(n: u32) -> String {
    format!("events-{n:05}.jsonl.zst")
}

impl AppLog {
    /// Starts the log of application `app` submitted at `submitted_ms`.
    pub fn create(root: &Path, app: &str, submitted_ms: u64, rotate_bytes: u64) -> std::io::Result<AppLog> {
        let dir = root.join(format!("{app}-{submitted_ms}"));
        std::fs::create_dir_all(&dir)?;
        let mut log = AppLog { dir, part: 0, encoder: None, written: 0, rotate_bytes: rotate_bytes.max(1) };
        log.open_next()?;
        Ok(log)
    }

    fn in_progress(&self) -> PathBuf {
        self.dir.join(format!("{}{IN_PROGRESS}", part_name(self.part)))
    }

    fn open_next(&mut self) -> std::io::Result<()> {
        self.part += 1;
        self.written = 0;
        let file = File::create(self.in_progress())?;
        self.encoder = Some(Encoder::new(BufWriter::new(file), LEVEL)?);
        Ok(())
    }

    /// Completes the part being written: its zstd frame ends, its name loses
    /// `.inprogress`.
    fn close_part(&mut self) -> std::io::Result<()> {
        if let Some(encoder) = self.encoder.take() {
            encoder.finish()?.flush()?;
            std::fs::rename(self.in_progress(), self.dir.join(part_name(self.part)))?;
        }
        Ok(())
    }

    /// Appends one event, rotating to a new part first when this one is full.
    pub fn append(&mut self, event: &Event) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        if self.written > 0 && self.written + line.len() as u64 > self.rotate_bytes {
            self.close_part()?;
            self.open_next()?;
        }
        let encoder = self.encoder.as_mut().ok_or_else(|| std::io::Error::other("the event log is closed"))?;
        encoder.write_all(&line)?;
        self.written += line.len() as u64;
        Ok(())
    }

    /// Completes the log: the application has ended.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.close_part()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_rotate_and_lose_their_in_progress_suffix_when_complete() {
        let root = tempfile::tempdir().unwrap();
        let mut log = AppLog::create(root.path(), "app-0001", 42, 200).unwrap();
        for job in 0..10 {
            log.append(&Event::JobStart { job, action: "count".into(), time_ms: job }).unwrap();
        }
        let dir = root.path().join("app-0001-42");
        let names = |dir: &Path| {
            let mut n: Vec<String> =
                std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            n.sort();
            n
        };
        let during = names(&dir);
        assert!(during.len() > 1, "rotated: {during:?}");
        assert!(during.last().unwrap().ends_with(IN_PROGRESS), "{during:?}");
        log.finish().unwrap();
        let after = names(&dir);
        assert!(after.iter().all(|n| n.ends_with(".jsonl.zst")), "{after:?}");
        let mut jobs = Vec::new();
        for name in &after {
            let text = zstd::decode_all(File::open(dir.join(name)).unwrap()).unwrap();
            for line in String::from_utf8(text).unwrap().lines() {
                if let Event::JobStart { job, .. } = serde_json::from_str(line).unwrap() {
                    jobs.push(job);
                }
            }
        }
        assert_eq!(jobs, (0..10).collect::<Vec<_>>(), "every event once, in order");
    }
}
