//! The output commit protocol of `save_as_text_file`, end to end (Hadoop's
//! `FileOutputCommitter`, as Spark uses it), on host directories and object
//! stores alike:
//!
//! 1. **Set-up** ([`prepare_job`], at the action): the output must not exist
//!    (a directory, or any object under the prefix) and must be one the
//!    application may write; a host directory is created.
//! 2. **Task attempt** ([`TextOutput::prepare_attempt`], before launch): each attempt writes
//!    its part under a directory of its own,
//!    `DIR/_temporary/STAGE-PARTITION-ATTEMPT/part-NNNNN`, which the driver makes
//!    on a host (the executor only creates the file, so an attempt that starts
//!    after the job ended cannot bring `_temporary` back). In an object store
//!    there are no directories: the executor uploads the part (in parts of
//!    8 MiB as it grows), and the object appears only when the upload is
//!    completed, after the task's last record; an attempt that fails or is
//!    killed before leaves no object.
//! 3. **Task commit** ([`TextOutput::commit_attempt`], when an attempt succeeds): the first
//!    successful attempt of each partition moves its part to `DIR/part-NNNNN`
//!    (a rename on a host; a server-side copy, then a delete of the attempt's
//!    object, in a store). The stage's `commit_once` makes sure only one attempt
//!    does, and that the partition is not done before its commit is; a retried
//!    or speculative duplicate's part stays in `_temporary`.
//! 4. **Job commit** ([`TextOutput::commit_job`]): `_SUCCESS` is written and `_temporary`
//!    removed. **Job abort** ([`TextOutput::abort_job`], on failure): `_temporary` is removed
//!    and no `_SUCCESS` is written; parts already committed stay, as in Hadoop.
//!
//! A reader that waits for `_SUCCESS` sees every part of a job, once. During a
//! job a reader of the directory (or prefix) sees committed parts appear one by
//! one, each whole, and never an attempt's part under `DIR/part-*`.

use std::path::Path;

use spindle_proto::ids::StageId;
use spindle_proto::{Compression, LineLayout, TableFormat, TableWrite};
use spindle_store::Object;

use crate::DriverError;
use crate::access::DataAccess;

const TEMPORARY: &str = "_temporary";
const SUCCESS: &str = "_SUCCESS";

/// Refuses an existing output (as Spark does) and one the application may not
/// write, then creates a host directory; returns the output to write.
pub async fn prepare_job(
    path: &str,
    access: &DataAccess,
    compression: Compression,
    table: Option<TableWrite>,
) -> Result<TextOutput, DriverError> {
    let Some(host) = spindle_store::host_path(path) else {
        if path.starts_with("http://") || path.starts_with("https://") {
            return Err(output_err(path, "HTTP URLs are for reading only: save to s3://, gs:// or az://"));
        }
        let dir = access.object(path)?;
        let exists = dir.any_under().await;
        let shown = dir.url();
        match exists {
            Ok(false) => {}
            Ok(true) => return Err(DriverError::OutputExists { path: shown }),
            Err(e) => return Err(DriverError::Output { path: shown, reason: e.to_string() }),
        }
        return Ok(TextOutput { dir: shown, store: Some(dir), compression, table, line_layout: None });
    };
    let abs = access.writable(Path::new(host))?;
    let shown = abs.display().to_string();
    if abs.exists() {
        return Err(DriverError::OutputExists { path: shown });
    }
    std::fs::create_dir_all(&abs).map_err(|e| DriverError::Output { path: shown.clone(), reason: e.to_string() })?;
    Ok(TextOutput { dir: shown, store: None, compression, table, line_layout: None })
}

/// A text output being written: its directory (made by [`prepare_job`]) or
/// prefix, and how its parts are compressed.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOutput {
    /// The output directory, absolute, or the output prefix's URL.
    pub dir: String,
    /// The prefix in its store, for an object store's output.
    store: Option<Object>,
    /// How each part is compressed (its name gains the codec's extension).
    pub compression: Compression,
    /// Set: records are rows, written as a table (CSV, JSON lines, Parquet).
    pub table: Option<TableWrite>,
    /// Set: the host formats each record as a line (`save-as-lines`).
    pub line_layout: Option<LineLayout>,
}

fn output_err(path: impl Into<String>, reason: impl std::fmt::Display) -> DriverError {
    DriverError::Output { path: path.into(), reason: reason.to_string() }
}

impl TextOutput {
    /// The committed name of partition `partition`'s part.
    fn part_name(&self, partition: u32) -> String {
        let format = match self.table.as_ref().map(TableWrite::format) {
            None => "",
            Some(TableFormat::Csv) => ".csv",
            Some(TableFormat::JsonLines) => ".json",
            // Parquet compresses its pages: the file itself is not.
            Some(TableFormat::Parquet) => return format!("part-{partition:05}.parquet"),
        };
        let ext = match self.compression {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
            Compression::Bzip2 => ".bz2",
        };
        format!("part-{partition:05}{format}{ext}")
    }

