//! The output commit protocol of `save_as_text_file`, end to end (Hadoop's
//! `FileOutputCommitter`, as Spark uses it):
//!
//! 1. **Set-up** ([`prepare_job`], at the action): the output directory must not
//!    exist and must be one the application may write; it is created.
//! 2. **Task attempt** ([`TextOutput::prepare_attempt`], before launch): each attempt writes
//!    its part into a directory of its own,
//!    `DIR/_temporary/STAGE-PARTITION-ATTEMPT/part-NNNNN`, which the driver makes
//!    (the executor only creates the file, so an attempt that starts after the
//!    job ended cannot bring `_temporary` back).
//! 3. **Task commit** ([`TextOutput::commit_attempt`], when an attempt succeeds): the first
//!    successful attempt of each partition renames its file to `DIR/part-NNNNN`
//!    (the stage's `commit_once` makes sure only one does); a retried or
//!    speculative duplicate's file stays in `_temporary`.
//! 4. **Job commit** ([`TextOutput::commit_job`]): `_SUCCESS` is written and `_temporary`
//!    removed. **Job abort** ([`TextOutput::abort_job`], on failure): `_temporary` is removed
//!    and no `_SUCCESS` is written; parts already committed stay, as in Hadoop.
//!
//! A reader that waits for `_SUCCESS` sees every part of a job, once.

use std::path::Path;

use spindle_proto::Compression;
use spindle_proto::ids::StageId;

use crate::DriverError;
use crate::access::DataAccess;

const TEMPORARY: &str = "_temporary";
const SUCCESS: &str = "_SUCCESS";

/// Refuses an existing output directory (as Spark does) and one the application
/// may not write, then creates it; returns its absolute path.
pub fn prepare_job(path: &str, access: &DataAccess) -> Result<String, DriverError> {
    let abs = access.writable(Path::new(path))?;
    let shown = abs.display().to_string();
    if abs.exists() {
        return Err(DriverError::OutputExists { path: shown });
    }
    std::fs::create_dir_all(&abs).map_err(|e| DriverError::Output { path: shown.clone(), reason: e.to_string() })?;
    Ok(shown)
}

/// A text output being written: its directory (made by [`prepare_job`]) and how
/// its parts are compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextOutput {
    /// The output directory, absolute.
    pub dir: String,
    /// How each part is compressed (its name gains the codec's extension).
    pub compression: Compression,
}

impl TextOutput {
    /// The committed name of partition `partition`'s part.
    fn part_name(&self, partition: u32) -> String {
        let ext = match self.compression {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
            Compression::Bzip2 => ".bz2",
        };
        format!("part-{partition:05}{ext}")
    }

    /// Where attempt `attempt` of `partition` writes its part.
    pub fn attempt_path(&self, stage: StageId, partition: u32, attempt: u32) -> String {
        Path::new(&self.dir)
            .join(TEMPORARY)
            .join(format!("{stage}-{partition}-{attempt}"))
            .join(self.part_name(partition))
            .display()
            .to_string()
    }

    /// Makes the directory an attempt writes its part into.
    pub fn prepare_attempt(&self, stage: StageId, partition: u32, attempt: u32) -> Result<(), DriverError> {
        let path = self.attempt_path(stage, partition, attempt);
        let parent = Path::new(&path).parent().expect("attempt parts live in a directory");
        std::fs::create_dir_all(parent)
            .map_err(|e| DriverError::Output { path: parent.display().to_string(), reason: e.to_string() })
    }

    /// Moves one successful attempt's part into place: exactly one attempt's
    /// output becomes `part-NNNNN` (the caller runs this once per partition).
    pub fn commit_attempt(&self, stage: StageId, partition: u32, attempt: u32) -> Result<(), DriverError> {
        let from = self.attempt_path(stage, partition, attempt);
        let to = Path::new(&self.dir).join(self.part_name(partition));
        std::fs::rename(&from, &to).map_err(|e| DriverError::Output {
            path: to.display().to_string(),
            reason: format!("committing {from}: {e}"),
        })
    }

    /// Marks a finished job's output complete (`_SUCCESS`) and removes what its
    /// attempts left in `_temporary`.
    pub fn commit_job(&self) -> Result<(), DriverError> {
        let dir = Path::new(&self.dir);
        std::fs::write(dir.join(SUCCESS), b"")
            .map_err(|e| DriverError::Output { path: dir.display().to_string(), reason: e.to_string() })?;
        let _ = std::fs::remove_dir_all(dir.join(TEMPORARY));
        Ok(())
    }

    /// Removes a failed job's attempt files; committed parts stay, with no
    /// `_SUCCESS`. Safe to call more than once.
    pub fn abort_job(&self) {
        let _ = std::fs::remove_dir_all(Path::new(&self.dir).join(TEMPORARY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_attempt_per_partition_is_committed_and_a_failed_job_leaves_no_attempts() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let dir = prepare_job(out.to_str().unwrap(), &DataAccess::default()).unwrap();
        assert!(prepare_job(&dir, &DataAccess::default()).is_err(), "an existing directory is refused");
        let output = TextOutput { dir, compression: Compression::None };
        for attempt in [0, 1] {
            output.prepare_attempt(StageId(3), 7, attempt).unwrap();
            std::fs::write(output.attempt_path(StageId(3), 7, attempt), format!("attempt {attempt}\n")).unwrap();
        }
        output.commit_attempt(StageId(3), 7, 1).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("part-00007")).unwrap(), "attempt 1\n");
        output.abort_job();
        assert!(!out.join(TEMPORARY).exists() && !out.join(SUCCESS).exists());
        output.commit_job().unwrap();
        assert!(out.join(SUCCESS).exists());
        let zst = TextOutput { compression: Compression::Zstd, ..output };
        assert!(zst.attempt_path(StageId(1), 2, 0).ends_with("/_temporary/1-2-0/part-00002.zst"));
    }
}
