//! Captured stdout and stderr: bounded per callback, drained by the session after
//! each callback and shown with the program's id.

use super::fault::{Fault, LimitKind};
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// What a program printed during one callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedOutput {
    /// Bytes written to stdout.
    pub stdout: Vec<u8>,
    /// Bytes written to stderr.
    pub stderr: Vec<u8>,
    /// What the host did on the program's behalf (links opened, cards shared, …).
    pub notices: Vec<Notice>,
}

/// Something the host did for a program, for the person watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The capability that acted.
    pub capability: String,
    /// What happened.
    pub message: String,
}

impl CapturedOutput {
    /// Whether nothing was printed.
    pub fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.stderr.is_empty() && self.notices.is_empty()
    }

    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Shared buffers behind a program's stdout and stderr.
#[derive(Clone)]
pub struct OutputCapture {
    inner: Arc<Mutex<Buffers>>,
}

struct Buffers {
    captured: CapturedOutput,
    used: u64,
    limit: u64,
    fault: Option<Fault>,
}

#[derive(Clone, Copy)]
enum Which {
    Stdout,
    Stderr,
}

impl OutputCapture {
    /// Buffers allowing `limit` bytes (stdout and stderr together) per callback.
    pub fn new(limit: u64) -> OutputCapture {
        OutputCapture {
            inner: Arc::new(Mutex::new(Buffers { captured: CapturedOutput::default(), used: 0, limit, fault: None })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffers> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn stdout(&self) -> CaptureStream {
        CaptureStream { capture: self.clone(), which: Which::Stdout }
    }

    pub(crate) fn stderr(&self) -> CaptureStream {
        CaptureStream { capture: self.clone(), which: Which::Stderr }
    }

    /// Resets the per-callback allowance.
    pub(crate) fn begin_callback(&self) {
        self.lock().used = 0;
    }

    /// Takes what was printed so far.
    pub fn drain(&self) -> CapturedOutput {
        std::mem::take(&mut self.lock().captured)
    }

    /// Records what the host did for the program; notices do not count against the
    /// program's output limit.
    pub fn notice(&self, capability: &str, message: String) {
        self.lock().captured.notices.push(Notice { capability: capability.to_string(), message });
    }

    pub(super) fn take_fault(&self) -> Option<Fault> {
        self.lock().fault.take()
    }

    fn write(&self, which: Which, bytes: &[u8]) -> Result<(), Fault> {
        let mut buffers = self.lock();
        let len = bytes.len() as u64;
        if buffers.used.saturating_add(len) > buffers.limit {
            // Keep what fits so the developer sees the output that led up to the flood.
            let room = usize::try_from(buffers.limit - buffers.used).unwrap_or(0).min(bytes.len());
            buffers.append(which, &bytes[..room]);
            buffers.used = buffers.limit;
            let fault = Fault::limit(LimitKind::OutputBytes, buffers.limit);
            buffers.fault.get_or_insert(fault.clone());
            return Err(fault);
        }
        buffers.used += len;
        buffers.append(which, bytes);
        Ok(())
    }
}

impl Buffers {
    fn append(&mut self, which: Which, bytes: &[u8]) {
        match which {
            Which::Stdout => self.captured.stdout.extend_from_slice(bytes),
            Which::Stderr => self.captured.stderr.extend_from_slice(bytes),
        }
    }
}

/// One of a program's output streams, as WASI sees it.
pub(crate) struct CaptureStream {
    capture: OutputCapture,
    which: Which,
}

impl IsTerminal for CaptureStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CaptureStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(CaptureStream { capture: self.capture.clone(), which: self.which })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(CaptureStream { capture: self.capture.clone(), which: self.which })
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CaptureStream {
    async fn ready(&mut self) {}
}

impl OutputStream for CaptureStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.capture.write(self.which, &bytes).map_err(|fault| StreamError::Trap(wasmtime::Error::new(fault)))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CaptureStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.capture
                .write(self.which, buf)
                .map(|()| buf.len())
                .map_err(|fault| io::Error::other(fault.to_string())),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