    /// `DIR/name` as an object of the output's store.
    fn object(&self, store: &Object, name: &str) -> Object {
        let mut path = store.path.clone();
        for part in name.split('/') {
            path = path.join(part);
        }
        store.at(path)
    }

    /// Where attempt `attempt` of `partition` writes its part: a host path or a URL.
    pub fn attempt_path(&self, stage: StageId, partition: u32, attempt: u32) -> String {
        let name = format!("{TEMPORARY}/{stage}-{partition}-{attempt}/{}", self.part_name(partition));
        match &self.store {
            Some(store) => self.object(store, &name).url(),
            None => Path::new(&self.dir).join(name).display().to_string(),
        }
    }

    /// Makes the directory an attempt writes its part into (an object store
    /// needs none).
    pub fn prepare_attempt(&self, stage: StageId, partition: u32, attempt: u32) -> Result<(), DriverError> {
        if self.store.is_some() {
            return Ok(());
        }
        let path = self.attempt_path(stage, partition, attempt);
        let parent = Path::new(&path).parent().expect("attempt parts live in a directory");
        std::fs::create_dir_all(parent).map_err(|e| output_err(parent.display().to_string(), e))
    }

    /// Moves one successful attempt's part into place: exactly one attempt's
    /// output becomes `part-NNNNN` (the caller runs this once per partition).
    pub async fn commit_attempt(&self, stage: StageId, partition: u32, attempt: u32) -> Result<(), DriverError> {
        let from = self.attempt_path(stage, partition, attempt);
        if let Some(store) = &self.store {
            let name = format!("{TEMPORARY}/{stage}-{partition}-{attempt}/{}", self.part_name(partition));
            let to = self.object(store, &self.part_name(partition));
            return self
                .object(store, &name)
                .move_to(&to)
                .await
                .map_err(|e| output_err(to.url(), format!("committing {from}: {e}")));
        }
        let to = Path::new(&self.dir).join(self.part_name(partition));
        std::fs::rename(&from, &to).map_err(|e| output_err(to.display().to_string(), format!("committing {from}: {e}")))
    }

    /// Marks a finished job's output complete (`_SUCCESS`) and removes what its
    /// attempts left in `_temporary`.
    pub async fn commit_job(&self) -> Result<(), DriverError> {
        if let Some(store) = &self.store {
            let success = self.object(store, SUCCESS);
            success.put(bytes::Bytes::new()).await.map_err(|e| output_err(&self.dir, e))?;
            self.abort_job().await;
            return Ok(());
        }
        let dir = Path::new(&self.dir);
        std::fs::write(dir.join(SUCCESS), b"").map_err(|e| output_err(&self.dir, e))?;
        let _ = std::fs::remove_dir_all(dir.join(TEMPORARY));
        Ok(())
    }

    /// Removes a failed job's attempt files; committed parts stay, with no
    /// `_SUCCESS`. Safe to call more than once.
    pub async fn abort_job(&self) {
        if let Some(store) = &self.store {
            let temporary = self.object(store, TEMPORARY);
            if let Err(e) = temporary.delete_all().await {
                tracing::warn!(output = %self.dir, error = %e, "could not remove the attempts' parts");
            }
            return;
        }
        let _ = std::fs::remove_dir_all(Path::new(&self.dir).join(TEMPORARY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_attempt_per_partition_is_committed_and_a_failed_job_leaves_no_attempts() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let access = DataAccess::default();
        let output = prepare_job(out.to_str().unwrap(), &access, Compression::None, None).await.unwrap();
        assert!(
            prepare_job(&output.dir, &access, Compression::None, None).await.is_err(),
            "an existing directory is refused"
        );
        for attempt in [0, 1] {
            output.prepare_attempt(StageId(3), 7, attempt).unwrap();
            std::fs::write(output.attempt_path(StageId(3), 7, attempt), format!("attempt {attempt}\n")).unwrap();
        }
        output.commit_attempt(StageId(3), 7, 1).await.unwrap();
        assert_eq!(std::fs::read_to_string(out.join("part-00007")).unwrap(), "attempt 1\n");
        output.abort_job().await;
        assert!(!out.join(TEMPORARY).exists() && !out.join(SUCCESS).exists());
        output.commit_job().await.unwrap();
        assert!(out.join(SUCCESS).exists());
        let web = prepare_job("https://example.com/out", &access, Compression::None, None).await.unwrap_err();
        assert!(web.to_string().contains("for reading only"), "{web}");
        let zst = TextOutput { compression: Compression::Zstd, ..output.clone() };
        assert!(zst.attempt_path(StageId(1), 2, 0).ends_with("/_temporary/1-2-0/part-00002.zst"));
        let table = |format: TableFormat| Some(TableWrite { format: format as i32, ..Default::default() });
        let csv = TextOutput { compression: Compression::Gzip, table: table(TableFormat::Csv), ..output.clone() };
        assert!(csv.attempt_path(StageId(1), 2, 0).ends_with("/part-00002.csv.gz"));
        let parquet = TextOutput { table: table(TableFormat::Parquet), ..zst };
        assert!(parquet.attempt_path(StageId(1), 2, 0).ends_with("/part-00002.parquet"));
    }
}
