//! A guest's stdout or stderr, captured into a bounded buffer. Writes past the
//! bound are accepted and dropped (the guest goes on), and the captured text ends
//! with a marker saying how much was cut.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

#[derive(Debug, Default)]
struct Inner {
    kept: Vec<u8>,
    dropped: u64,
}

/// One bounded output stream; clones share the buffer.
#[derive(Debug, Clone)]
pub struct BoundedOutput {
    capacity: usize,
    inner: Arc<Mutex<Inner>>,
}

impl BoundedOutput {
    /// Keeps up to `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        BoundedOutput { capacity, inner: Arc::default() }
    }

    fn push(&self, bytes: &[u8]) {
        let mut inner = self.inner.lock().expect("output lock");
        let room = self.capacity.saturating_sub(inner.kept.len());
        let kept = bytes.len().min(room);
        inner.kept.extend_from_slice(&bytes[..kept]);
        inner.dropped += (bytes.len() - kept) as u64;
    }

    /// What was captured; when output was cut, ends with a marker line.
    pub fn contents(&self) -> Vec<u8> {
        let inner = self.inner.lock().expect("output lock");
        let mut out = inner.kept.clone();
        if inner.dropped > 0 {
            if out.last().is_some_and(|b| *b != b'\n') {
                out.push(b'\n');
            }
            out.extend_from_slice(
                format!(
                    "[spindle: output cut at {}; {} more bytes dropped]\n",
                    crate::limits::bytes(self.capacity as u64),
                    inner.dropped
                )
                .as_bytes(),
            );
        }
        out
    }

    /// The kept bytes from `offset` on (no marker): what was written since a
    /// reader last saw `offset` bytes.
    pub fn kept_from(&self, offset: usize) -> Vec<u8> {
        let inner = self.inner.lock().expect("output lock");
        inner.kept.get(offset..).map(<[u8]>::to_vec).unwrap_or_default()
    }

    /// Bytes written past the bound.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().expect("output lock").dropped
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for BoundedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always ready: writes past the bound are dropped, never refused.
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BoundedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for BoundedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for BoundedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_start_and_marks_the_cut() {
        let out = BoundedOutput::new(10);
        out.push(b"hello ");
        assert_eq!(out.contents(), b"hello ");
        out.push(b"world, and more");
        assert_eq!(out.dropped(), 11);
        let text = String::from_utf8(out.contents()).unwrap();
        assert!(text.starts_with("hello worl\n[spindle: output cut at 10 B; 11 more bytes dropped]"), "{text}");
    }
}
