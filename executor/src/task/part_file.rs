//! Where a text part's bytes go: a host file, written from a blocking thread
//! with the buffer handed over rather than copied (one write in flight while
//! the task makes the next chunk), or an object store's upload.

use std::io::Write;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;

/// A part being written, a chunk of about [`CHUNK`] bytes at a time.
pub enum PartFile {
    /// A host file: `file` when no write is in flight, or the write that holds it.
    Host { file: Option<std::fs::File>, writing: Option<JoinHandle<std::io::Result<std::fs::File>>> },
    /// An object's upload (completed when finished; until then it does not exist).
    Upload(Box<dyn AsyncWrite + Unpin + Send>),
}

/// Text is gathered into chunks of this size before it is written.
pub const CHUNK: usize = 1 << 20;

impl PartFile {
    /// Writes `bytes` (in order after everything written before).
    pub async fn write(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self {
            PartFile::Host { file, writing } => {
                let mut f = match writing.take() {
                    Some(w) => joined(w).await?,
                    None => file.take().expect("the file is here when no write holds it"),
                };
                *writing = Some(tokio::task::spawn_blocking(move || {
                    f.write_all(&bytes)?;
                    Ok(f)
                }));
                Ok(())
            }
            PartFile::Upload(w) => w.write_all(&bytes).await,
        }
    }

    /// The part as an async writer, for a writer of its own (Parquet's), before
    /// anything was written: a host file behind a [`CHUNK`] buffer.
    pub fn into_writer(self) -> Box<dyn AsyncWrite + Unpin + Send> {
        match self {
            PartFile::Host { file, .. } => Box::new(tokio::io::BufWriter::with_capacity(
                CHUNK,
                tokio::fs::File::from_std(file.expect("nothing written yet")),
            )),
            PartFile::Upload(upload) => upload,
        }
    }

    /// Waits for the last write and closes the file, or completes the upload.
    /// Flushed, not fsynced (as Hadoop's local file system): the commit is the
    /// driver's rename, which makes the part visible atomically.
    pub async fn finish(self) -> std::io::Result<()> {
        match self {
            PartFile::Host { writing: Some(w), .. } => joined(w).await.map(drop),
            PartFile::Host { writing: None, .. } => Ok(()),
            PartFile::Upload(mut w) => w.shutdown().await,
        }
    }
}

async fn joined(w: JoinHandle<std::io::Result<std::fs::File>>) -> std::io::Result<std::fs::File> {
    w.await.map_err(std::io::Error::other)?
}
