//! This executor's local disk: where map outputs, sorted runs and persisted
//! partitions go when memory is short.
//!
//! Layout, under the spill root (`--spill-dir`, default `spindle-spill` in the
//! system's temporary directory), one directory per executor process:
//!
//! ```text
//! ROOT/exec-<pid>-<nonce>/
//!     shuffle/<app>/shuffle_<shuffle>_<map>_<n>.data   map outputs (one file per map attempt)
//!     sort/run-<n>                                     sorted runs of reduce tasks
//!     cache/block-<n>                                  persisted partitions
//! ```
//!
//! An application's shuffle directory goes when it is released; a run file when
//! the task reading it ends; the process directory when the executor exits. An
//! executor that was killed leaves its directory behind: the next executor started
//! on the same root removes every directory whose process is gone.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use spindle_proto::ids::{AppId, ShuffleId};

use crate::memory::SpillCounters;

/// A file written to the spill directory, open for reading, removed when dropped.
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    file: std::fs::File,
    len: u64,
    counters: Arc<SpillCounters>,
}

impl SpillFile {
    /// A file of `len` bytes written at `path` (opened for reading too), counted
    /// as one spill file in `counters`.
    pub fn new(path: PathBuf, file: std::fs::File, len: u64, counters: &Arc<SpillCounters>) -> Self {
        counters.wrote(len);
        SpillFile { path, file, len, counters: counters.clone() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    /// Reads exactly `buf.len()` bytes at `at`.
    pub fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, at)
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        self.counters.removed();
    }
}

/// Creates `path` for writing and reading back.
pub fn create(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::options().read(true).write(true).create(true).truncate(true).open(path)
}

/// One executor process's spill directory.
#[derive(Debug)]
pub struct SpillDir {
    dir: PathBuf,
    next: AtomicU64,
}

/// The default spill root.
pub fn default_root() -> PathBuf {
    std::env::temp_dir().join("spindle-spill")
}

/// Whether a process with this id runs on this host (Linux: `/proc`, where a
/// zombie, killed and not yet reaped, counts as gone; elsewhere every process
/// counts as running, so nothing is removed by mistake).
fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) {
        // `pid (comm) state ...`: the state follows the last `)`.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// Removes the directories of executors that are no longer running under `root`;
/// returns how many.
pub fn sweep_stale(root: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(root) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("exec-")).and_then(|n| n.split('-').next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid != std::process::id() && !process_alive(pid) {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    removed += 1;
                    tracing::info!(dir = %entry.path().display(), "removed the spill files of an executor that is gone");
                }
                Err(e) => {
                    tracing::warn!(dir = %entry.path().display(), error = %e, "could not remove a stale spill directory")
                }
            }
        }
    }
    removed
}

/// An application id as a file name: anything but letters, digits, `-` and `_`
/// becomes `_`.
fn file_name(app: &AppId) -> String {
    app.0.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

impl SpillDir {
    /// This process's directory under `root` (created when first written to),
    /// after removing the directories of executors that are gone.
    pub fn new(root: &Path) -> Self {
        sweep_stale(root);
        let dir = root.join(format!("exec-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        SpillDir { dir, next: AtomicU64::new(0) }
    }

    /// The process's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Where persisted partitions go.
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// A fresh file for one map attempt's output; its directory is created.
    pub fn shuffle_file(&self, app: &AppId, shuffle: ShuffleId, map: u32) -> std::io::Result<PathBuf> {
        let dir = self.dir.join("shuffle").join(file_name(app));
        std::fs::create_dir_all(&dir)?;
        Ok(dir.join(format!("shuffle_{}_{map}_{}.data", shuffle.0, self.next())))
    }

    /// A fresh file for a sorted run; its directory is created.
    pub fn run_file(&self) -> std::io::Result<PathBuf> {
        let dir = self.dir.join("sort");
        std::fs::create_dir_all(&dir)?;
        Ok(dir.join(format!("run-{}", self.next())))
    }

    /// Removes an application's map output files.
    pub fn release_app(&self, app: &AppId) {
        let dir = self.dir.join("shuffle").join(file_name(app));
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove an application's shuffle files");
        }
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_of_executors_that_are_gone_are_removed() {
        let root = tempfile::tempdir().unwrap();
        // No process has id 4294967295 (above Linux's pid_max).
        let gone = root.path().join("exec-4294967295-00000000");
        std::fs::create_dir_all(gone.join("shuffle/app-1")).unwrap();
        std::fs::write(gone.join("shuffle/app-1/x.data"), b"x").unwrap();
        let alive = root.path().join(format!("exec-{}-00000001", std::process::id()));
        std::fs::create_dir_all(&alive).unwrap();
        let other = root.path().join("not-an-executor");
        std::fs::create_dir_all(&other).unwrap();
        let dir = SpillDir::new(root.path());
        assert!(!gone.exists());
        assert!(alive.exists() && other.exists());
        let f = dir.shuffle_file(&AppId("app/1".into()), ShuffleId(2), 3).unwrap();
        std::fs::write(&f, b"data").unwrap();
        assert!(f.starts_with(dir.path().join("shuffle/app_1")));
        dir.release_app(&AppId("app/1".into()));
        assert!(!f.exists());
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }
}
