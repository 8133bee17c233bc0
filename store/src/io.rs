//! Streamed reads and writes of objects.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::{GetOptions, GetRange, ObjectStoreExt};
use tokio::io::{AsyncBufRead, AsyncRead};

use crate::{Object, StoreError};

/// How an object's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Not compressed.
    None,
    /// gzip (members one after another are one stream, as `gzip -dc` reads them).
    Gzip,
    /// Zstandard (frames one after another too).
    Zstd,
    /// bzip2 (streams one after another too).
    Bzip2,
}

/// `input` decompressed by `codec`.
pub fn decoder(input: impl AsyncBufRead + Send + 'static, codec: Codec) -> Pin<Box<dyn AsyncRead + Send>> {
    use async_compression::tokio::bufread::{BzDecoder, GzipDecoder, ZstdDecoder};
    match codec {
        Codec::None => Box::pin(input),
        Codec::Gzip => {
            let mut d = GzipDecoder::new(input);
            d.multiple_members(true);
            Box::pin(d)
        }
        Codec::Zstd => {
            let mut d = ZstdDecoder::new(input);
            d.multiple_members(true);
            Box::pin(d)
        }
        Codec::Bzip2 => {
            let mut d = BzDecoder::new(input);
            d.multiple_members(true);
            Box::pin(d)
        }
    }
}

impl Object {
    /// The object's bytes from `offset` to its end, streamed as they arrive
    /// (one ranged GET; dropping the reader ends it). Each byte received is
    /// counted in `received`, so that an error found later can say where.
    pub async fn reader(
        &self,
        offset: u64,
        received: Arc<AtomicU64>,
    ) -> Result<impl AsyncBufRead + Send + use<>, StoreError> {
        let options = GetOptions { range: (offset > 0).then_some(GetRange::Offset(offset)), ..Default::default() };
        let got = self.store().get_opts(&self.path, options).await.map_err(|e| self.error(e))?;
        let url = self.url();
        let stream = got
            .into_stream()
            .inspect_ok(move |chunk| {
                received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            })
            .map_err(move |e| std::io::Error::other(format!("reading {url}: {e}")))
            .boxed();
        Ok(tokio_util::io::StreamReader::new(stream))
    }

    /// A writer of the object: buffered, uploaded in parts once it passes the
    /// buffer's size, and visible only when shut down (a writer dropped or
    /// aborted before leaves no object).
    pub fn writer(&self) -> BufWriter {
        BufWriter::with_capacity(self.store().clone(), self.path.clone(), 8 << 20)
    }

    /// Writes `bytes` as the whole object.
    pub async fn put(&self, bytes: impl Into<bytes::Bytes>) -> Result<(), StoreError> {
        self.store().put(&self.path, bytes.into().into()).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The object's size.
    pub async fn size(&self) -> Result<u64, StoreError> {
        Ok(self.store().head(&self.path).await.map_err(|e| self.error(e))?.size)
    }

    /// Copies this object to `to` (in the same store), then deletes it.
    pub async fn move_to(&self, to: &Object) -> Result<(), StoreError> {
        self.store().copy(&self.path, &to.path).await.map_err(|e| to.error(e))?;
        self.store().delete(&self.path).await.map_err(|e| self.error(e))
    }

    /// Deletes every object under this prefix (a "directory").
    pub async fn delete_all(&self) -> Result<(), StoreError> {
        let prefix = self.path.clone();
        let listed = self.store().list(Some(&prefix)).map_ok(|m| m.location).boxed();
        let mut deleted = self.store().delete_stream(listed);
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        Ok(())
    }

    /// Whether any object lies under this prefix.
    pub async fn any_under(&self) -> Result<bool, StoreError> {
        let mut listed = self.store().list(Some(&self.path));
        match listed.next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.error(e)),
        }
    }
}
