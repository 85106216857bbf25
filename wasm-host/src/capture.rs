//! Bounded capture of a guest's stdout or stderr: keeps the last N bytes and counts the rest, so a
//! guest that floods its output costs the host at most N bytes and never fails because of it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::record::Captured;

/// How much the guest may hand over per write; the buffer accepts any amount.
const WRITE_BUDGET: usize = 1 << 20;

/// A stdout/stderr sink shared between the WASI context and the host; clones share the buffer.
#[derive(Debug, Clone)]
pub(crate) struct TailPipe {
    inner: Arc<Mutex<Tail>>,
}

#[derive(Debug)]
struct Tail {
    capacity: usize,
    bytes: VecDeque<u8>,
    total: u64,
}

impl TailPipe {
    /// A sink keeping the last `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Tail {
                capacity,
                bytes: VecDeque::new(),
                total: 0,
            })),
        }
    }

    /// Appends `data`, dropping the oldest bytes beyond the capacity.
    pub(crate) fn push(&self, data: &[u8]) {
        let mut tail = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        tail.total += data.len() as u64;
        let capacity = tail.capacity;
        let keep = &data[data.len().saturating_sub(capacity)..];
        let overflow = (tail.bytes.len() + keep.len()).saturating_sub(capacity);
        tail.bytes.drain(..overflow);
        tail.bytes.extend(keep);
    }

    /// What was captured so far.
    pub(crate) fn captured(&self) -> Captured {
        let tail = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes: Vec<u8> = tail.bytes.iter().copied().collect();
        Captured {
            dropped_bytes: tail.total - bytes.len() as u64,
            total_bytes: tail.total,
            tail: bytes,
        }
    }
}

impl IsTerminal for TailPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TailPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for TailPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for TailPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

impl tokio::io::AsyncWrite for TailPipe {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_capacity() {
        let pipe = TailPipe::new(8);
        pipe.push(b"abc");
        pipe.push(b"de");
        let got = pipe.captured();
        assert_eq!(got.tail, b"abcde");
        assert_eq!((got.total_bytes, got.dropped_bytes), (5, 0));
    }

    #[test]
    fn keeps_the_last_bytes_when_small_writes_overflow() {
        let pipe = TailPipe::new(4);
        pipe.push(b"abc");
        pipe.push(b"def");
        let got = pipe.captured();
        assert_eq!(got.tail, b"cdef");
        assert_eq!((got.total_bytes, got.dropped_bytes), (6, 2));
    }

    #[test]
    fn keeps_the_end_of_one_write_larger_than_capacity() {
        let pipe = TailPipe::new(4);
        pipe.push(b"xy");
        pipe.push(b"0123456789");
        let got = pipe.captured();
        assert_eq!(got.tail, b"6789");
        assert_eq!((got.total_bytes, got.dropped_bytes), (12, 8));
    }

    #[test]
    fn zero_capacity_keeps_nothing_but_counts() {
        let pipe = TailPipe::new(0);
        pipe.push(b"abc");
        let got = pipe.captured();
        assert!(got.tail.is_empty());
        assert_eq!((got.total_bytes, got.dropped_bytes), (3, 3));
    }
}
